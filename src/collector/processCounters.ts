// Per-process deltas from the eBPF counters (`procs` answers of dedge-sockdiag --traffic, docs/traffic.md).
// The helper reports cumulative counters per (tgid, first-seen time): a tgid whose first-seen time changed
// is another process that reuses the number, so deltas are kept per that pair and two processes never mix.
// An exited process is delivered once, with its final counters: its last delta is returned like any other
// and then it is forgotten. A new helper (generation) restarts every counter from zero. Pure: readings in,
// deltas out.
import { trafficDelta } from './procNetDev.ts';
import type { TrafficDelta } from './sample.ts';
import type { ProcessCounters } from './sockDiagTraffic.ts';

export interface ProcessDelta {
  /** the record as read (identity, parent, comm, exited) */
  process: ProcessCounters;
  /** what it moved since the previous reading (or since it was first counted) */
  delta: TrafficDelta;
}

export interface CounterDeltas {
  /** processes that moved anything since the previous reading, and every exited one (their last record) */
  processes: ProcessDelta[];
  /** traffic of processes outside the reader's pid namespace (the helper's tgid-0 aggregate) */
  outside: TrafficDelta;
}

export const ZERO_TRAFFIC: Readonly<TrafficDelta> = Object.freeze({ bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 });

/** The identity of one process across readings: tgid plus when it was first counted. */
export function processKey(p: Pick<ProcessCounters, 'tgid' | 'firstSeenNs'>): string {
  return `${p.tgid}:${p.firstSeenNs}`;
}

export function isZeroTraffic(d: TrafficDelta): boolean {
  return d.bytesIn === 0 && d.bytesOut === 0 && d.packetsIn === 0 && d.packetsOut === 0;
}

export function addTraffic(into: TrafficDelta, d: TrafficDelta): void {
  into.bytesIn += d.bytesIn;
  into.bytesOut += d.bytesOut;
  into.packetsIn += d.packetsIn;
  into.packetsOut += d.packetsOut;
}

const countersOf = (p: ProcessCounters): TrafficDelta => ({
  bytesIn: p.bytesIn,
  bytesOut: p.bytesOut,
  packetsIn: p.packetsIn,
  packetsOut: p.packetsOut,
});

export class ProcessCounterDeltas {
  private generation: number | undefined;
  private last = new Map<string, TrafficDelta>();

  /** Processes currently tracked (alive as far as the last reading knew). */
  get size(): number {
    return this.last.size;
  }

  take(reading: { generation: number; processes: readonly ProcessCounters[] }): CounterDeltas {
    if (reading.generation !== this.generation) {
      // A new helper counts from zero: whatever the old one knew is gone with it.
      this.generation = reading.generation;
      this.last = new Map();
    }
    const next = new Map<string, TrafficDelta>();
    const processes: ProcessDelta[] = [];
    let outside: TrafficDelta = { ...ZERO_TRAFFIC };
    for (const p of reading.processes) {
      const key = processKey(p);
      const now = countersOf(p);
      // counters only grow within one life; a smaller value would mean a recreated entry: counted from zero
      const delta = trafficDelta(this.last.get(key) ?? ZERO_TRAFFIC, now);
      if (p.tgid === 0) {
        outside = delta;
        next.set(key, now);
        continue;
      }
      if (!p.exited) next.set(key, now);
      if (p.exited || !isZeroTraffic(delta)) processes.push({ process: p, delta });
    }
    // Entries missing from this reading and never reported exited are forgotten too (the map was
    // cleared under us): keeping them would only leak.
    this.last = next;
    return { processes, outside };
  }
}
