import { describe, expect, it } from 'vitest';
import { History, percentile } from '../../src/localrules/statistics.ts';

describe('percentiles (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  it('p0 is the minimum, p100 the maximum, p50/p90/p99 by rank', () => {
    expect(percentile(hundred, 0)).toBe(1);
    expect(percentile(hundred, 0.01)).toBe(1);
    expect(percentile(hundred, 10)).toBe(10);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 90)).toBe(90);
    expect(percentile(hundred, 99.9)).toBe(100);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('per-thing history', () => {
  const o = { windowMs: 1_000_000, maxSamples: 10, minSamples: 3 };
  it('keeps one sample per bucket, at most maxSamples, and only inside the window', () => {
    const h = new History();
    expect(h.record(0, 5, o)).toBe(true);
    expect(h.record(50_000, 6, o)).toBe(false); // same 100 s bucket
    for (let i = 1; i <= 20; i++) h.record(i * 100_000, i, o);
    expect(h.length).toBe(10);
    expect(h.threshold('p0', o)).toBe(11);
    expect(h.threshold('p100', o)).toBe(20);
  });
  it('has no threshold below minSamples', () => {
    const h = new History();
    h.record(0, 1, o);
    h.record(100_000, 2, o);
    expect(h.threshold('p50', o)).toBeUndefined();
    h.record(200_000, 3, o);
    expect(h.threshold('p50', o)).toBe(2);
    const back = History.fromJSON(JSON.parse(JSON.stringify(h.toJSON())));
    expect(back.threshold('p100', o)).toBe(3);
  });
  it('forgets samples older than the window even when below maxSamples', () => {
    const h = new History();
    h.record(0, 100, o);
    h.record(100_000, 1, o);
    h.record(1_050_000, 2, o);
    expect(h.length).toBe(2);
  });
});
