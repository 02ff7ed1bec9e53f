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

  it('stays exact and compact over a long run, and survives JSON', () => {
    const w = new SlidingSum(300_000);
    let sum = 0;
    for (let t = 1; t <= 10_000; t++) sum = w.add(t * 1000, t % 7);
    let expected = 0;
    for (let t = 9_701; t <= 10_000; t++) expected += t % 7;
    expect(sum).toBe(expected);
    expect(w.length).toBe(300);
    const back = SlidingSum.fromJSON(JSON.parse(JSON.stringify(w.toJSON())));
    expect(back.sum).toBe(expected);
    expect(back.coversFullWindow(10_000_000)).toBe(true);
    expect(back.add(10_001_000, 100)).toBe(expected - (9_701 % 7) + 100);
  });
});
