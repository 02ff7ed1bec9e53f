// The explain view: the window's datapoints drawn against the threshold, the rails, the action's story.
import { describe, expect, it } from 'vitest';
import { bar, renderChart, renderExplain } from '../../src/control/explain.ts';
import type { JournalEntry } from '../../src/control/violationJournal.ts';
import type { ActionRecord } from '../../src/enforce/actionModel.ts';

const T = Date.parse('2026-12-06T12:00:00Z');
const entry = (over: Partial<JournalEntry> = {}): JournalEntry => ({
  violationId: 'v0123456789',
  thingName: 'GatewayThing',
  behavior: 'bytesOut',
  metric: 'aws:all-bytes-out',
  offender: { kind: 'process', pid: 4242, comm: 'rogue-agent', exe: '/usr/bin/rogue' },
  comparisonOperator: 'less-than',
  threshold: { count: 10_000 },
  action: { type: 'process-suspend', ttlSeconds: 600 },
  events: [{ event: 'in-alarm', t: T, value: { count: 12_000 } }],
  evidence: {
    judged: 'window-sum',
    windowMs: 300_000,
    consecutiveDatapointsToAlarm: 1,
    points: [
      [T - 2000, 0],
      [T - 1000, 5000],
      [T, 7000],
    ],
  },
  ...over,
});

describe('explain chart', () => {
  it('draws bars with eighth blocks and the threshold mark; ASCII on request', () => {
    expect(bar(2.5, 6, 4, false)).toBe('██▌ ┃');
    expect(bar(6, 6, 4, false)).toBe('████┃█');
    expect(bar(6, 6, 6, false)).toBe('██████┃');
    expect(bar(2.5, 6, 4, true)).toBe('##  |');
  });

  it('one row per datapoint: its delta, the running total and the row where the total crosses', () => {
    const rows = renderChart(entry(), entry().evidence!, { width: 24 });
    expect(rows[0]).toBe('window when it went in-alarm over 5m 00s: 3 datapoints; bar = running total, ┃ = threshold 10,000');
    expect(rows.slice(1)).toEqual([
      '  -2.0s      +0       0                      ┃',
      '  -1.0s  +5,000   5,000  ██████████          ┃',
      '   0.0s  +7,000  12,000  ████████████████████┃███  ◀ crosses',
      '  judged: 12,000 is not less-than 10,000 → violating',
    ]);
  });

  it('sums neighbouring datapoints into at most `rows` rows, keeping the running totals', () => {
    const points: Array<[number, number]> = Array.from({ length: 100 }, (_, i) => [T - (99 - i) * 1000, 150]);
    const rows = renderChart(entry(), { judged: 'window-sum', windowMs: 300_000, consecutiveDatapointsToAlarm: 1, points }, { rows: 10 });
    expect(rows[0]).toContain('100 datapoints, drawn as 10 rows');
    expect(rows.filter((r) => r.includes('+1,500'))).toHaveLength(10);
    expect(rows.at(-2)).toMatch(/\+1,500\s+15,000/);
    expect(rows.find((r) => r.includes('◀ crosses'))).toMatch(/\+1,500\s+10,500/);
  });

  it('datapoints judged one by one (consecutiveDatapointsToAlarm) are each marked', () => {
    const e = entry({ comparisonOperator: 'less-than-equals', threshold: { number: 80 } });
    const rows = renderChart(e, {
      judged: 'each',
      consecutiveDatapointsToAlarm: 3,
      points: [
        [T - 2000, 85],
        [T - 1000, 90],
        [T, 95],
      ],
    });
    expect(rows[0]).toBe('datapoints judged one by one (consecutiveDatapointsToAlarm 3); ┃ = threshold 80');
    expect(rows.filter((r) => r.endsWith('violating'))).toHaveLength(3);
    expect(rows.at(-1)).toBe('  judged: 95 is not less-than-equals 80 → violating; in-alarm after 3 violating datapoints in a row');
  });
});

describe('explain', () => {
  const applied: ActionRecord = {
    t: T + 5,
    outcome: 'applied',
    type: 'process-suspend',
    dryRun: false,
    actionId: 'a-1',
    target: { kind: 'process', pid: 4242, startTime: 77, comm: 'rogue-agent' },
    detail: 'SIGSTOP sent to pid 4242',
    ttlSeconds: 600,
    readBack: { state: 'in-force', observed: 'pid 4242 (rogue-agent) stopped (state T)', at: T + 6 },
    rails: ['process identity: pid 4242 still has start time 77 (no pid reuse)', 'rate limit: within 10 actions per minute'],
    violation: {
      violationId: 'v0123456789',
      thingName: 'GatewayThing',
      behavior: 'bytesOut',
      metric: 'aws:all-bytes-out',
      event: 'in-alarm',
      t: T,
      offender: { kind: 'host' },
    },
  };
  const lifted: ActionRecord = {
    ...applied,
    t: T + 60_000,
    outcome: 'lifted',
    reason: 'operator',
    by: { via: 'socket', user: 'alice', uid: 0 },
    quietUntil: T + 3_660_000,
    detail: 'lifted by alice (uid 0) on the gateway; SIGCONT sent to pid 4242',
  };
  delete lifted.readBack;
  delete lifted.rails;

  it('tells the behavior, the chart, the rails, the action, the kernel and the lift', () => {
    const text = renderExplain(entry(), [applied, lifted], T + 120_000).join('\n');
    expect(text).toContain('violation v0123456789: in alarm since 2026-12-06T12:00:00Z (2m 00s)');
    expect(text).toContain('behavior:  bytesOut — aws:all-bytes-out: normal while less-than 10,000 over 5m 00s');
    expect(text).toContain('offender: process pid 4242 (rogue-agent) /usr/bin/rogue');
    expect(text).toContain('◀ crosses');
    expect(text).toContain('action:    process-suspend, ttl 10m 00s');
    expect(text).toContain('  ✓ process identity: pid 4242 still has start time 77 (no pid reuse)');
    expect(text).toContain('2026-12-06T12:00:00Z  applied: process-suspend on pid 4242 (rogue-agent), ttl 10m 00s');
    expect(text).toContain('      kernel: in-force — pid 4242 (rogue-agent) stopped (state T)');
    expect(text).toContain('2026-12-06T12:01:00Z  lifted (operator): process-suspend on pid 4242 (rogue-agent)');
    expect(text).toContain('      by alice (uid 0) on the gateway; quiet until 2026-12-06T13:01:00Z');
  });

  it('names the rail that refused, and says when the behavior only alerts', () => {
    const refused: ActionRecord = {
      ...applied,
      outcome: 'refused',
      reason: 'protected-process',
      detail: 'pid 4242 (sshd) is in enforcement.protectedProcesses',
    };
    delete refused.rails;
    expect(renderExplain(entry(), [refused], T)).toContain('  ✗ protected-process: pid 4242 (sshd) is in enforcement.protectedProcesses');
    expect(renderExplain(entry({ action: { type: 'none' } }), [], T)).toContain(
      'action:    none (alert only: the behavior has no edge.action)',
    );
    const list = entry({
      metric: 'aws:listening-tcp-ports',
      threshold: { ports: [22] },
      comparisonOperator: 'in-port-set',
      events: [{ event: 'in-alarm', t: T, value: { ports: [22, 23] } }],
    });
    delete list.evidence;
    expect(renderExplain(list, [], T)).toContain('value ports [22, 23] against in-port-set ports [22] (no numeric window to draw)');
  });
});
