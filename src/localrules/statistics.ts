// Statistical thresholds on the edge (behaviors guide, `statisticalThreshold`). The service computes pXX over
// every device of the profile; a gateway sees only its own things and the resolved fleet value is exposed by
// no API. So the percentile is computed over each thing's OWN history of the behavior's value:
// "alarm when this thing deviates from what it usually does" (docs/localrules.md "Statistical thresholds").
import type { Statistic } from './behaviors.ts';

export interface HistoryOptions {
  /** how far back the history reaches */
  windowMs: number;
  /** most samples kept; one sample per windowMs / maxSamples (a bucket) */
  maxSamples: number;
  /** below this many samples the behavior is not evaluated (no baseline yet) */
  minSamples: number;
}

export interface HistoryJson {
  b: number[];
  v: number[];
}

/** Nearest-rank percentile of an ascending array; p0 is the minimum, p100 the maximum. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function statisticPercent(s: Statistic): number {
  return Number(s.slice(1));
}

/**
 * A bounded, time-bucketed history of one value. At most one sample per bucket (the first seen in it),
 * so a 1 s sampler and a 300 s report produce comparable baselines; the percentile is cached until the
 * history changes.
 */
export class History {
  private buckets: number[] = [];
  private values: number[] = [];
  /** percentile cache, valid until the next record(); keyed by statistic so a caller can ask for several */
  private cached: { statistic: Statistic; value: number } | undefined;

  /** Record `value` at time `t` (ms). Returns true if it was kept. */
  record(t: number, value: number, o: HistoryOptions): boolean {
    const bucketMs = Math.max(1, Math.floor(o.windowMs / o.maxSamples));
    const bucket = Math.floor(t / bucketMs);
    const last = this.buckets[this.buckets.length - 1];
    if (last !== undefined && bucket <= last) return false;
    this.buckets.push(bucket);
    this.values.push(value);
    const oldest = Math.floor((t - o.windowMs) / bucketMs);
    let drop = 0;
    while (drop < this.buckets.length && (this.buckets[drop]! <= oldest || this.buckets.length - drop > o.maxSamples)) drop++;
    if (drop > 0) {
      this.buckets.splice(0, drop);
      this.values.splice(0, drop);
    }
    this.cached = undefined;
    return true;
  }

  /** The statistic over the history, or undefined while there are fewer than minSamples. */
  threshold(statistic: Statistic, o: HistoryOptions): number | undefined {
    if (this.values.length < o.minSamples) return undefined;
    if (this.cached?.statistic !== statistic) {
      this.cached = {
        statistic,
        value: percentile(
          [...this.values].sort((a, b) => a - b),
          statisticPercent(statistic),
        ),
      };
    }
    return this.cached.value;
  }

  get length(): number {
    return this.values.length;
  }

  toJSON(): HistoryJson {
    return { b: [...this.buckets], v: [...this.values] };
  }

  static fromJSON(j: HistoryJson): History {
    const h = new History();
    h.buckets = [...j.b];
    h.values = [...j.v];
    return h;
  }
}
