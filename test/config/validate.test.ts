import { describe, expect, it } from 'vitest';
import { defaultConfig, jsonPointerToPath, validateConfig } from '../../src/config/validate.ts';

describe('component configuration', () => {
  it('fills every default from an empty object', () => {
    const c = defaultConfig();
    expect(c.sampling.intervalMs).toBe(1000);
    expect(c.reporting.intervalSeconds).toBe(300);
    expect(c.enforcement.mode).toBe('dry-run');
    expect(c.enforcement.protectedProcesses).toEqual(['sshd']);
  });

  it('names each bad field as path: message and reports them all', () => {
    const r = validateConfig({ sampling: { intervalMs: 5 }, typo: true, reporting: { format: 'xml', intervalSeconds: 60 } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toContain('typo: is not a known setting');
    expect(r.errors).toContain('sampling.intervalMs: must be >= 100, got number 5');
    expect(r.errors).toContain('reporting.format: must be one of "json", "cbor", got string "xml"');
    expect(r.errors).toContain('reporting.intervalSeconds: must be >= 300, got number 60');
  });

  it('points into arrays with indices', () => {
    const r = validateConfig({ downstream: { devices: [{ thingName: 'ok' }, { addresses: [] }] } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toContain("downstream.devices[1]: must have required property 'thingName'");
    expect(jsonPointerToPath('/a/0/b~1c')).toBe('a[0]["b/c"]'); // not a plain name: quoted
  });

  it('rejects a non-object without throwing and leaves the input untouched', () => {
    expect(validateConfig(null)).toEqual({ ok: false, errors: ['(root): must be an object'] });
    const raw = { sampling: {} };
    validateConfig(raw);
    expect(raw).toEqual({ sampling: {} });
  });

  it('runs module checks in the same pass, on the settings the schema did not refuse', () => {
    const check = () => ['behaviors[0].name: is required', 'logLevel: said twice'];
    // One deployment shows every error: the schema's and the modules', without saying one setting twice.
    expect(validateConfig({ logLevel: 'loud' }, [check])).toEqual({
      ok: false,
      errors: [
        'logLevel: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got string "loud"',
        'behaviors[0].name: is required',
      ],
    });
    // A check that throws on a shape the schema refused adds nothing (the schema already said it).
    const throwing = () => {
      throw new TypeError('cannot read');
    };
    expect(validateConfig({ logLevel: 'loud' }, [throwing])).toMatchObject({ ok: false, errors: [expect.stringMatching(/^logLevel: /)] });
    expect(validateConfig({}, [check])).toEqual({ ok: false, errors: ['behaviors[0].name: is required', 'logLevel: said twice'] });
  });

  it('names a number too large for JSON as out of range, not null', () => {
    const r = validateConfig(JSON.parse('{"sampling": {"intervalMs": 1e400}}'));
    expect(r).toEqual({ ok: false, errors: ['sampling.intervalMs: must be integer, got number Infinity (out of range)'] });
  });
});

describe('hostile nesting (found by fuzzing)', () => {
  it('refuses a configuration nested thousands deep with a path: message instead of overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 20_000; i++) deep = { a: deep };
    const r = validateConfig({ sampling: deep });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors[0]).toMatch(/^sampling(\.a)+: nests deeper than 32 levels$/);
  });
});
