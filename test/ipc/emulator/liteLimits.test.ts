import { describe, expect, it } from 'vitest';
import {
  DEPTH_EXCEEDED,
  LITE_MAX_SUBOBJECTS,
  liteConfigProblem,
  numbersAsStrings,
  objectDepth,
  objectLimitProblem,
  SUBOBJECTS_EXCEEDED,
  subobjectCount,
} from '../../../src/ipc/emulator/liteLimits.ts';

/** An object of `n` entries whose values are scalars: 2n sub-objects. */
const mapOf = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));

describe('lite object limits', () => {
  it('a map entry counts 2, a list element 1, scalars 0, summed through the nesting', () => {
    expect(subobjectCount(5)).toBe(0);
    expect(subobjectCount({ a: 1 })).toBe(2);
    expect(subobjectCount([1, 2, 3])).toBe(3);
    expect(subobjectCount({ a: [1, 2], b: { c: 'x' } })).toBe(2 * 2 + 2 + 2);
    expect(subobjectCount([{ a: 1 }, { b: 2 }])).toBe(2 + 2 + 2);
  });

  it('255 sub-objects fit, 256 do not ("Visited object\'s subobjects exceeds maximum.")', () => {
    // 127 entries (254) + a list of 1 (1) = 255
    const fits = { ...mapOf(126), last: [1] };
    expect(subobjectCount(fits)).toBe(LITE_MAX_SUBOBJECTS);
    expect(objectLimitProblem(fits)).toBeNull();
    const over = { ...mapOf(126), last: [1, 2] };
    expect(subobjectCount(over)).toBe(256);
    expect(objectLimitProblem(over)).toBe(SUBOBJECTS_EXCEEDED);
    expect(objectLimitProblem(mapOf(128))).toBe(SUBOBJECTS_EXCEEDED);
    expect(objectLimitProblem(Array.from({ length: 256 }, () => 0))).toBe(SUBOBJECTS_EXCEEDED);
  });

  it('depth 15 fits, 16 does not', () => {
    let v: unknown = 1;
    for (let i = 0; i < 14; i++) v = [v];
    expect(objectDepth(v)).toBe(15);
    expect(objectLimitProblem(v)).toBeNull();
    expect(objectDepth([v])).toBe(16);
    expect(objectLimitProblem([v])).toBe(DEPTH_EXCEEDED);
  });

  it('a configuration must also fit 10,000 bytes of JSON; the refusal names the limit and the counts', () => {
    expect(liteConfigProblem({ s: 'x'.repeat(9000) })).toBeNull();
    expect(liteConfigProblem({ s: 'x'.repeat(10_000) })).toMatch(/^10008 bytes of JSON exceed lite's 10000-byte core-bus message limit$/);
    expect(liteConfigProblem(mapOf(200))).toBe(
      "Visited object's subobjects exceeds maximum. (lite allows 255 sub-objects — a map entry counts 2, a list element 1 — " +
        'and depth 15; this has 400 and depth 2)',
    );
  });

  it('GetConfiguration hands numbers back as strings', () => {
    expect(numbersAsStrings({ a: 42, b: [1.5, 'x', true, null], c: { d: -3 } })).toEqual({
      a: '42',
      b: ['1.5', 'x', true, null],
      c: { d: '-3' },
    });
  });
});
