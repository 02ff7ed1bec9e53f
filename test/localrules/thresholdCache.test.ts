import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseBehaviors } from '../../src/localrules/behaviors.ts';
import { type Datapoint, defaultEvaluatorOptions, Evaluator } from '../../src/localrules/evaluator.ts';
import { type CompiledProfile, compileProfile } from '../../src/localrules/profile.ts';
import { ThresholdCache } from '../../src/localrules/thresholdCache.ts';
import { silentLogger } from '../../src/log.ts';
import { KeyedJsonStore } from '../../src/store/keyedJsonStore.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dedge-lr-cache-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function profile(): CompiledProfile {
  const r = parseBehaviors([
    {
      name: 'bytesOut',
      metric: 'aws:all-bytes-out',
      criteria: { comparisonOperator: 'less-than', value: { count: 10000 }, durationSeconds: 300 },
    },
    {
      name: 'size',
      metric: 'aws:message-byte-size',
      criteria: { comparisonOperator: 'less-than-equals', statisticalThreshold: { statistic: 'p100' } },
    },
  ]);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return compileProfile(r.value);
}

function setup(maxThings: number, maxBytes = 1 << 30) {
  const p = profile();
  const cache = new ThresholdCache({ dir, maxThings, maxBytes, keys: () => p.keys, logger: silentLogger() });
  const ev = new Evaluator(p, cache, {
    ...defaultEvaluatorOptions(),
    invalidateAfterMs: 100_000,
    statistics: { windowMs: 1_000_000, maxSamples: 1000, minSamples: 3 },
  });
  return { cache, ev };
}

const bytes = (thing: string, t: number, count: number): Datapoint => ({
  t,
  thing,
  metric: 'aws:all-bytes-out',
  value: { count },
  subject: { kind: 'device', thingName: thing, addresses: [] },
  intervalMs: 1000,
});
const size = (thing: string, t: number, count: number): Datapoint => ({
  t,
  thing,
  metric: 'aws:message-byte-size',
  value: { count },
  subject: { kind: 'device', thingName: thing, addresses: [] },
});

describe('threshold cache', () => {
  it('bounds the number of things in memory; evicted things reload with their window and baseline', () => {
    const { cache, ev } = setup(2);
    // Thing a: 6000 bytes in its window and a baseline of three sizes (max 100).
    ev.evaluate([bytes('a', 1000, 6000), size('a', 1000, 80), size('a', 2000, 90), size('a', 3000, 100)]);
    ev.evaluate([bytes('b', 1000, 1)]);
    ev.evaluate([bytes('c', 1000, 1)]);
    expect(cache.stats()).toMatchObject({ things: 2, evictions: 1, writes: 1 });
    // Back for a: the window still holds 6000, so 4000 more crosses 10000; the baseline is still 100.
    const events = ev.evaluate([bytes('a', 4000, 4000), size('a', 4000, 101)]);
    expect(events.map((e) => [e.behavior, e.event, e.value])).toEqual([
      ['bytesOut', 'in-alarm', { count: 10000 }],
      ['size', 'in-alarm', { count: 101 }],
    ]);
    expect(events[1]!.threshold).toEqual({ count: 100 });
    expect(cache.stats().loads).toBe(1);
  });

  it('bounds memory by estimated bytes', () => {
    const { cache, ev } = setup(1_000_000, 20_000);
    for (let i = 0; i < 200; i++) ev.evaluate([bytes(`t${i}`, 1000, 1)]);
    const s = cache.stats();
    expect(s.bytes).toBeLessThanOrEqual(20_000);
    expect(s.things).toBeLessThan(200);
    expect(s.things).toBeGreaterThan(5);
  });

  it('still invalidates an alarm of an evicted thing, and forgets it on disk', () => {
    const { cache, ev } = setup(1);
    const alarm = ev.evaluate([bytes('loud', 1000, 50_000)]);
    expect(alarm).toHaveLength(1);
    ev.evaluate([bytes('quiet', 150_000, 1)]);
    expect(cache.stats().things).toBe(1);
    const events = ev.expire(150_000);
    expect(events.map((e) => [e.thingName, e.event, e.violationId])).toEqual([['loud', 'alarm-invalidated', alarm[0]!.violationId]]);
    expect(new KeyedJsonStore(dir, () => null).get('loud').kind).toBe('missing');
  });

  it('survives a restart through flush(): the alarm is not raised twice', () => {
    const first = setup(10);
    expect(first.ev.evaluate([bytes('a', 1000, 50_000)]).map((e) => e.event)).toEqual(['in-alarm']);
    expect(first.cache.flush()).toBe(1);
    const second = setup(10);
    expect(second.ev.evaluate([bytes('a', 2000, 1)])).toEqual([]);
    expect(second.ev.evaluate([bytes('a', 302_000, 1)]).map((e) => e.event)).toEqual(['alarm-cleared']);
  });

  it('persist(thing) at each transition: a process killed without flush() continues the same violation', () => {
    const first = setup(10);
    const [raised] = first.ev.evaluate([bytes('a', 1000, 50_000)]);
    expect(raised!.event).toBe('in-alarm');
    first.cache.persist('a');
    first.ev.evaluate([bytes('a', 2000, 50_000)]); // later changes stay in memory: no flush, as after SIGKILL
    const second = setup(10);
    expect(second.ev.evaluate([bytes('a', 3000, 50_000)])).toEqual([]);
    const [cleared] = second.ev.evaluate([bytes('a', 400_000, 1)]);
    expect(cleared).toMatchObject({ event: 'alarm-cleared', violationId: raised!.violationId });
    second.cache.persist('a');
    // Cleared is persisted too: a third run neither clears again nor remembers an alarm.
    const third = setup(10);
    expect(third.ev.evaluate([bytes('a', 401_000, 1)])).toEqual([]);
  });

  it('without persist() a kill loses the transition: the alarm is raised again under a new id', () => {
    const first = setup(10);
    const [raised] = first.ev.evaluate([bytes('a', 1000, 50_000)]);
    const second = setup(10);
    const [again] = second.ev.evaluate([bytes('a', 2000, 50_000)]);
    expect(again).toMatchObject({ event: 'in-alarm' });
    expect(again!.violationId).not.toBe(raised!.violationId);
  });

  it('writes nothing for a thing with nothing to remember, and removes a stale copy once its alarm cleared', () => {
    const { cache, ev } = setup(1);
    ev.evaluate([bytes('zero', 1000, 0)]);
    ev.evaluate([bytes('other', 1000, 0)]);
    expect(cache.stats()).toMatchObject({ evictions: 1, writes: 0 });
    const store = new KeyedJsonStore(dir, () => null);
    expect(store.get('zero').kind).toBe('missing');

    const second = setup(10);
    second.ev.evaluate([bytes('a', 1000, 50_000)]);
    second.cache.flush();
    expect(store.get('a').kind).toBe('ok');
    expect(second.ev.evaluate([bytes('a', 302_000, 0)]).map((e) => e.event)).toEqual(['alarm-cleared']);
    second.cache.flush();
    expect(store.get('a').kind).toBe('missing');
  });

  it('quarantines a corrupt persisted state and starts that thing fresh', () => {
    const { cache, ev } = setup(10);
    const store = new KeyedJsonStore(dir, () => null);
    const path = store.pathOf('broken');
    ev.evaluate([bytes('x', 1000, 1)]);
    cache.flush();
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, '{"key":"broken","value":{"thing":1}}');
    expect(cache.get('broken')).toBeUndefined();
    expect(cache.stats().corrupt).toBe(1);
    expect(readdirSync(join(path, '..')).some((f) => f.includes('.corrupt-'))).toBe(true);
    expect(ev.evaluate([bytes('broken', 1000, 20_000)]).map((e) => e.event)).toEqual(['in-alarm']);
  });
});
