// A sum over the last `durationMs` of delta datapoints (docs/localrules.md "Windows"): a sample taken at
// time t covering (t - interval, t] is in the window at `now` when t > now - durationMs. Plain arrays
// with a moving head: adding and expiring are O(1) amortised, no allocation per datapoint. A zero adds
// nothing to the sum, so only non-zero datapoints are kept: a quiet device's window at 1 s sampling holds
// nothing instead of 300 entries (what the window covers is tracked on its own).

export interface SlidingSumJson {
  d: number;
  c: number;
  t: number[];
  v: number[];
}

export class SlidingSum {
  readonly durationMs: number;
  private times: number[] = [];
  private values: number[] = [];
  private head = 0;
  private total = 0;
  /** start of the time the window has seen data for (NaN before the first datapoint) */
  private coveredFromMs = Number.NaN;
  /** time of the latest datapoint, zero or not */
  private lastMs = Number.NEGATIVE_INFINITY;

  constructor(durationMs: number) {
    this.durationMs = durationMs;
  }

  /** Add a datapoint taken at `t` covering `intervalMs` before it; returns the sum over the window. */
  add(t: number, value: number, intervalMs = 0): number {
    // A clock that went backwards (or an out-of-order input line) would make the window lie: start over.
    if (t < this.lastMs) this.reset();
    this.lastMs = t;
    if (Number.isNaN(this.coveredFromMs)) this.coveredFromMs = t - intervalMs;
    if (value !== 0) {
      this.times.push(t);
      this.values.push(value);
      this.total += value;
    }
    this.expire(t);
    return this.total;
  }

  private expire(now: number): void {
    const cutoff = now - this.durationMs;
    while (this.head < this.times.length && this.times[this.head]! <= cutoff) {
      this.total -= this.values[this.head]!;
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.values = this.values.slice(this.head);
      this.head = 0;
    }
    if (this.head === this.times.length) this.total = 0; // no float drift survives an empty window
  }

  /** True once the datapoints seen span the whole window (a lower bound must not fire on a partial one). */
  coversFullWindow(now: number): boolean {
    return !Number.isNaN(this.coveredFromMs) && now - this.coveredFromMs >= this.durationMs;
  }

  get sum(): number {
    return this.total;
  }

  /** non-zero datapoints held */
  get length(): number {
    return this.times.length - this.head;
  }

  reset(): void {
    this.times = [];
    this.values = [];
    this.head = 0;
    this.total = 0;
    this.coveredFromMs = Number.NaN;
    this.lastMs = Number.NEGATIVE_INFINITY;
  }

  toJSON(): SlidingSumJson {
    return { d: this.durationMs, c: this.coveredFromMs, t: this.times.slice(this.head), v: this.values.slice(this.head) };
  }

  static fromJSON(j: SlidingSumJson): SlidingSum {
    const w = new SlidingSum(j.d);
    w.coveredFromMs = j.c ?? Number.NaN;
    // zeros written by an older version are dropped like new ones would be
    for (let i = 0; i < j.t.length; i++) {
      if (j.t[i]! > w.lastMs) w.lastMs = j.t[i]!;
      if (j.v[i] === 0) continue;
      w.times.push(j.t[i]!);
      w.values.push(j.v[i]!);
    }
    w.total = w.values.reduce((a, b) => a + b, 0);
    return w;
  }
}
