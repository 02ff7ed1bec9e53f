// The reporter's cadence with many devices: each device's window is reported when it ends, whenever the
// device was first seen, although flushDue no longer looks at every device on every sample.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Reporter } from '../../src/agent/reporter.ts';
import type { DeviceSample } from '../../src/collector/sample.ts';
import { validateConfig } from '../../src/config/validate.ts';
import type { OutboxMessage } from '../../src/ipc/outbox.ts';
import { silentLogger } from '../../src/log.ts';
import { ReportIdStore } from '../../src/report/reportIdStore.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup() {
  const dir = mkdtempSync(path.join(tmpdir(), 'dedge-reporter-'));
  dirs.push(dir);
  const r = validateConfig({});
  if (!r.ok) throw new Error(r.errors.join('; '));
  const sent: Array<Omit<OutboxMessage, 'enqueuedAt'>> = [];
  const reporter = new Reporter({
    thingName: 'gw',
    config: r.config,
    outbox: { enqueue: (m) => sent.push(m), confirmReport: () => 0 },
    ids: new ReportIdStore({ path: path.join(dir, 'ids.json'), nowMs: 0 }),
    logger: silentLogger(),
    nowMs: 0,
    intervalOverrideSeconds: 1,
  });
  const device = (thingName: string, t: number): DeviceSample => ({
    thingName,
    t,
    intervalMs: 100,
    traffic: { bytesIn: 10, bytesOut: 20, packetsIn: 1, packetsOut: 2 },
    destinations: [],
    messagesSent: 0,
    messagesReceived: 0,
    messageBytes: 0,
  });
  const reportedAt = (now: number) => {
    const before = sent.length;
    reporter.flushDue(now);
    return sent
      .slice(before)
      .map((m) => m.topic.split('/')[2])
      .filter((thing) => thing !== 'gw');
  };
  return { reporter, device, reportedAt };
}

describe('Reporter with many devices', () => {
  it('reports each device when its own window ends, also a device first seen after the others', () => {
    const { reporter, device, reportedAt } = setup();
    reporter.addDevice(device('a', 0)); // windows end at 1000, 2000 …
    reporter.addDevice(device('b', 500)); // … at 1500, 2500 …
    expect(reportedAt(999)).toEqual([]);
    reporter.addDevice(device('a', 999));
    expect(reportedAt(1000)).toEqual(['a']);
    reporter.addDevice(device('b', 1400));
    expect(reportedAt(1499)).toEqual([]);
    expect(reportedAt(1500)).toEqual(['b']);
    // first seen now, with a window that ends before a's and b's next ones
    reporter.addDevice(device('c', 1550));
    reporter.addDevice(device('a', 1600));
    reporter.addDevice(device('b', 1700));
    expect(reportedAt(2000)).toEqual(['a']);
    reporter.addDevice(device('c', 2100)); // c's first window (1550–2550) still open
    expect(reportedAt(2500)).toEqual(['b']);
    expect(reportedAt(2550)).toEqual(['c']);
    // nothing measured in a window: no report for it
    expect(reportedAt(3600)).toEqual([]);
  });
});
