import { describe, expect, it } from 'vitest';
import { parseBehaviors } from '../../src/localrules/behaviors.ts';
import type { Offender, ViolationEvent } from '../../src/localrules/contracts.ts';
import {
  type Datapoint,
  defaultEvaluatorOptions,
  Evaluator,
  type EvaluatorOptions,
  MemoryThingStates,
} from '../../src/localrules/evaluator.ts';
import { compileProfile } from '../../src/localrules/profile.ts';

function profileOf(behaviors: unknown[]) {
  const r = parseBehaviors(behaviors);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return compileProfile(r.value);
}

function evaluatorFor(behaviors: unknown[], options: Partial<EvaluatorOptions> = {}) {
  const states = new MemoryThingStates();
  return { ev: new Evaluator(profileOf(behaviors), states, { ...defaultEvaluatorOptions(), ...options }), states };
}

const host: Offender = { kind: 'host' };
const device = (thingName: string): Offender => ({ kind: 'device', thingName, addresses: ['10.0.0.5'] });
const proc = (pid: number, comm = 'rogue'): Offender => ({ kind: 'process', pid, comm, startTime: pid * 10 });

function dp(t: number, metric: string, value: Datapoint['value'], subject: Offender = host, thing = 'gw'): Datapoint {
  return { t, thing, metric, value, subject, intervalMs: 1000 };
}

const bytesOut = {
  name: 'bytesOut',
  metric: 'aws:all-bytes-out',
  criteria: { comparisonOperator: 'less-than', value: { count: 10000 }, durationSeconds: 300 },
};

describe('evaluator: sliding windows of delta metrics', () => {
  it('fires "bytesOut < 10000 per 300 s" on the first sample where the last 300 s reach 10000, with all event fields', () => {
    const { ev } = evaluatorFor([{ ...bytesOut, edge: { action: { type: 'address-block', ttlSeconds: 60 } }, suppressAlerts: true }]);
    const events: ViolationEvent[] = [];
    // 1 s samples of 40 bytes: the sum reaches 10000 at the 250th sample (t = 250 s).
    for (let s = 1; s <= 260; s++)
      events.push(...ev.evaluate([dp(s * 1000, 'aws:all-bytes-out', { count: 40 }, device('sensor-1'), 'sensor-1')]));
    expect(events).toHaveLength(1);
    const e = events[0]!;
    expect(e).toMatchObject({
      thingName: 'sensor-1',
      behavior: 'bytesOut',
      metric: 'aws:all-bytes-out',
      event: 'in-alarm',
      t: 250_000,
      value: { count: 10000 },
      threshold: { count: 10000 },
      comparisonOperator: 'less-than',
      offender: device('sensor-1'),
      action: { type: 'address-block', ttlSeconds: 60 },
      suppressAlerts: true,
    });
    expect(e.violationId).toMatch(/^[a-zA-Z0-9-]{1,128}$/);
  });

  it('clears once the window slides below the threshold, with the same violationId', () => {
    const { ev } = evaluatorFor([bytesOut]);
    const events = [
      ...ev.evaluate([dp(1000, 'aws:all-bytes-out', { count: 20000 })]),
      ...ev.evaluate([dp(200_000, 'aws:all-bytes-out', { count: 0 })]), // still 20000 in the window
      ...ev.evaluate([dp(301_000, 'aws:all-bytes-out', { count: 0 })]), // the burst left the window
    ];
    expect(events.map((e) => [e.event, e.t, e.value])).toEqual([
      ['in-alarm', 1000, { count: 20000 }],
      ['alarm-cleared', 301_000, { count: 0 }],
    ]);
    expect(events[1]!.violationId).toBe(events[0]!.violationId);
  });

  it('without durationSeconds each sample is judged on its own', () => {
    const { ev } = evaluatorFor([{ ...bytesOut, criteria: { comparisonOperator: 'less-than', value: { count: 100 } } }]);
    expect(ev.evaluate([dp(1000, 'aws:all-bytes-out', { count: 99 }), dp(2000, 'aws:all-bytes-out', { count: 99 })])).toEqual([]);
    expect(ev.evaluate([dp(3000, 'aws:all-bytes-out', { count: 100 })]).map((e) => e.event)).toEqual(['in-alarm']);
  });

  it('does not judge a lower bound before the window is full', () => {
    const { ev } = evaluatorFor([
      {
        name: 'alive',
        metric: 'aws:num-messages-sent',
        criteria: { comparisonOperator: 'greater-than', value: { count: 0 }, durationSeconds: 300 },
      },
    ]);
    const events: ViolationEvent[] = [];
    for (let s = 1; s <= 310; s++) events.push(...ev.evaluate([dp(s * 1000, 'aws:num-messages-sent', { count: 0 }, device('d'), 'd')]));
    // The first sample covers (0, 1 s]; the window is full at t = 300 s.
    expect(events.map((e) => [e.event, e.t])).toEqual([['in-alarm', 300_000]]);
  });
});

describe('evaluator: subjects and scope', () => {
  const ports = {
    name: 'ports',
    metric: 'aws:listening-tcp-ports',
    criteria: { comparisonOperator: 'in-port-set', value: { ports: [22] } },
  };

  it('keeps separate state per process and names the offending process', () => {
    const { ev } = evaluatorFor([{ ...ports, edge: { scope: { processes: true }, action: { type: 'process-terminate' } } }]);
    const events = ev.evaluate([
      dp(1000, 'aws:listening-tcp-ports', { ports: [22] }, proc(100, 'sshd')),
      dp(1000, 'aws:listening-tcp-ports', { ports: [4444] }, proc(200, 'rogue')),
      dp(1000, 'aws:listening-tcp-ports', { ports: [4444] }, host),
    ]);
    expect(events).toHaveLength(1);
    expect(events[0]!.offender).toEqual(proc(200, 'rogue'));
    expect(events[0]!.action).toEqual({ type: 'process-terminate' });
  });

  it('applies the default scope to host and devices, not processes; things names devices', () => {
    const { ev } = evaluatorFor([ports, { ...ports, name: 'onlyCam', edge: { scope: { things: ['cam-1'] } } }]);
    const events = ev.evaluate([
      dp(1000, 'aws:listening-tcp-ports', { ports: [80] }, proc(1)),
      dp(1000, 'aws:listening-tcp-ports', { ports: [80] }, host),
      dp(1000, 'aws:listening-tcp-ports', { ports: [80] }, device('cam-1'), 'cam-1'),
      dp(1000, 'aws:listening-tcp-ports', { ports: [80] }, device('cam-2'), 'cam-2'),
    ]);
    expect(events.map((e) => `${e.behavior}:${e.thingName}:${e.offender.kind}`)).toEqual([
      'ports:gw:host',
      'ports:cam-1:device',
      'onlyCam:cam-1:device',
      'ports:cam-2:device',
    ]);
  });

  it('uses a per-thing override of the threshold', () => {
    const { ev } = evaluatorFor([
      {
        ...bytesOut,
        criteria: { comparisonOperator: 'less-than', value: { count: 100 } },
        edge: { thingOverrides: { 'camera-hd': { count: 1_000_000 } } },
      },
    ]);
    const events = ev.evaluate([
      dp(1000, 'aws:all-bytes-out', { count: 5000 }, device('camera-hd'), 'camera-hd'),
      dp(1000, 'aws:all-bytes-out', { count: 5000 }, device('sensor'), 'sensor'),
    ]);
    expect(events.map((e) => [e.thingName, e.threshold])).toEqual([['sensor', { count: 100 }]]);
  });

  it('ignores datapoints of another value container and metrics no behavior names', () => {
    const { ev } = evaluatorFor([
      { name: 'temp', metric: 'temperature', criteria: { comparisonOperator: 'less-than', value: { number: 80 } } },
    ]);
    expect(ev.evaluate([dp(1000, 'temperature', { strings: ['hot'] }), dp(1000, 'humidity', { number: 1000 })])).toEqual([]);
    expect(ev.evaluations).toBe(1);
    expect(ev.evaluate([dp(2000, 'temperature', { number: 80 })]).map((e) => e.event)).toEqual(['in-alarm']);
  });
});

describe("evaluator: statistical thresholds over the thing's own history", () => {
  const stat = { windowMs: 100_000, maxSamples: 100, minSamples: 10 };
  const spike = {
    name: 'msgSize',
    metric: 'aws:message-byte-size',
    criteria: { comparisonOperator: 'less-than-equals', statisticalThreshold: { statistic: 'p90' } },
  };

  it("judges nothing until minSamples, then alarms above the thing's own p90", () => {
    const { ev } = evaluatorFor([spike], { statistics: stat });
    const events: ViolationEvent[] = [];
    // Ten warm-up samples of 100..109 bytes (one per 1 s bucket), including one big one that is not judged.
    for (let i = 0; i < 10; i++)
      events.push(...ev.evaluate([dp(i * 1000, 'aws:message-byte-size', { count: i === 3 ? 5000 : 100 + i }, device('a'), 'a')]));
    expect(events).toEqual([]);
    // p90 of {100,101,102,5000,104..109} (nearest rank 9 of 10) = 109.
    events.push(...ev.evaluate([dp(10_000, 'aws:message-byte-size', { count: 109 }, device('a'), 'a')]));
    expect(events).toEqual([]);
    events.push(...ev.evaluate([dp(11_000, 'aws:message-byte-size', { count: 110 }, device('a'), 'a')]));
    expect(events.map((e) => [e.event, e.threshold])).toEqual([['in-alarm', { count: 109 }]]);
    // Another thing has its own (empty) history: no judgement yet.
    expect(ev.evaluate([dp(11_000, 'aws:message-byte-size', { count: 1_000_000 }, device('b'), 'b')])).toEqual([]);
  });

  it('learns from windowed sums for delta metrics', () => {
    const { ev } = evaluatorFor(
      [
        {
          name: 'bytes',
          metric: 'aws:all-bytes-out',
          criteria: { comparisonOperator: 'less-than-equals', statisticalThreshold: { statistic: 'p100' }, durationSeconds: 300 },
        },
      ],
      { statistics: { windowMs: 86_400_000, maxSamples: 288, minSamples: 3 } },
    );
    const events: ViolationEvent[] = [];
    for (let s = 1; s <= 1500; s++) events.push(...ev.evaluate([dp(s * 1000, 'aws:all-bytes-out', { count: s > 1400 ? 50 : 10 })]));
    // Baseline: windows of 300 × 10 = 3000; the first window above 3000 (299 × 10 + 50) alarms.
    expect(events.map((e) => e.event)).toEqual(['in-alarm']);
    expect(events[0]!.threshold).toEqual({ count: 3000 });
    expect(events[0]!.t).toBe(1401_000);
  });
});

describe('evaluator: invalidation and configuration changes', () => {
  const ports = {
    name: 'ports',
    metric: 'aws:listening-tcp-ports',
    criteria: { comparisonOperator: 'not-in-port-set', value: { ports: [23] } },
  };

  it('invalidates the alarms of a thing silent for invalidateAfterMs and forgets it', () => {
    const { ev, states } = evaluatorFor([ports], { invalidateAfterMs: 60_000 });
    const alarm = ev.evaluate([dp(1000, 'aws:listening-tcp-ports', { ports: [23] }, device('d1'), 'd1')]);
    ev.evaluate([dp(1000, 'aws:listening-tcp-ports', { ports: [22] }, device('d2'), 'd2')]);
    expect(ev.expire(61_000)).toEqual([]);
    const events = ev.expire(61_001);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event: 'alarm-invalidated',
      thingName: 'd1',
      behavior: 'ports',
      t: 61_001,
      violationId: alarm[0]!.violationId,
      offender: device('d1'),
    });
    expect(events[0]!.value).toBeUndefined();
    expect(states.size).toBe(0);
    // Back after the silence: a new violation with a new id.
    const again = ev.evaluate([dp(70_000, 'aws:listening-tcp-ports', { ports: [23] }, device('d1'), 'd1')]);
    expect(again.map((e) => e.event)).toEqual(['in-alarm']);
    expect(again[0]!.violationId).not.toBe(alarm[0]!.violationId);
  });

  it('forgets a vanished process after processIdleMs, invalidating its alarm, while the host stays', () => {
    const { ev, states } = evaluatorFor([{ ...ports, edge: { scope: { host: true, processes: true } } }], { processIdleMs: 10_000 });
    ev.evaluate([
      dp(1000, 'aws:listening-tcp-ports', { ports: [23] }, proc(7)),
      dp(1000, 'aws:listening-tcp-ports', { ports: [22] }, host),
    ]);
    ev.evaluate([dp(20_000, 'aws:listening-tcp-ports', { ports: [22] }, host)]);
    const events = ev.expire(20_000);
    expect(events.map((e) => [e.event, e.offender.kind])).toEqual([['alarm-invalidated', 'process']]);
    expect([...states.get('gw')!.subjects.keys()]).toEqual(['thing']);
  });

  it('keeps the state of unchanged behaviors across a new configuration and resets changed ones', () => {
    const { ev } = evaluatorFor([ports, { ...ports, name: 'other' }]);
    expect(ev.evaluate([dp(1000, 'aws:listening-tcp-ports', { ports: [23] })]).map((e) => e.behavior)).toEqual(['ports', 'other']);
    // 'ports' unchanged (moved to index 1); 'other' now has a different criterion.
    ev.setProfile(
      profileOf([{ ...ports, name: 'other', criteria: { comparisonOperator: 'not-in-port-set', value: { ports: [23, 24] } } }, ports]),
    );
    const events = ev.evaluate([dp(2000, 'aws:listening-tcp-ports', { ports: [23] })]);
    expect(events.map((e) => [e.behavior, e.event])).toEqual([['other', 'in-alarm']]);
    expect(ev.evaluate([dp(3000, 'aws:listening-tcp-ports', { ports: [] })]).map((e) => [e.behavior, e.event])).toEqual([
      ['other', 'alarm-cleared'],
      ['ports', 'alarm-cleared'],
    ]);
  });
});
