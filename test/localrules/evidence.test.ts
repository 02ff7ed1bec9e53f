// What an in-alarm was judged on, read from the evaluator right after it raised the event: the window's
// datapoints (bounded), or the violating datapoints counted towards consecutiveDatapointsToAlarm.
import { describe, expect, it } from 'vitest';
import { parseBehaviors } from '../../src/localrules/behaviors.ts';
import type { Offender } from '../../src/localrules/contracts.ts';
import { type Datapoint, Evaluator, MAX_EVIDENCE_POINTS, MemoryThingStates } from '../../src/localrules/evaluator.ts';
import { compileProfile } from '../../src/localrules/profile.ts';

function profileOf(behaviors: unknown[]) {
  const r = parseBehaviors(behaviors);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return compileProfile(r.value);
}

const host: Offender = { kind: 'host' };
const dp = (t: number, value: number, metric = 'aws:all-bytes-out'): Datapoint => ({
  t,
  thing: 'gw',
  metric,
  value: { count: value },
  subject: host,
  intervalMs: 1000,
});

describe('violation evidence', () => {
  it('a windowed behavior: the window that crossed the threshold, datapoint by datapoint', () => {
    const e = new Evaluator(
      profileOf([
        {
          name: 'bytesOut',
          metric: 'aws:all-bytes-out',
          criteria: { comparisonOperator: 'less-than', value: { count: 1000 }, durationSeconds: 300 },
        },
      ]),
      new MemoryThingStates(),
    );
    const events = e.evaluate([dp(1000, 100), dp(2000, 400), dp(3000, 600)]);
    expect(events.map((x) => x.event)).toEqual(['in-alarm']);
    expect(e.evidenceFor(events[0]!)).toEqual({
      judged: 'window-sum',
      windowMs: 300_000,
      consecutiveDatapointsToAlarm: 1,
      points: [
        [1000, 100],
        [2000, 400],
        [3000, 600],
      ],
    });
  });

  it('is bounded: a long window is summed into at most MAX_EVIDENCE_POINTS points, the total kept', () => {
    const e = new Evaluator(
      profileOf([
        {
          name: 'b',
          metric: 'aws:all-bytes-out',
          criteria: { comparisonOperator: 'less-than', value: { count: 1_000_000 }, durationSeconds: 3600 },
        },
      ]),
      new MemoryThingStates(),
    );
    const points = Array.from({ length: 1000 }, (_, i) => dp(1000 * (i + 1), i === 999 ? 1_000_000 : 1));
    const [ev] = e.evaluate(points);
    const evidence = e.evidenceFor(ev!)!;
    expect(evidence.points.length).toBeLessThanOrEqual(MAX_EVIDENCE_POINTS);
    expect(evidence.mergedBy).toBe(4);
    expect(evidence.points.reduce((a, [, v]) => a + v, 0)).toBe(999 + 1_000_000);
  });

  it('without a window: the consecutive violating datapoints that raised the alarm', () => {
    const e = new Evaluator(
      profileOf([
        {
          name: 'ports',
          metric: 'aws:num-listening-tcp-ports',
          criteria: { comparisonOperator: 'less-than-equals', value: { count: 3 }, consecutiveDatapointsToAlarm: 3 },
        },
      ]),
      new MemoryThingStates(),
    );
    const m = 'aws:num-listening-tcp-ports';
    const events = e.evaluate([dp(1, 5, m), dp(2, 1, m), dp(3, 6, m), dp(4, 7, m), dp(5, 8, m)]);
    expect(events.map((x) => x.event)).toEqual(['in-alarm']);
    expect(e.evidenceFor(events[0]!)).toEqual({
      judged: 'each',
      consecutiveDatapointsToAlarm: 3,
      points: [
        [3, 6],
        [4, 7],
        [5, 8],
      ],
    });
  });
});
