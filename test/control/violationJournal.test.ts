// The violation journal on disk: events folded per violation, bounded, read back after a restart (a torn
// last line skipped), rolled over past its size.
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { currentEvent, ViolationJournal } from '../../src/control/violationJournal.ts';
import type { ViolationEvent } from '../../src/localrules/contracts.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dedge-journal-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ev = (violationId: string, event: ViolationEvent['event'], t: number, count = 1): ViolationEvent => ({
  violationId,
  thingName: 'sensor-1',
  behavior: 'bytesOut',
  metric: 'aws:all-bytes-out',
  event,
  t,
  value: { count },
  threshold: { count: 10 },
  comparisonOperator: 'less-than',
  offender: { kind: 'device', thingName: 'sensor-1', addresses: ['10.0.0.2'] },
  action: { type: 'address-block' },
});

describe('violation journal', () => {
  it('folds the events of a violation, keeps the evidence, lists newest first and survives a restart', () => {
    const path = join(dir, 'violations', 'journal.jsonl');
    const j = new ViolationJournal({ path });
    j.record(ev('aaaa1111', 'in-alarm', 1, 12), {
      judged: 'window-sum',
      windowMs: 300_000,
      points: [[1, 12]],
      consecutiveDatapointsToAlarm: 1,
    });
    j.record(ev('bbbb2222', 'in-alarm', 2));
    j.record(ev('aaaa1111', 'alarm-cleared', 3, 4));
    expect(j.list().map((e) => [e.violationId, currentEvent(e)])).toEqual([
      ['aaaa1111', 'alarm-cleared'],
      ['bbbb2222', 'in-alarm'],
    ]);
    expect(j.inAlarm()).toBe(1);
    appendFileSync(path, '{"v":{"violationId":"cccc'); // a crash in the middle of a line
    const again = new ViolationJournal({ path }).load();
    expect(again.unreadable).toBe(1);
    const a = again.find('aaaa')!;
    expect(a.events).toEqual([
      { event: 'in-alarm', t: 1, value: { count: 12 } },
      { event: 'alarm-cleared', t: 3, value: { count: 4 } },
    ]);
    expect(a.evidence).toMatchObject({ judged: 'window-sum', points: [[1, 12]] });
    expect(a).toMatchObject({ threshold: { count: 10 }, comparisonOperator: 'less-than', action: { type: 'address-block' } });
    expect(again.find('zzzz')).toBeUndefined();
  });

  it('is bounded in memory and on disk, and says when a prefix is ambiguous', () => {
    const path = join(dir, 'journal.jsonl');
    const j = new ViolationJournal({ path, maxViolations: 3, maxBytes: 2000 });
    for (let i = 0; i < 10; i++) j.record(ev(`abcd${i}000`, 'in-alarm', i));
    expect(j.size).toBe(3);
    expect(j.list().map((e) => e.violationId)).toEqual(['abcd9000', 'abcd8000', 'abcd7000']);
    expect(existsSync(`${path}.1`)).toBe(true);
    expect(() => j.find('abcd')).toThrow('violationId: "abcd" matches 3 violations; give more of the id');
    const reloaded = new ViolationJournal({ path, maxViolations: 3 }).load();
    expect(reloaded.list().map((e) => e.violationId)).toEqual(['abcd9000', 'abcd8000', 'abcd7000']);
  });

  it('keeps the in-alarm and the newest events of a long violation', () => {
    const j = new ViolationJournal({ path: join(dir, 'j.jsonl') });
    j.record(ev('v1', 'in-alarm', 0));
    for (let i = 1; i <= 40; i++) j.record(ev('v1', i % 2 ? 'alarm-cleared' : 'in-alarm', i));
    const e = j.find('v1')!;
    expect(e.events).toHaveLength(16);
    expect(e.events[0]!.t).toBe(0);
    expect(e.events.at(-1)!.t).toBe(40);
  });
});
