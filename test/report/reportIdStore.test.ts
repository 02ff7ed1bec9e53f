import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReportIdStore } from '../../src/report/reportIdStore.ts';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dedge-reportid-'));
  path = join(dir, 'report-ids.json');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const T = 1_700_000_000_000;

describe('ReportIdStore', () => {
  it('issues epoch-millisecond ids that strictly increase, also within one millisecond and when the clock steps back', () => {
    const store = new ReportIdStore({ path, nowMs: T });
    expect(store.recovered).toEqual({ kind: 'fresh' });
    const ids = [store.next(T), store.next(T), store.next(T), store.next(T - 60_000), store.next(T + 5000)];
    expect(ids).toEqual([T, T + 1, T + 2, T + 3, T + 5000]);
  });

  it('writes the disk only when the reserved mark is passed, not per report', () => {
    const store = new ReportIdStore({ path, nowMs: T, reserveMs: 3_600_000 });
    for (let i = 0; i < 100_000; i++) store.next(T + i * 10); // 100k reports over 1000 s
    expect(store.writes).toBe(1);
    store.next(T + 3_600_001);
    expect(store.writes).toBe(2);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ version: 1, highWater: T + 3_600_001 + 3_600_000 });
  });

  it('never goes backwards after a crash (no close), even when the clock is behind', () => {
    const before = new ReportIdStore({ path, nowMs: T });
    let last = 0;
    for (let i = 0; i < 1000; i++) last = before.next(T + i);
    // Simulated crash: the object is dropped without close(); a new process opens the same file, clock earlier.
    const after = new ReportIdStore({ path, nowMs: T - 86_400_000 });
    expect(after.recovered).toMatchObject({ kind: 'resumed' });
    const next = after.next(T - 86_400_000);
    expect(next).toBeGreaterThan(last);
    expect(after.next(T)).toBeGreaterThan(next);
  });

  it('after a clean close resumes right after the last id', () => {
    const a = new ReportIdStore({ path, nowMs: T });
    a.next(T);
    const last = a.next(T);
    a.close();
    const b = new ReportIdStore({ path, nowMs: T - 1000 });
    expect(b.next(T - 1000)).toBe(last + 1);
  });

  it('quarantines a corrupt file and starts past the clock plus the reservation', () => {
    writeFileSync(path, '{"version":1,"highWater":');
    const store = new ReportIdStore({ path, nowMs: T, reserveMs: 1000 });
    expect(store.recovered).toMatchObject({ kind: 'corrupt' });
    expect(store.next(T)).toBe(T + 1001);
    expect(readdirSync(dir).some((f) => f.startsWith('report-ids.json.corrupt-'))).toBe(true);
    writeFileSync(path, '{"version":2,"highWater":5}');
    expect(new ReportIdStore({ path, nowMs: T }).recovered).toMatchObject({ kind: 'corrupt', error: 'version: must be 1' });
  });

  it('does not create a file until an id is issued, and refuses a bad reservation', () => {
    const store = new ReportIdStore({ path, nowMs: T });
    store.close();
    expect(existsSync(path)).toBe(false);
    expect(() => new ReportIdStore({ path, nowMs: T, reserveMs: 0 })).toThrow(RangeError);
  });
});
