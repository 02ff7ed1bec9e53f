// Fault test, the cloud offline for a simulated 24 h at the default report cadence: the agent runs
// in-process against the emulator; the cloud goes offline for 288 reporting intervals (24 h of 300 s
// reports, time compressed with reportIntervalOverrideSeconds) while a downstream device flaps a behavior,
// producing violations and forwarded reports meanwhile. The nucleus spool is small (32 KiB) so it fills
// early and refuses; from then on our outbox holds the backlog on disk. After the cloud returns, every
// report and violation arrives, in the order the agent queued it, each report with its original
// report_id; duplicates only as QoS 1 allows (the receiver dedupes by report_id).
//
// Ordering (ipc/outbox.ts): the nucleus spooled the oldest messages, the outbox holds everything after
// them, one in flight, head first. When the cloud returns the nucleus sends its spool first, and the
// outbox's head is retried only after a refusal, so no later message can overtake an earlier one.
//
// Both cores. Nucleus lite has no spooler: every publish is refused from the first offline moment, so the
// outbox holds the whole day on disk and retries its head with backoff — never faster than the backoff
// allows, and with every set-up call made once (test/support/nucleusCalls.ts).

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { Agent } from '../../src/agent/agent.ts';
import { GreengrassEmulator } from '../../src/ipc/emulator/emulator.ts';
import { NUCLEUS_FLAVORS } from '../../src/ipc/emulator/flavor.ts';
import type { Outbox, OutboxMessage } from '../../src/ipc/outbox.ts';
import { silentLogger } from '../../src/log.ts';
import { callsBeyondBudget, ONE_CONNECTION_BUDGET } from '../support/nucleusCalls.ts';
import { until } from '../support/until.ts';

const RECIPE = fileURLToPath(new URL('../../recipe.yaml', import.meta.url));
const TOKEN = 'OFFLINETESTTOKEN';
const GW = 'GatewayThing';
const DAY_OF_REPORTS = 288; // 24 h / 300 s
const SPOOL = 32 * 1024;
const MAX_BACKOFF_MS = 500;

interface Recorded {
  topic: string;
  payload: string;
}

// The two cores' days run side by side (concurrent: each test owns its emulator, agent and temp dir, and
// cleans them up itself): the wait for 288 reports is most of the time, and waiting twice in a row would
// double it.
describe.concurrent.each(NUCLEUS_FLAVORS)('cloud offline for a simulated day on %s', (nucleus) => {
  it(`${DAY_OF_REPORTS} reports and the violations meanwhile all arrive afterwards, in order, ids unchanged`, async ({
    expect,
    onTestFinished,
  }) => {
    const cleanup: Array<() => Promise<void> | void> = [];
    onTestFinished(async () => {
      for (const c of cleanup.reverse()) await c();
    });
    const dir = mkdtempSync(join(tmpdir(), 'dedge-offline-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const record = join(dir, 'cloud.jsonl');
    const emulator = new GreengrassEmulator({
      nucleus,
      socketPath: join(dir, 'ipc.sock'),
      recipe: RECIPE,
      token: TOKEN,
      thingName: GW,
      recordFile: record,
      spoolMaxBytes: SPOOL,
      overrides: {
        stateDir: join(dir, 'state'),
        sampling: { intervalMs: 100 },
        // Light samples (no per-process, custom metric or per-socket byte collection): a report per sample.
        collector: { perProcess: false, customMetrics: false, tcpBytes: false },
        heartbeat: { enabled: false },
        outbox: { maxBackoffMs: MAX_BACKOFF_MS },
        downstream: { devices: [{ thingName: 'Dev1', addresses: ['192.0.2.10'] }] },
        behaviors: [
          { name: 'noSsh', metric: 'aws:listening-tcp-ports', criteria: { comparisonOperator: 'not-in-port-set', value: { ports: [22] } } },
        ],
      },
    });
    await emulator.start();
    cleanup.push(() => emulator.stop());
    // 0.1 s stands for the 300 s default cadence: 288 intervals are a day.
    const agent = new Agent({
      socketPath: join(dir, 'ipc.sock'),
      authToken: TOKEN,
      thingName: GW,
      bootstrapStateDir: join(dir, 'boot'),
      logger: silentLogger(),
      reportIntervalOverrideSeconds: 0.1,
      connectWaitMs: 30_000,
    });
    cleanup.push(() => agent.stop());
    await agent.start();

    // Everything the agent hands the outbox, in order: the reference for what must reach the cloud.
    const outbox = (agent as unknown as { outbox: Outbox }).outbox;
    const queued: Recorded[] = [];
    const enqueue = outbox.enqueue.bind(outbox);
    outbox.enqueue = (m: Omit<OutboxMessage, 'enqueuedAt'>) => {
      queued.push({ topic: m.topic, payload: m.payload });
      enqueue(m);
    };
    const cloud = (): Recorded[] =>
      existsSync(record)
        ? readFileSync(record, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => {
              const m = JSON.parse(l) as Recorded;
              return { topic: m.topic, payload: m.payload };
            })
        : [];
    await until(() => cloud().some((m) => m.topic === `$aws/things/${GW}/defender/metrics/json`), 20_000, 'a first report while online');

    // Nothing in flight when the cloud leaves (drained() resolves with no I/O before the next line).
    expect(await outbox.drained(10_000)).toBe(true);
    const publishesBefore = emulator.requestCount('PublishToIoTCore');
    const recordedBefore = emulator.status().recordsWritten;
    const offlineAt = Date.now();
    emulator.setOnline(false);
    const offlineFrom = queued.length;
    const cloudBefore = cloud().length;
    const hostReportsQueued = () => queued.slice(offlineFrom).filter((m) => m.topic === `$aws/things/${GW}/defender/metrics/json`).length;
    // A downstream device flaps: port 22 open (in-alarm), closed (cleared), … while the cloud is away.
    let rid = 5000;
    const violations: string[] = [];
    agent.on('violation', (ev) => violations.push(`${ev.violationId}:${ev.event}`));
    const flap = setInterval(() => {
      rid++;
      const ports = rid % 2 === 0 ? [{ port: 22 }] : [];
      emulator.publishLocal(
        '$aws/things/Dev1/defender/metrics/json',
        Buffer.from(
          JSON.stringify({ header: { report_id: rid, version: '1.0' }, metrics: { listening_tcp_ports: { ports, total: ports.length } } }),
        ),
      );
    }, 400);
    cleanup.push(() => clearInterval(flap));
    await until(() => hostReportsQueued() >= DAY_OF_REPORTS, 120_000, `${DAY_OF_REPORTS} host reports queued offline`);
    clearInterval(flap);
    await new Promise((res) => setTimeout(res, 200)); // the last flap's violation and forward are queued

    // Offline: the Java nucleus's spool is full and our outbox holds the rest, on disk; lite has no spool and
    // refuses every publish, so the outbox holds everything.
    const status = emulator.status();
    if (nucleus === 'classic') expect(status.spoolBytes).toBeGreaterThan(SPOOL / 2);
    else expect(status.spoolBytes).toBe(0);
    expect(cloud().length).toBe(cloudBefore);
    const held = agent.snapshot().outbox;
    expect(held.depth).toBeGreaterThan(nucleus === 'classic' ? DAY_OF_REPORTS / 2 : DAY_OF_REPORTS);
    expect(held.lastError).toMatch(nucleus === 'classic' ? /spool is full/i : /Failed to publish the message/);
    expect(readdirSync(join(dir, 'state', 'outbox')).some((f) => f.startsWith('seg-'))).toBe(true);
    expect(violations.length).toBeGreaterThan(10);

    // A refused publish is retried after the outbox's backoff (doubling up to maxBackoffMs, ±20 %), one at a
    // time: however long the outage, no more refusals than the backoff allows.
    // (Requests the nucleus took — recorded, or spooled on the Java nucleus — were not refused.)
    const offlineMs = Date.now() - offlineAt;
    const took = emulator.status().recordsWritten - recordedBefore + emulator.status().spoolDepth;
    const refused = emulator.requestCount('PublishToIoTCore') - publishesBefore - took;
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThanOrEqual(Math.ceil(offlineMs / (0.8 * MAX_BACKOFF_MS)) + 5);

    emulator.setOnline(true);
    const expected = queued.slice(offlineFrom);
    await until(
      () => agent.snapshot().outbox.depth === 0 && cloud().length - cloudBefore >= expected.length,
      60_000,
      'the backlog delivered',
    );

    // The receiving side: in order, each message once after dropping QoS 1 repeats (by report_id for reports).
    const arrived = cloud().slice(cloudBefore);
    const seen = new Set<string>();
    const deduped = arrived.filter((m) => {
      const id = m.topic.includes('/defender/metrics/')
        ? `${m.topic}#${(JSON.parse(m.payload) as { header: { report_id: number } }).header.report_id}`
        : `${m.topic}#${m.payload}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    // Everything queued since the cloud left, exactly in queue order (later messages may follow).
    expect(deduped.slice(0, expected.length)).toEqual(expected);
    expect(arrived.length - deduped.length).toBe(0); // in-process, nothing was repeated
    const hostIds = deduped
      .filter((m) => m.topic === `$aws/things/${GW}/defender/metrics/json`)
      .map((m) => (JSON.parse(m.payload) as { header: { report_id: number } }).header.report_id);
    expect(hostIds.length).toBeGreaterThanOrEqual(DAY_OF_REPORTS);
    for (let i = 1; i < hostIds.length; i++) expect(hostIds[i]).toBeGreaterThan(hostIds[i - 1]!);
    // The device's own reports keep the device's report_id; violations and actions are all there.
    // (The agent's own reports about Dev1 share the topic; the forwarded ones are those with the device's ids.)
    const devIds = deduped
      .filter((m) => m.topic === '$aws/things/Dev1/defender/metrics/json')
      .map((m) => (JSON.parse(m.payload) as { header: { report_id: number } }).header.report_id)
      .filter((id) => id <= rid);
    expect(devIds.length).toBeGreaterThan(10);
    expect(devIds).toEqual([...devIds].sort((a, b) => a - b));
    expect(devIds.every((id) => id > 5000)).toBe(true);
    const cloudViolations = deduped
      .filter((m) => m.topic === 'defender-edge/Dev1/violations')
      .map((m) => JSON.parse(m.payload) as { record: string; violationId: string; event: string })
      .filter((d) => d.record === 'violation');
    expect(cloudViolations.map((v) => `${v.violationId}:${v.event}`)).toEqual(violations.slice(0, cloudViolations.length));
    expect(cloudViolations.length).toBe(violations.length);
    expect(agent.snapshot().outbox.droppedTotal).toBe(0);
    expect(callsBeyondBudget(emulator.requestCounts(), ONE_CONNECTION_BUDGET[nucleus])).toEqual([]);
  }, 180_000);
});
