import { describe, expect, it } from 'vitest';
import { LITE_MAX_SUBOBJECTS, liteDepth, liteSubobjectCount } from '../../../src/config/liteLimits.ts';
import {
  DEPTH_EXCEEDED,
  liteConfigProblem,
  numbersAsStrings,
  objectLimitProblem,
  SUBOBJECTS_EXCEEDED,
} from '../../../src/ipc/emulator/liteLimits.ts';

/** An object of `n` entries whose values are scalars: 2n sub-objects. */
const mapOf = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));

// How lite counts is tested with the counters themselves (test/config/liteLimits.test.ts); here, what the
// emulator answers when a limit is passed.
describe('lite object limits', () => {
  it('255 sub-objects fit, 256 do not ("Visited object\'s subobjects exceeds maximum.")', () => {
    // 127 entries (254) + a list of 1 (1) = 255
    const fits = { ...mapOf(126), last: [1] };
    expect(liteSubobjectCount(fits)).toBe(LITE_MAX_SUBOBJECTS);
    expect(objectLimitProblem(fits)).toBeNull();
    const over = { ...mapOf(126), last: [1, 2] };
    expect(liteSubobjectCount(over)).toBe(256);
    expect(objectLimitProblem(over)).toBe(SUBOBJECTS_EXCEEDED);
    expect(objectLimitProblem(mapOf(128))).toBe(SUBOBJECTS_EXCEEDED);
    expect(objectLimitProblem(Array.from({ length: 256 }, () => 0))).toBe(SUBOBJECTS_EXCEEDED);
  });

  it('14 levels of nesting fit, 15 do not ("Visited object\'s depth exceeds maximum.")', () => {
    let v: unknown = 1;
    for (let i = 0; i < 14; i++) v = [v];
    expect(liteDepth(v)).toBe(14);
    expect(objectLimitProblem(v)).toBeNull();
    expect(liteDepth([v])).toBe(15);
    expect(objectLimitProblem([v])).toBe(DEPTH_EXCEEDED);
  });

  it('a configuration must also fit 10,000 bytes of JSON; the refusal names the limit and the counts', () => {
    expect(liteConfigProblem({ s: 'x'.repeat(9000) })).toBeNull();
    expect(liteConfigProblem({ s: 'x'.repeat(10_000) })).toMatch(/^10008 bytes of JSON exceed lite's 10000-byte core-bus message limit$/);
    expect(liteConfigProblem(mapOf(200))).toBe(
      "Visited object's subobjects exceeds maximum. (lite allows 255 sub-objects — a map entry counts 2, a list element 1 — " +
        'nested at most 14 levels; this has 400, nested 1)',
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
