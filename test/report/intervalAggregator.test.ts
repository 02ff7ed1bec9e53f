import { describe, expect, it } from 'vitest';
import type { DeviceSample, HostSample, TrafficDelta } from '../../src/collector/sample.ts';
import { buildHostReport } from '../../src/report/buildReport.ts';
import { deviceIntervalAggregator, hostIntervalAggregator } from '../../src/report/intervalAggregator.ts';

const START = 1_700_000_000_000;
const I = 10_000; // a 10 s interval keeps the numbers readable; production uses >= 300 s
const delta = (n: number): TrafficDelta => ({ bytesIn: n, bytesOut: 2 * n, packetsIn: 1, packetsOut: 1 });

function host(t: number, over: Partial<HostSample> = {}): HostSample {
  return { t, intervalMs: 1000, network: delta(100), listening: [], established: [], processes: [], custom: {}, degraded: [], ...over };
}

describe('hostIntervalAggregator', () => {
  it('sums the deltas of exactly the samples inside the interval', () => {
    const agg = hostIntervalAggregator({ intervalMs: I, startMs: START });
    for (let s = 1; s <= 10; s++) expect(agg.add(host(START + s * 1000))).toBe('added');
    agg.add(host(START + 11_000, { network: delta(999) })); // belongs to the next interval
    expect(agg.take(START + I - 1)).toBeUndefined(); // not due yet
    const out = agg.take(START + I + 1500)!;
    expect(out.network).toEqual({ bytesIn: 1000, bytesOut: 2000, packetsIn: 10, packetsOut: 10 });
    expect(out.t).toBe(START + I);
    expect(out.intervalMs).toBe(I);
    expect(agg.take(START + I + 1500)).toBeUndefined(); // taken once
    expect(agg.take(START + 2 * I)!.network).toEqual(delta(999));
  });

  it('has no network figures when no delta was seen: the first sample never becomes a raw-counter report', () => {
    const agg = hostIntervalAggregator({ intervalMs: I, startMs: START });
    const { network: _n, ...first } = host(START + 1000);
    agg.add({ ...first, intervalMs: 0 });
    const out = agg.take(START + I)!;
    expect(out.network).toBeUndefined();
    expect(buildHostReport(out, { reportId: 1 }).report!.metrics!.networkStats).toBeUndefined();
  });

  it('ignores a delta over no interval, or a negative/fractional one, and counts it', () => {
    const agg = hostIntervalAggregator({ intervalMs: I, startMs: START });
    agg.add(host(START + 1000, { intervalMs: 0, network: delta(5_000_000) })); // cumulative counters posing as a delta
    agg.add(host(START + 2000, { network: { bytesIn: -1, bytesOut: 0, packetsIn: 0, packetsOut: 0 } }));
    agg.add(host(START + 3000, { network: { bytesIn: 1.5, bytesOut: 0, packetsIn: 0, packetsOut: 0 } }));
    agg.add(host(START + 4000));
    expect(agg.take(START + I)!.network).toEqual(delta(100));
    expect(agg.counters.ignoredDeltas).toBe(3);
  });

  it('keeps the last snapshot of ports and connections, and the last value of each custom metric', () => {
    const agg = hostIntervalAggregator({ intervalMs: I, startMs: START });
    agg.add(
      host(START + 1000, { listening: [{ protocol: 'tcp', address: '0.0.0.0', port: 1 }], custom: { a: { number: 1 }, b: { number: 1 } } }),
    );
    agg.add(host(START + 3000, { listening: [{ protocol: 'tcp', address: '0.0.0.0', port: 3 }], custom: { a: { number: 3 } } }));
    agg.add(host(START + 2000, { listening: [{ protocol: 'tcp', address: '0.0.0.0', port: 2 }], custom: { a: { number: 2 } } })); // late arrival, older
    const out = agg.take(START + I)!;
    expect(out.listening.map((p) => p.port)).toEqual([3]);
    expect(out.custom).toEqual({ a: { number: 3 }, b: { number: 1 } });
  });

  it('sums per-interface deltas and merges degraded sources', () => {
    const agg = hostIntervalAggregator({ intervalMs: I, startMs: START });
    agg.add(host(START + 1000, { perInterface: { eth0: delta(1) }, degraded: ['nft: missing'] }));
    agg.add(host(START + 2000, { perInterface: { eth0: delta(2), wlan0: delta(5) }, degraded: ['nft: missing'] }));
    const out = agg.take(START + I)!;
    expect(out.perInterface).toEqual({ eth0: { bytesIn: 3, bytesOut: 6, packetsIn: 2, packetsOut: 2 }, wlan0: delta(5) });
    expect(out.degraded).toEqual(['nft: missing']);
  });

  it('drops stale samples and samples too far ahead, and returns only the latest complete window', () => {
    const agg = hostIntervalAggregator({ intervalMs: I, startMs: START });
    expect(agg.add(host(START))).toBe('stale'); // the window is (start, start + I]
    expect(agg.add(host(START + 100 * I))).toBe('too-far-ahead');
    agg.add(host(START + 1000, { network: delta(1) }));
    agg.add(host(START + I + 1000, { network: delta(2) }));
    // Two windows complete before anyone took the first: only the current one is reported (no historical reports).
    expect(agg.take(START + 2 * I + 5)!.network).toEqual(delta(2));
    expect(agg.counters.skippedWindows).toBe(1);
    expect(agg.add(host(START + 2 * I - 1))).toBe('stale');
    expect(agg.counters).toMatchObject({ stale: 2, tooFarAhead: 1 });
    expect(agg.nextDueMs).toBe(START + 3 * I);
  });

  it('returns nothing for a window without samples', () => {
    const agg = hostIntervalAggregator({ intervalMs: I, startMs: START });
    expect(agg.take(START + I)).toBeUndefined();
    expect(agg.nextDueMs).toBe(START + 2 * I);
  });

  it('refuses a non-positive interval', () => {
    expect(() => hostIntervalAggregator({ intervalMs: 0, startMs: START })).toThrow(RangeError);
  });
});

describe('deviceIntervalAggregator', () => {
  const dev = (t: number, over: Partial<DeviceSample> = {}): DeviceSample => ({
    thingName: 'sensor-1',
    t,
    intervalMs: 1000,
    traffic: delta(10),
    destinations: ['10.0.0.1'],
    messagesSent: 1,
    messagesReceived: 2,
    messageBytes: 30,
    ...over,
  });

  it('sums traffic and messages, unions destinations (bounded), and ignores other things', () => {
    const agg = deviceIntervalAggregator('sensor-1', { intervalMs: I, startMs: START, maxDestinations: 3 });
    agg.add(dev(START + 1000));
    agg.add(dev(START + 2000, { destinations: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'] }));
    agg.add(dev(START + 3000, { traffic: undefined }));
    expect(agg.add(dev(START + 4000, { thingName: 'intruder' }))).toBe('other-thing');
    const out = agg.take(START + I)!;
    expect(out).toEqual({
      thingName: 'sensor-1',
      t: START + I,
      intervalMs: I,
      traffic: { bytesIn: 20, bytesOut: 40, packetsIn: 2, packetsOut: 2 },
      destinations: ['10.0.0.1', '10.0.0.2', '10.0.0.3'],
      messagesSent: 3,
      messagesReceived: 6,
      messageBytes: 90,
    });
    expect(agg.counters.otherThing).toBe(1);
  });

  it('has no traffic when no delta was seen', () => {
    const agg = deviceIntervalAggregator('sensor-1', { intervalMs: I, startMs: START });
    agg.add(dev(START + 1000, { traffic: undefined }));
    expect(agg.take(START + I)!.traffic).toBeUndefined();
  });
});
