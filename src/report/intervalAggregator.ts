// Accumulates 1 s samples into reporting intervals so that each report covers exactly its interval
// (network_stats are "Delta Metric"s, docs/reports.md#the-document). Pure: time comes in as arguments.
//
// Windows are fixed: window k covers (startMs + k·I, startMs + (k+1)·I]. A sample belongs to the window that
// holds its end time `t` (a 1 s sample straddling a boundary counts whole in the later window). Samples
// that arrive after their window was taken are stale and dropped (counted); samples more than
// `maxOpenWindows` ahead (a bogus timestamp) are dropped too, so memory stays bounded.
//
// In a window:
//  * traffic deltas are SUMMED; samples without a delta (the collector's first sample) add nothing, and a
//    window that saw no delta at all has NO network figures — never raw counters (the official Greengrass
//    component's first-report bug, docs/reports.md). A sample with intervalMs <= 0 or a negative/fractional
//    delta is ignored.
//  * listening ports, connections and processes are the LAST snapshot (by `t`); custom metrics the last
//    value per name.
//  * for a downstream device: destinations are the union (bounded), message counts are summed.
// `take(nowMs)` returns the most recent complete window. Older complete windows that were never taken
// are discarded and counted, not returned: the service does not take historical reports
// (docs/reports.md#limits-and-cadence).
import type { CustomMetricValue, DeviceSample, HostSample, TrafficDelta } from '../collector/sample.ts';
import { integerProblem } from './validationIssues.ts';

export interface IntervalOptions {
  /** the reporting interval, ms (the component's reporting.intervalSeconds × 1000, ≥ 300 s in production) */
  intervalMs: number;
  /** where window 0 starts, ms since the epoch */
  startMs: number;
  /** windows ahead of the current one that may collect samples (default 2) */
  maxOpenWindows?: number;
}

export type AddResult = 'added' | 'stale' | 'too-far-ahead' | 'other-thing';

export interface AggregatorCounters {
  stale: number;
  tooFarAhead: number;
  otherThing: number;
  /** samples whose traffic delta was unusable (intervalMs <= 0, negative or fractional) */
  ignoredDeltas: number;
  /** complete windows discarded because a later one was taken first */
  skippedWindows: number;
}

interface Accumulator<S> {
  add(sample: S, counters: AggregatorCounters): boolean;
  result(windowStart: number, windowEnd: number): S;
}

function usableDelta(
  sample: { intervalMs: number },
  delta: TrafficDelta | undefined,
  counters: AggregatorCounters,
): TrafficDelta | undefined {
  if (delta === undefined) return undefined;
  const ok =
    sample.intervalMs > 0 && [delta.bytesIn, delta.bytesOut, delta.packetsIn, delta.packetsOut].every((v) => integerProblem(v, 0) === null);
  if (!ok) {
    counters.ignoredDeltas += 1;
    return undefined;
  }
  return delta;
}

function addDelta(sum: TrafficDelta | undefined, d: TrafficDelta): TrafficDelta {
  if (sum === undefined) return { bytesIn: d.bytesIn, bytesOut: d.bytesOut, packetsIn: d.packetsIn, packetsOut: d.packetsOut };
  return {
    bytesIn: sum.bytesIn + d.bytesIn,
    bytesOut: sum.bytesOut + d.bytesOut,
    packetsIn: sum.packetsIn + d.packetsIn,
    packetsOut: sum.packetsOut + d.packetsOut,
  };
}

export class IntervalAggregator<S extends { t: number }> {
  readonly intervalMs: number;
  readonly startMs: number;
  readonly counters: AggregatorCounters = { stale: 0, tooFarAhead: 0, otherThing: 0, ignoredDeltas: 0, skippedWindows: 0 };
  private readonly maxOpenWindows: number;
  private readonly newAccumulator: () => Accumulator<S>;
  private readonly open = new Map<number, Accumulator<S>>();
  /** index of the first window not yet taken */
  private current = 0;

  constructor(options: IntervalOptions, newAccumulator: () => Accumulator<S>) {
    if (!(options.intervalMs > 0) || !Number.isFinite(options.startMs)) throw new RangeError('intervalMs must be > 0 and startMs finite');
    this.intervalMs = options.intervalMs;
    this.startMs = options.startMs;
    this.maxOpenWindows = options.maxOpenWindows ?? 2;
    this.newAccumulator = newAccumulator;
  }

  /** When the window now being filled ends: take() returns it from then on. */
  get nextDueMs(): number {
    return this.startMs + (this.current + 1) * this.intervalMs;
  }

  add(sample: S): AddResult {
    const k = Math.ceil((sample.t - this.startMs) / this.intervalMs) - 1;
    if (!Number.isFinite(k) || k < this.current) {
      this.counters.stale += 1;
      return 'stale';
    }
    if (k > this.current + this.maxOpenWindows) {
      this.counters.tooFarAhead += 1;
      return 'too-far-ahead';
    }
    let acc = this.open.get(k);
    if (acc === undefined) {
      acc = this.newAccumulator();
      this.open.set(k, acc);
    }
    return acc.add(sample, this.counters) ? 'added' : 'other-thing';
  }

  /** The aggregate of the latest window that ended at or before `nowMs`, once; undefined if none or empty. */
  take(nowMs: number): S | undefined {
    const d = Math.floor((nowMs - this.startMs) / this.intervalMs) - 1;
    if (!Number.isFinite(d) || d < this.current) return undefined;
    const acc = this.open.get(d);
    for (const k of [...this.open.keys()]) {
      if (k > d) continue;
      if (k < d) this.counters.skippedWindows += 1;
      this.open.delete(k);
    }
    this.current = d + 1;
    const windowStart = this.startMs + d * this.intervalMs;
    return acc?.result(windowStart, windowStart + this.intervalMs);
  }
}

class HostAccumulator implements Accumulator<HostSample> {
  private network: TrafficDelta | undefined;
  private readonly perInterface = new Map<string, TrafficDelta>();
  private latest: HostSample | undefined;
  private readonly custom = new Map<string, { t: number; value: CustomMetricValue }>();
  private readonly degraded = new Set<string>();

  add(sample: HostSample, counters: AggregatorCounters): boolean {
    const delta = usableDelta(sample, sample.network, counters);
    if (delta !== undefined) {
      this.network = addDelta(this.network, delta);
      for (const [name, d] of Object.entries(sample.perInterface ?? {})) {
        const ok = usableDelta(sample, d, counters);
        if (ok !== undefined) this.perInterface.set(name, addDelta(this.perInterface.get(name), ok));
      }
    }
    if (this.latest === undefined || sample.t >= this.latest.t) this.latest = sample;
    for (const [name, value] of Object.entries(sample.custom)) {
      const seen = this.custom.get(name);
      if (seen === undefined || sample.t >= seen.t) this.custom.set(name, { t: sample.t, value });
    }
    for (const d of sample.degraded) if (this.degraded.size < 100) this.degraded.add(d);
    return true;
  }

  result(windowStart: number, windowEnd: number): HostSample {
    const last = this.latest!;
    const out: HostSample = {
      t: windowEnd,
      intervalMs: windowEnd - windowStart,
      listening: last.listening,
      established: last.established,
      processes: last.processes,
      custom: Object.fromEntries([...this.custom].map(([name, v]) => [name, v.value])),
      degraded: [...this.degraded],
    };
    if (this.network !== undefined) out.network = this.network;
    if (this.perInterface.size > 0) out.perInterface = Object.fromEntries(this.perInterface);
    return out;
  }
}

class DeviceAccumulator implements Accumulator<DeviceSample> {
  private readonly thingName: string;
  private readonly maxDestinations: number;
  private traffic: TrafficDelta | undefined;
  private readonly destinations = new Set<string>();
  private messagesSent = 0;
  private messagesReceived = 0;
  private messageBytes = 0;

  constructor(thingName: string, maxDestinations: number) {
    this.thingName = thingName;
    this.maxDestinations = maxDestinations;
  }

  add(sample: DeviceSample, counters: AggregatorCounters): boolean {
    if (sample.thingName !== this.thingName) {
      counters.otherThing += 1;
      return false;
    }
    const delta = usableDelta(sample, sample.traffic, counters);
    if (delta !== undefined) this.traffic = addDelta(this.traffic, delta);
    for (const d of sample.destinations) if (this.destinations.size < this.maxDestinations) this.destinations.add(d);
    this.messagesSent += sample.messagesSent;
    this.messagesReceived += sample.messagesReceived;
    this.messageBytes += sample.messageBytes;
    return true;
  }

  result(windowStart: number, windowEnd: number): DeviceSample {
    const out: DeviceSample = {
      thingName: this.thingName,
      t: windowEnd,
      intervalMs: windowEnd - windowStart,
      destinations: [...this.destinations],
      messagesSent: this.messagesSent,
      messagesReceived: this.messagesReceived,
      messageBytes: this.messageBytes,
    };
    if (this.traffic !== undefined) out.traffic = this.traffic;
    return out;
  }
}

/** Aggregates the gateway's own samples. */
export function hostIntervalAggregator(options: IntervalOptions): IntervalAggregator<HostSample> {
  return new IntervalAggregator<HostSample>(options, () => new HostAccumulator());
}

/** Aggregates one downstream device's samples (one aggregator per thing). */
export function deviceIntervalAggregator(
  thingName: string,
  options: IntervalOptions & { maxDestinations?: number },
): IntervalAggregator<DeviceSample> {
  const max = options.maxDestinations ?? 1000;
  return new IntervalAggregator<DeviceSample>(options, () => new DeviceAccumulator(thingName, max));
}
