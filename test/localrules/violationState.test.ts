import { describe, expect, it } from 'vitest';
import type { Verdict } from '../../src/localrules/criterion.ts';
import { newCounters, step } from '../../src/localrules/violationState.ts';

function run(verdicts: Verdict[], toAlarm: number, toClear: number): (string | undefined)[] {
  const s = newCounters();
  return verdicts.map((v) => step(s, v, toAlarm, toClear));
}

const repeat = (v: Verdict, n: number): Verdict[] => Array.from({ length: n }, () => v);

describe('violation state machine', () => {
  for (let n = 1; n <= 10; n++) {
    it(`alarms on exactly the ${n}th consecutive violating datapoint and clears on the ${n}th normal one`, () => {
      const t = run([...repeat('violating', n), ...repeat('normal', n)], n, n);
      expect(t.indexOf('in-alarm')).toBe(n - 1);
      expect(t.filter((x) => x === 'in-alarm')).toHaveLength(1);
      expect(t.lastIndexOf('alarm-cleared')).toBe(2 * n - 1);
      expect(t.filter((x) => x !== undefined)).toHaveLength(2);
      if (n > 1) {
        // n-1 violating then a normal one: the count starts over.
        expect(run([...repeat('violating', n - 1), 'normal', ...repeat('violating', n - 1)], n, n).every((x) => x === undefined)).toBe(
          true,
        );
      }
    });
  }

  it('while in alarm a violating datapoint resets the clear count; one violation at a time', () => {
    expect(run(['violating', 'normal', 'violating', 'normal', 'normal', 'violating'], 1, 2)).toEqual([
      'in-alarm',
      undefined,
      undefined,
      undefined,
      'alarm-cleared',
      'in-alarm',
    ]);
    expect(run(['violating', 'violating', 'violating'], 1, 1)).toEqual(['in-alarm', undefined, undefined]);
  });

  it('an empty list clears at once even with consecutiveDatapointsToClear 5, and counts as normal before an alarm', () => {
    expect(run(['violating', 'empty'], 1, 5)).toEqual(['in-alarm', 'alarm-cleared']);
    expect(run(['violating', 'empty', 'violating'], 2, 1)).toEqual([undefined, undefined, undefined]);
  });

  it('a skipped datapoint changes nothing', () => {
    expect(run(['violating', 'skip', 'violating'], 2, 1)).toEqual([undefined, undefined, 'in-alarm']);
  });
});
