// Fault test: each violation and action record reaches the cloud once, and no alarm is raised twice,
// while the real agent (`defender-edge run`, a child process) is stopped at random points — SIGTERM in
// one test, SIGKILL in the other — with alarms open and records in flight, the simulated IoT Core online
// in some rounds and offline (the nucleus spools what it takes) in others. The nucleus (our emulator, in
// this process) keeps running throughout, so it never loses its spool — except in the third test, where
// it restarts while the agent is down and its memory spool is lost.
//
// What the agent produced is observed independently: every record is published on local pub/sub after it
// is in the outbox, and the test listens there. At the end (IoT Core online, the agent started once more)
// every record seen locally must be in the emulator's cloud record file:
// - SIGTERM: no message of any kind reaches the cloud twice;
// - SIGKILL, or a nucleus restart: a second copy is allowed only when it is byte-identical (same topic, same payload, so the same
//   recordId or report_id); the copies are counted;
// - one in-alarm per violation id, and per subject an alarm is cleared before it is raised again: the
//   gateway's alarm, violating from the first sample to the last, is raised exactly once.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { GreengrassEmulator } from '../../src/ipc/emulator/emulator.ts';
import { CLI } from '../support/ipc.ts';
import { prng, runSeed } from '../support/prng.ts';
import { until } from '../support/until.ts';

const RECIPE = fileURLToPath(new URL('../../recipe.yaml', import.meta.url));
const GW = 'RecordsGateway';
const TOKEN = 'RECORDSTESTTOKEN';
const DEVICES = ['Dev1', 'Dev2', 'Dev3'];
const ROUNDS = process.env.CI === 'true' ? 12 : 8;

const dirs: string[] = [];
const children: ChildProcess[] = [];
const emulators: GreengrassEmulator[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const e of emulators.splice(0)) await e.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface CloudLine {
  topic: string;
  payload: string;
}
interface RecordDoc {
  record: 'violation' | 'action';
  recordId: string;
  violationId?: string;
  event?: string;
  thingName?: string;
  behavior?: string;
  outcome?: string;
  violation?: { violationId: string };
}

const exited = (c: ChildProcess): Promise<void> =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((resolve) => c.once('exit', () => resolve()));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A device's own Defender report: 3 listening ports break `devPorts` (fewer than 3 is normal). */
function deviceReport(reportId: number, violating: boolean): unknown {
  const ports = violating ? [22, 80, 443] : [22];
  return {
    header: { report_id: reportId, version: '1.0' },
    metrics: { listening_tcp_ports: { ports: ports.map((port) => ({ port })), total: ports.length } },
  };
}

async function scenario(signal: 'SIGTERM' | 'SIGKILL', restartNucleus = false) {
  const seed = runSeed();
  const r = prng(seed);
  const dir = mkdtempSync(join(tmpdir(), 'dedge-records-'));
  dirs.push(dir);
  const recordFile = join(dir, 'cloud.jsonl');
  const emulatorOptions = {
    socketPath: join(dir, 'ipc.sock'),
    recipe: RECIPE,
    token: TOKEN,
    thingName: GW,
    recordFile,
    overrides: {
      sampling: { intervalMs: 200 },
      heartbeat: { enabled: false },
      collector: { perProcess: false, customMetrics: false, tcpBytes: false },
      downstream: { devices: DEVICES.map((thingName, i) => ({ thingName, addresses: [`192.0.2.${10 + i}`] })) },
      enforcement: { mode: 'dry-run', maxActionsPerMinute: 10_000, revertOnClear: true },
      behaviors: [
        // Violating on every sample (a count is never below 0): one alarm, open from the first sample to the last.
        {
          name: 'hostPorts',
          metric: 'aws:num-listening-tcp-ports',
          criteria: { comparisonOperator: 'less-than', value: { count: 0 } },
          edge: { scope: { host: true } },
        },
        {
          name: 'devPorts',
          metric: 'aws:num-listening-tcp-ports',
          criteria: { comparisonOperator: 'less-than', value: { count: 3 } },
          edge: { scope: { devices: true }, action: { type: 'address-block', ttlSeconds: 3600 } },
        },
      ],
    },
  };
  // What the agent produced: each record is published locally once it is in the outbox.
  const local: RecordDoc[] = [];
  const answered = new Set<number>();
  const startNucleus = async (): Promise<GreengrassEmulator> => {
    const e = new GreengrassEmulator(emulatorOptions);
    emulators.push(e);
    await e.start();
    e.subscribeLocal('defender-edge/violations', (_topic, m) => {
      if (m.kind === 'json') local.push(m.value as RecordDoc);
    });
    e.subscribeLocal('$aws/things/+/defender/metrics/json/accepted', (_topic, m) => {
      // The agent answers as the service does: the JSON document as a binary message.
      const doc = (m.kind === 'json' ? m.value : JSON.parse(m.value.toString('utf8'))) as { reportId: number };
      answered.add(doc.reportId);
    });
    return e;
  };
  let emulator = await startNucleus();
  let reportId = 1_000;
  const publishReport = (device: string, violating: boolean): number => {
    reportId++;
    emulator.publishLocal(`$aws/things/${device}/defender/metrics/json`, deviceReport(reportId, violating));
    return reportId;
  };

  const env = {
    ...process.env,
    AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: join(dir, 'ipc.sock'),
    SVCUID: TOKEN,
    AWS_IOT_THING_NAME: GW,
  };
  const startAgent = async (): Promise<ChildProcess> => {
    const child = spawn(process.execPath, [CLI, 'run', '--state-dir', join(dir, 'state'), '--log-level', 'warn'], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
      cwd: dir,
    });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    // Up: a device report is answered (the downstream subscription is live, records can be produced).
    const from = reportId;
    await until(
      () => {
        if (child.exitCode !== null) throw new Error(`agent exited (${child.exitCode}): ${err}`);
        publishReport(DEVICES[0]!, false);
        return [...answered].some((id) => id > from);
      },
      30_000,
      'the agent answering device reports',
      100,
    );
    return child;
  };

  let sawOnline = false;
  let sawOffline = false;
  for (let round = 0; round < ROUNDS; round++) {
    // Both states at least once: round 0 offline, round 1 online, then at random.
    const online = round === 0 ? false : round === 1 ? true : r.bool();
    if (restartNucleus && round > 0) {
      // The nucleus restarts while the agent is down: a new socket, and its memory spool is gone.
      await emulator.stop();
      emulator = await startNucleus();
    }
    emulator.setOnline(online);
    sawOnline ||= online;
    sawOffline ||= !online;
    const agent = await startAgent();
    // Devices flip between violating and normal while the agent is stopped somewhere in the middle.
    const killAt = Date.now() + 300 + r.int(2500);
    while (Date.now() < killAt) {
      publishReport(DEVICES[r.int(DEVICES.length)]!, r.bool());
      await sleep(20 + r.int(120));
    }
    agent.kill(signal);
    await exited(agent);
    if (signal === 'SIGTERM') expect(agent.exitCode, `round ${round}: exit code after SIGTERM (seed ${seed})`).toBe(0);
  }
  expect(sawOnline && sawOffline).toBe(true);

  // The last run, online: everything the agent produced reaches the cloud.
  emulator.setOnline(true);
  const last = await startAgent();
  const cloud = (): CloudLine[] =>
    existsSync(recordFile)
      ? readFileSync(recordFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as CloudLine)
      : [];
  const cloudRecords = () =>
    cloud()
      .filter((l) => l.topic.startsWith('defender-edge/'))
      .map((l) => ({ line: l, doc: JSON.parse(l.payload) as RecordDoc }));
  const localIds = () => new Set(local.map((d) => d.recordId));
  await until(
    () => {
      const inCloud = new Set(cloudRecords().map((x) => x.doc.recordId));
      return [...localIds()].every((id) => inCloud.has(id));
    },
    30_000,
    'every record seen locally in the cloud record',
    200,
  );
  last.kill('SIGTERM');
  await exited(last);

  const lines = cloud();
  const records = cloudRecords();
  expect(local.length, 'records produced').toBeGreaterThan(0);
  expect(local.every((d) => typeof d.recordId === 'string' && d.recordId.length > 0)).toBe(true);
  expect(records.some((x) => x.doc.record === 'action' && x.doc.outcome === 'would-apply')).toBe(true);

  // Copies: what reached the cloud more than once (any message, reports included).
  const seen = new Map<string, number>();
  for (const l of lines) seen.set(`${l.topic}\n${l.payload}`, (seen.get(`${l.topic}\n${l.payload}`) ?? 0) + 1);
  const copies = [...seen.values()].reduce((n, c) => n + c - 1, 0);
  // A record id always comes with the same bytes: a copy is byte-identical or it is a second record.
  const payloadsById = new Map<string, Set<string>>();
  for (const x of records) payloadsById.set(x.doc.recordId, (payloadsById.get(x.doc.recordId) ?? new Set()).add(x.line.payload));
  const differing = [...payloadsById].filter(([, p]) => p.size > 1).map(([id]) => id);
  expect(differing, `record ids with different payloads (seed ${seed})`).toEqual([]);
  if (signal === 'SIGTERM' && !restartNucleus)
    expect(copies, `messages delivered twice although the nucleus kept running (seed ${seed})`).toBe(0);
  else
    console.info(
      `${signal} x${ROUNDS}${restartNucleus ? ', nucleus restarted each time' : ''}: ${lines.length} messages in the cloud, ` +
        `${copies} byte-identical copies (seed ${seed})`,
    );

  // One in-alarm per violation id, and per (thing, behavior) each alarm ends before the next one starts.
  const firstCopies = [...new Map(records.map((x) => [x.doc.recordId, x.doc])).values()];
  const violations = firstCopies.filter((d) => d.record === 'violation');
  const open = new Map<string, string>();
  const problems: string[] = [];
  for (const v of violations) {
    const key = `${v.thingName}/${v.behavior}`;
    if (v.event === 'in-alarm') {
      if (open.has(key)) problems.push(`${key}: in-alarm ${v.violationId} while ${open.get(key)} is still open`);
      open.set(key, v.violationId!);
    } else {
      if (open.get(key) !== v.violationId) problems.push(`${key}: ${v.event} ${v.violationId} but ${open.get(key) ?? 'none'} is open`);
      open.delete(key);
    }
  }
  expect(problems, `seed ${seed}`).toEqual([]);
  const gatewayAlarms = violations.filter((v) => v.thingName === GW && v.event === 'in-alarm');
  expect(
    gatewayAlarms.map((v) => v.behavior),
    `the gateway's ongoing alarm (seed ${seed})`,
  ).toEqual(['hostPorts']);
  // The enforcer acts once per violation: a restart does not simulate the same block again.
  const actedOn = firstCopies.filter((d) => d.record === 'action' && d.outcome === 'would-apply').map((d) => d.violation!.violationId);
  expect(actedOn.length, `would-apply per violation (seed ${seed})`).toBe(new Set(actedOn).size);
}

describe('records across agent restarts (the nucleus keeps running)', () => {
  it(
    `SIGTERM x${ROUNDS}, IoT Core online and offline: every record delivered, none twice, no alarm raised twice`,
    () => scenario('SIGTERM'),
    240_000,
  );

  it(
    `SIGKILL x${ROUNDS}, IoT Core online and offline: every record delivered, copies only byte-identical, no alarm raised twice`,
    () => scenario('SIGKILL'),
    240_000,
  );
});

describe('records across restarts of the agent and the nucleus', () => {
  // What an offline nucleus held in its memory spool is lost when it restarts: the outbox sees a new nucleus
  // run (a new socket) and sends those records again. Some may have reached the cloud before (online
  // rounds): those arrive twice, byte-identical.
  it(
    `SIGTERM x${ROUNDS}, the nucleus restarted each time: every record delivered, copies only byte-identical`,
    () => scenario('SIGTERM', true),
    240_000,
  );
});
