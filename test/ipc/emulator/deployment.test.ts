import { describe, expect, it } from 'vitest';
import { applyConfigurationUpdate, parseDeployment, parseJsonPointer } from '../../../src/ipc/emulator/deployment.ts';

describe('deployment documents', () => {
  it('reads create-deployment input: components with version, merge (a JSON string) and reset pointers', () => {
    const p = parseDeployment({
      targetArn: 'arn:aws:iot:eu-west-1:123456789012:thing/gw1',
      deploymentName: 'd',
      components: {
        'com.example.C': { componentVersion: '1.2.3', configurationUpdate: { merge: '{"a":{"b":1}}', reset: ['/x', '', '/a~1b/c~0d'] } },
        'aws.greengrass.clientdevices.IPDetector': { componentVersion: '2.2.0' },
      },
      deploymentPolicies: { configurationValidationPolicy: { timeoutInSeconds: 5 } },
    });
    expect(p).toEqual({
      ok: true,
      document: {
        name: 'd',
        validationTimeoutMs: 5000,
        components: [
          {
            name: 'com.example.C',
            version: '1.2.3',
            hasConfigurationUpdate: true,
            merge: { a: { b: 1 } },
            reset: [['x'], [], ['a/b', 'c~d']],
          },
          { name: 'aws.greengrass.clientdevices.IPDetector', version: '2.2.0', hasConfigurationUpdate: false },
        ],
      },
    });
  });

  it('names every bad field', () => {
    const p = parseDeployment({
      components: {
        a: { componentVersion: 1, configurationUpdate: { merge: { x: 1 } } },
        b: { componentVersion: '1.0.0', configurationUpdate: { merge: '{oops', reset: ['x'] } },
        c: { componentVersion: '1.0.0', configurationUpdate: { merge: '[1]', extra: 1 }, other: 2 },
      },
      unknown: true,
    });
    expect(p.ok).toBe(false);
    expect(!p.ok && p.errors).toEqual([
      expect.stringMatching(/^unknown: unknown key of a deployment/),
      'components.a.componentVersion: required, a version such as "1.0.0", not 1',
      'components.a.configurationUpdate.merge: must be a string holding a JSON object (the API takes it serialized)',
      expect.stringMatching(/^components\.b\.configurationUpdate\.merge: invalid JSON: /),
      'components.b.configurationUpdate.reset[0]: "x" is not a JSON pointer ("" or "/key/…")',
      'components.c.other: unknown key (expected componentVersion, configurationUpdate, runWith)',
      'components.c.configurationUpdate.extra: unknown key (expected merge, reset)',
      'components.c.configurationUpdate.merge: must hold a JSON object, not [1]',
    ]);
    expect(parseDeployment('{')).toEqual({ ok: false, errors: [expect.stringMatching(/^deployment: invalid JSON/)] });
    expect(parseDeployment({ components: {} })).toMatchObject({ ok: false, errors: [expect.stringMatching(/^components: required/)] });
  });

  it('JSON pointers', () => {
    expect(parseJsonPointer('')).toEqual([]);
    expect(parseJsonPointer('/')).toEqual(['']);
    expect(parseJsonPointer('/a/0')).toEqual(['a', '0']);
    expect(parseJsonPointer('a')).toBeNull();
    expect(parseJsonPointer('/a~2')).toBeNull();
  });

  it('reset first (to the default, or removed), then merge; lists are replaced, never reset per element', () => {
    const defaults = { a: 1, b: { c: 2, d: [1, 2] }, e: 'x' };
    const current = { a: 5, b: { c: 9, d: [7], extra: true }, e: 'y', added: 1 };
    const r = applyConfigurationUpdate(
      current,
      defaults,
      { reset: [['a'], ['b', 'extra'], ['added']], merge: { e: 'z', b: { d: [3] } } },
      'p',
    );
    expect(r).toEqual({ ok: true, config: { a: 1, b: { c: 9, d: [3] }, e: 'z' } });
    expect(applyConfigurationUpdate(current, defaults, { reset: [[]] }, 'p')).toEqual({ ok: true, config: defaults });
    expect(applyConfigurationUpdate(current, defaults, { reset: [['b', 'd', '0']] }, 'p')).toEqual({
      ok: false,
      error: 'p.reset: /b/d/0 points into a list; lists reset as a whole',
    });
  });
});
