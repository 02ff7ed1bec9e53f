// End-to-end downstream forwarding through the emulator — a device report injected into local
// pub/sub → SubscribeToTopic stream → validation → outbox (disk) → PublishToIoTCore → the cloud record,
// plus the service-style answer to the device (PublishToTopic).
//
// Two baselines in the same run, against the same emulator setup:
// - transport: the same reports through the same IPC stream to a subscriber that does nothing;
// - bare SDK forwarder: a subscriber that hands every message straight to PublishToIoTCore, with no
//   validation, disk, answer or evaluation — the ceiling of any forwarder built on this SDK here.
// Each measurement runs one warm-up round (JIT, first disk segment), then ROUNDS measured rounds; the
// reports are generated before the clock starts and written to the emulator in one chunk, so the driver
// does not take CPU from the agent while it is measured.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Agent } from '../src/agent/agent.ts';
import { GreengrassIpcClient } from '../src/ipc/ipcClient.ts';
import type { LocalMessage } from '../src/ipc/ipcTypes.ts';
import { silentLogger } from '../src/log.ts';
import { readProcStat } from '../src/system/procfs.ts';
import { until } from '../test/support/until.ts';
import type { BenchSuite } from './run.ts';
import { median, percentile, round } from './stats.ts';

const RECIPE = fileURLToPath(new URL('../recipe.yaml', import.meta.url));
const CLI = fileURLToPath(new URL('../bin/defender-edge.js', import.meta.url));
const TOKEN = 'BENCHTOKEN000001';
const N = Number(process.env.BENCH_DS_N ?? 4000);
const ROUNDS = Number(process.env.BENCH_DS_ROUNDS ?? 5);
const DEVICES = 50;

function report(i: number): string {
  return JSON.stringify({
    header: { report_id: 1_000_000 + i, version: '1.0' },
    metrics: {
      network_stats: { bytes_in: 1000 + i, bytes_out: 2000, packets_in: 10, packets_out: 20 },
      listening_tcp_ports: {
        ports: [
          { port: 22, interface: 'eth0' },
          { port: 443, interface: 'eth0' },
        ],
        total: 2,
      },
      tcp_connections: {
        established_connections: {
          connections: [{ remote_addr: '203.0.113.7:443', local_port: 50000, local_interface: 'eth0' }],
          total: 1,
        },
      },
    },
  });
}

/** One round's control lines: N reports from DEVICES devices, report_ids increasing per device. */
function burst(first: number): string {
  let text = '';
  for (let i = first; i < first + N; i++) text += `local-publish $aws/things/dev-${i % DEVICES}/defender/metrics/json ${report(i)}\n`;
  return text;
}

/** CPU time (user + system, ms) of another process, all its threads. */
function cpuMsOf(pid: number): number {
  const s = readProcStat(pid);
  return s === undefined ? 0 : ((s.utime + s.stime) * 1000) / 100; // USER_HZ is 100 on Linux
}

interface EmulatorProcess {
  pid: number;
  socketPath: string;
  send(text: string): void;
  status(): Promise<{ recordsWritten: number; openStreams: number }>;
}

/** The emulator in its own process, as the nucleus is on a gateway: its CPU is not the agent's. */
async function withEmulator<T>(fn: (emu: EmulatorProcess, dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'dedge-bench-ds-'));
  const overrides = join(dir, 'overrides.json');
  writeFileSync(
    overrides,
    JSON.stringify({
      stateDir: join(dir, 'state'),
      heartbeat: { enabled: false },
      sampling: { intervalMs: 1000 },
      downstream: { thingNamePattern: 'dev-[0-9]+' },
      outbox: { maxEntries: 1_000_000, maxBytes: 1 << 30 },
    }),
  );
  const socketPath = join(dir, 'ipc.sock');
  const child = spawn(
    process.execPath,
    [
      CLI,
      'emulator',
      '--socket',
      socketPath,
      '--recipe',
      RECIPE,
      '--config',
      overrides,
      '--thing',
      'BenchGw',
      '--token',
      TOKEN,
      '--record',
      join(dir, 'cloud.jsonl'),
      '--log-level',
      'error',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  // The first line is the ready line; `local-publish` answers are ignored; a `status` answer has `online`.
  let onReady: (() => void) | undefined;
  let onStatus: ((s: { recordsWritten: number; openStreams: number }) => void) | undefined;
  lines.on('line', (line) => {
    const o = JSON.parse(line) as Record<string, unknown>;
    if (o.ready === true) onReady?.();
    else if ('online' in o) onStatus?.(o as unknown as { recordsWritten: number; openStreams: number });
  });
  await new Promise<void>((r) => {
    onReady = r;
  });
  const emu: EmulatorProcess = {
    pid: child.pid!,
    socketPath,
    send(text) {
      child.stdin!.write(text);
    },
    status() {
      const answer = new Promise<{ recordsWritten: number; openStreams: number }>((r) => {
        onStatus = r;
      });
      child.stdin!.write('status\n');
      return answer;
    },
  };
  try {
    return await fn(emu, dir);
  } finally {
    child.stdin!.end();
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Rounds {
  /** median reports/s over the measured rounds */
  perSec: number;
  roundsPerSec: number[];
  warmUpPerSec: number;
  /** median CPU per report over the measured rounds (µs): this process (all threads), the emulator's */
  agentCpuUsPerReport: number;
  emulatorCpuUsPerReport: number;
}

/** Warm-up plus ROUNDS rounds of N reports each; `done()` counts what the measured side finished. */
async function rounds(emu: EmulatorProcess, done: () => number): Promise<Rounds> {
  const rates: number[] = [];
  const agentCpu: number[] = [];
  const emuCpu: number[] = [];
  let warmUp = 0;
  for (let r = 0; r <= ROUNDS; r++) {
    const text = burst(r * N);
    const before = done();
    const c0 = process.cpuUsage();
    const e0 = cpuMsOf(emu.pid);
    const t0 = performance.now();
    emu.send(text);
    await until(() => done() - before >= N, 120_000, 'every report answered', 5).catch((e: Error) => {
      throw new Error(`${e.message}: ${done() - before}/${N} in round ${r}`);
    });
    const seconds = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    if (r === 0) {
      warmUp = N / seconds;
      continue;
    }
    rates.push(N / seconds);
    agentCpu.push((c.user + c.system) / N);
    emuCpu.push(((cpuMsOf(emu.pid) - e0) * 1000) / N);
  }
  return {
    perSec: round(median(rates), 0),
    roundsPerSec: rates.map((x) => round(x, 0)),
    warmUpPerSec: round(warmUp, 0),
    agentCpuUsPerReport: round(median(agentCpu), 0),
    emulatorCpuUsPerReport: round(median(emuCpu), 0),
  };
}

/** A plain SDK client subscribed to the device report topic; `handle` returns the count of finished messages. */
async function withSubscriber(
  handle: (ipc: GreengrassIpcClient) => { onMessage: (m: LocalMessage) => void; done: () => number },
): Promise<Rounds> {
  return withEmulator(async (emu) => {
    const ipc = new GreengrassIpcClient({ socketPath: emu.socketPath, authToken: TOKEN });
    ipc.start();
    await ipc.whenConnected(5000);
    const h = handle(ipc);
    ipc.subscribeToTopic('$aws/things/+/defender/metrics/+', h.onMessage);
    await new Promise((r) => setTimeout(r, 300));
    const result = await rounds(emu, h.done);
    await ipc.stop();
    return result;
  });
}

const transportBaseline = (): Promise<Rounds> =>
  withSubscriber(() => {
    let got = 0;
    return {
      onMessage: () => {
        got++;
      },
      done: () => got,
    };
  });

const bareSdkForwarder = (): Promise<Rounds> =>
  withSubscriber((ipc) => {
    let published = 0;
    return {
      onMessage: (m) => {
        const payload = m.kind === 'binary' ? m.value : Buffer.from(JSON.stringify(m.value));
        void ipc.publishToIoTCore(m.topic, payload, 1).then(
          () => {
            published++;
          },
          () => {
            published++;
          },
        );
      },
      done: () => published,
    };
  });

/**
 * Device reports accepted, counted once the outbox has handed everything to the nucleus (it also carries
 * the agent's violation records, so its own count is not the number of reports).
 */
function forwardedAndSent(agent: Agent): number {
  const s = agent.snapshot();
  return s.outbox.depth === 0 ? (s.downstream as { accepted: number }).accepted : 0;
}

const PACED_PER_SEC = Number(process.env.BENCH_DS_PACED ?? 3000);
const PACED_SECONDS = 3;

/**
 * A steady offered load below capacity, 1/100 s at a time: nothing should be shed then, every device gets
 * its answer, and the latency from injection to the cloud record says what a report waits.
 */
async function pacedForwarding(): Promise<{
  offeredPerSec: number;
  seconds: number;
  forwarded: number;
  answersSent: number;
  answersShed: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}> {
  return withEmulator(async (emu, dir) => {
    const agent = new Agent({
      socketPath: emu.socketPath,
      authToken: TOKEN,
      thingName: 'BenchGw',
      bootstrapStateDir: join(dir, 'boot'),
      logger: silentLogger(),
      reportIntervalOverrideSeconds: 3600,
    });
    await agent.start();
    await new Promise((r) => setTimeout(r, 300));
    emu.send(burst(0)); // warm-up
    await until(() => forwardedAndSent(agent) >= N, 120_000, 'every report forwarded', 5);
    const before = agent.snapshot().downstream as { accepted: number; answersShed: number; answerFailures: number };
    const perTick = PACED_PER_SEC / 100;
    const total = PACED_PER_SEC * PACED_SECONDS;
    const sentAt = new Map<number, number>();
    const t0 = performance.now();
    for (let tick = 0; tick * perTick < total; tick++) {
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + tick * 10 - performance.now())));
      let text = '';
      const now = Date.now();
      for (let i = N + tick * perTick; i < N + Math.min(total, (tick + 1) * perTick); i++) {
        sentAt.set(1_000_000 + i, now);
        text += `local-publish $aws/things/dev-${i % DEVICES}/defender/metrics/json ${report(i)}\n`;
      }
      emu.send(text);
    }
    await until(() => forwardedAndSent(agent) >= N + total, 120_000, 'every report forwarded', 5);
    const after = agent.snapshot().downstream as { accepted: number; answersShed: number; answerFailures: number };
    await agent.stop();
    await emu.status();
    const latencies: number[] = [];
    for (const line of readFileSync(join(dir, 'cloud.jsonl'), 'utf8').split('\n')) {
      if (!line.includes('$aws/things/dev-')) continue;
      const m = JSON.parse(line) as { ts: number; payload: string };
      const sent = sentAt.get((JSON.parse(m.payload) as { header: { report_id: number } }).header.report_id);
      if (sent !== undefined) latencies.push(m.ts - sent);
    }
    const shed = after.answersShed - before.answersShed;
    return {
      offeredPerSec: PACED_PER_SEC,
      seconds: PACED_SECONDS,
      forwarded: latencies.length,
      answersSent: after.accepted - before.accepted - shed - (after.answerFailures - before.answerFailures),
      answersShed: shed,
      latencyP50Ms: median(latencies),
      latencyP99Ms: percentile(latencies, 99),
    };
  });
}

async function agentForwarder(): Promise<
  Rounds & { accepted: number; inCloud: number; duplicatesInCloud: number; answersShed: number; answerFailures: number }
> {
  return withEmulator(async (emu, dir) => {
    const agent = new Agent({
      socketPath: emu.socketPath,
      authToken: TOKEN,
      thingName: 'BenchGw',
      bootstrapStateDir: join(dir, 'boot'),
      logger: silentLogger(),
      reportIntervalOverrideSeconds: 3600,
    });
    await agent.start();
    await new Promise((r) => setTimeout(r, 300));
    const result = await rounds(emu, () => forwardedAndSent(agent));
    const { accepted, answersShed, answerFailures } = agent.snapshot().downstream as {
      accepted: number;
      answersShed: number;
      answerFailures: number;
    };
    await agent.stop();
    await emu.status(); // the emulator has handled everything sent before this answer
    // The cloud record: each device report exactly once (QoS 1 allows duplicates; none are expected here).
    const forwarded = new Set<string>();
    let duplicates = 0;
    for (const line of readFileSync(join(dir, 'cloud.jsonl'), 'utf8').split('\n')) {
      if (!line.includes('$aws/things/dev-')) continue;
      const m = JSON.parse(line) as { topic: string; payload: string };
      const key = `${m.topic} ${(JSON.parse(m.payload) as { header: { report_id: number } }).header.report_id}`;
      if (forwarded.has(key)) duplicates++;
      forwarded.add(key);
    }
    return { ...result, accepted, inCloud: forwarded.size, duplicatesInCloud: duplicates, answersShed, answerFailures };
  });
}

export const suite: BenchSuite = {
  name: 'downstream-forwarding',
  async run() {
    const transport = await transportBaseline();
    const bare = await bareSdkForwarder();
    const agent = await agentForwarder();
    const paced = await pacedForwarding();
    const sent = (ROUNDS + 1) * N;
    return {
      reportsPerRound: N,
      measuredRounds: ROUNDS,
      transportBaseline: transport,
      bareSdkForwarder: bare,
      forwarding: agent,
      forwardedReportsPerSec: agent.perSec,
      ratioToBareSdkForwarder: round(agent.perSec / bare.perSec, 3),
      ratioToTransport: round(agent.perSec / transport.perSec, 3),
      reportsSent: sent,
      // Every report accepted by the agent and in the cloud record, once.
      lostReports: sent - Math.min(agent.accepted, agent.inCloud),
      // A burst of N reports at once: answers beyond 32 in flight are shed (counted), as a flood would be.
      answersSent: agent.accepted - agent.answersShed - agent.answerFailures,
      paced,
      note:
        'emulator (nucleus stand-in) in its own process on the same 2 cores; per forwarded report the agent takes ' +
        'one inbound stream message and makes one PublishToIoTCore (plus the answer, PublishToTopic, unless shed)',
      target: '>= 5000 reports/s end to end',
    };
  },
};
