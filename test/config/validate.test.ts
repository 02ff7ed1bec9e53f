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
    expect(r.errors).toContain('sampling.intervalMs: must be >= 100');
    expect(r.errors).toContain('reporting.format: must be one of "json", "cbor"');
    expect(r.errors).toContain('reporting.intervalSeconds: must be >= 300');
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

  it('runs module checks only on a schema-valid configuration', () => {
    let called = 0;
    const check = () => {
      called++;
      return ['behaviors[0].name: is required'];
    };
    expect(validateConfig({ logLevel: 'loud' }, [check]).ok).toBe(false);
    expect(called).toBe(0);
    const r = validateConfig({}, [check]);
    expect(r).toEqual({ ok: false, errors: ['behaviors[0].name: is required'] });
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
