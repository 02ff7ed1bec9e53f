import { describe, expect, it } from 'vitest';
import { SlidingSum } from '../../src/localrules/slidingWindow.ts';

describe('sliding sum', () => {
  it('sums datapoints with t in (now - duration, now]', () => {
    const w = new SlidingSum(300_000);
    expect(w.add(0, 10)).toBe(10);
    expect(w.add(299_999, 5)).toBe(15);
    expect(w.add(300_000, 1)).toBe(6); // t=0 left the window exactly at 300 s
    expect(w.length).toBe(2);
  });

  it("knows when it covers a full window, counting the first sample's interval", () => {
    const w = new SlidingSum(10_000);
    w.add(1_000, 1, 1_000);
    expect(w.coversFullWindow(1_000)).toBe(false);
    w.add(9_000, 1, 1_000);
    expect(w.coversFullWindow(9_000)).toBe(false);
    w.add(10_000, 1, 1_000);
    expect(w.coversFullWindow(10_000)).toBe(true);
  });

  it('starts over when time goes backwards', () => {
    const w = new SlidingSum(10_000);
    w.add(5_000, 7);
    expect(w.add(4_000, 3)).toBe(3);
  });

  it('holds nothing for a quiet subject, yet still knows what it covers and notices time going backwards', () => {
    const w = new SlidingSum(300_000);
    for (let t = 1; t <= 1_000; t++) w.add(t * 1000, 0, 1000);
    expect(w.length).toBe(0);
    expect(w.sum).toBe(0);
    expect(w.coversFullWindow(1_000_000)).toBe(true);
    expect(w.add(1_001_000, 5)).toBe(5);
    // backwards after a run of zeros: starts over (the window no longer covers 300 s)
    expect(w.add(999_000, 0, 1000)).toBe(0);
    expect(w.coversFullWindow(999_000)).toBe(false);
    // a window written with zeros (older versions) reads back without them
    const old = SlidingSum.fromJSON({ d: 300_000, c: 0, t: [1000, 2000, 3000], v: [0, 4, 0] });
    expect([old.length, old.sum]).toEqual([1, 4]);
    expect(old.add(2500, 1)).toBe(1); // 2500 < 3000, the latest time written: starts over
  });

  it('stays exact and compact over a long run, and survives JSON', () => {
    const w = new SlidingSum(300_000);
    let sum = 0;
    for (let t = 1; t <= 10_000; t++) sum = w.add(t * 1000, t % 7);
    let expected = 0;
    let nonZero = 0;
    for (let t = 9_701; t <= 10_000; t++) {
      expected += t % 7;
      if (t % 7 !== 0) nonZero++;
    }
    expect(sum).toBe(expected);
    // zeros add nothing to the sum and are not held
    expect(w.length).toBe(nonZero);
    const back = SlidingSum.fromJSON(JSON.parse(JSON.stringify(w.toJSON())));
    expect(back.sum).toBe(expected);
    expect(back.coversFullWindow(10_000_000)).toBe(true);
    expect(back.add(10_001_000, 100)).toBe(expected - (9_701 % 7) + 100);
  });
});
