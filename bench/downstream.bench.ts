// Issue 3: end-to-end downstream forwarding through the emulator — a device report injected into local
// pub/sub → SubscribeToTopic stream → validation → answer (PublishToTopic) → outbox (disk) →
// PublishToIoTCore → the cloud record. Baseline in the same run: the same reports through the same IPC
// stream to a subscriber that does nothing (the transport's own ceiling).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from '../src/agent.ts';
import { GreengrassIpcClient } from '../src/ipc/ipcClient.ts';
import { silentLogger } from '../src/log.ts';
import type { BenchSuite } from './run.ts';
import { median, round } from './stats.ts';

const RECIPE = fileURLToPath(new URL('../recipe.yaml', import.meta.url));
const CLI = fileURLToPath(new URL('../bin/defender-edge.js', import.meta.url));
const TOKEN = 'BENCHTOKEN000001';
const N = Number(process.env.BENCH_DS_N ?? 4000);
const ROUNDS = 3;

function report(i: number): string {
  return JSON.stringify({
    header: { report_id: 1_000_000 + i, version: '1.0' },
    metrics: {
      network_stats: { bytes_in: 1000 + i, bytes_out: 2000, packets_in: 10, packets_out: 20 },
      listening_tcp_ports: { ports: [{ port: 22, interface: 'eth0' }, { port: 443, interface: 'eth0' }], total: 2 },
      tcp_connections: { established_connections: { connections: [{ remote_addr: '203.0.113.7:443', local_port: 50000, local_interface: 'eth0' }], total: 1 } },
    },
  });
}

async function until(fn: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('bench timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface EmulatorProcess {
  socketPath: string;
  send(line: string): void;
  status(): Promise<{ recordsWritten: number; openStreams: number }>;
}

/** The emulator in its own process, as the nucleus is on a gateway: its CPU is not the agent's. */
async function withEmulator<T>(fn: (emu: EmulatorProcess, dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'dedge-bench-ds-'));
  const overrides = join(dir, 'overrides.json');
  writeFileSync(overrides, JSON.stringify({ stateDir: join(dir, 'state'), heartbeat: { enabled: false }, sampling: { intervalMs: 1000 }, downstream: { thingNamePattern: 'dev-[0-9]+' }, outbox: { maxEntries: 1_000_000, maxBytes: 1 << 30 } }));
  const socketPath = join(dir, 'ipc.sock');
  const child = spawn(process.execPath, [CLI, 'emulator', '--socket', socketPath, '--recipe', RECIPE, '--config', overrides, '--thing', 'BenchGw', '--token', TOKEN, '--record', join(dir, 'cloud.jsonl'), '--log-level', 'error'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  // The first line is the ready line; `local-publish` answers are ignored; a `status` answer has `online`.
  let onReady: (() => void) | undefined;
  let onStatus: ((s: { recordsWritten: number; openStreams: number }) => void) | undefined;
  lines.on('line', (line) => {
    const o = JSON.parse(line) as Record<string, unknown>;
    if (o.ready === true) onReady?.();
    else if ('online' in o) onStatus?.(o as unknown as { recordsWritten: number; openStreams: number });
  });
  await new Promise<void>((r) => { onReady = r; });
  const emu: EmulatorProcess = {
    socketPath,
    send(line) {
      child.stdin!.write(line + '\n');
    },
    status() {
      const answer = new Promise<{ recordsWritten: number; openStreams: number }>((r) => { onStatus = r; });
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

async function baselineRate(): Promise<number> {
  return withEmulator(async (emu) => {
    const ipc = new GreengrassIpcClient({ socketPath: emu.socketPath, authToken: TOKEN });
    ipc.start();
    await ipc.whenConnected(5000);
    let got = 0;
    ipc.subscribeToTopic('$aws/things/+/defender/metrics/+', () => { got++; });
    await new Promise((r) => setTimeout(r, 300));
    const rates: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      got = 0;
      const t0 = performance.now();
      for (let i = 0; i < N; i++) emu.send(`local-publish $aws/things/dev-${i % 50}/defender/metrics/json ${report(i)}`);
      await until(() => got >= N, 120_000).catch((e: Error) => { throw new Error(`${e.message}: baseline got ${got}/${N}`); });
      rates.push(N / ((performance.now() - t0) / 1000));
    }
    await ipc.stop();
    return median(rates);
  });
}

async function forwardingRate(): Promise<{ rate: number; accepted: number; recorded: number; answersShed: number }> {
  return withEmulator(async (emu, dir) => {
    const agent = new Agent({ socketPath: emu.socketPath, authToken: TOKEN, thingName: 'BenchGw', bootstrapStateDir: join(dir, 'boot'), logger: silentLogger(), reportIntervalOverrideSeconds: 3600 });
    await agent.start();
    await new Promise((r) => setTimeout(r, 300));
    const rates: number[] = [];
    let sent = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const before = agent.snapshot().outbox.published;
      const t0 = performance.now();
      for (let i = 0; i < N; i++) emu.send(`local-publish $aws/things/dev-${sent % 50}/defender/metrics/json ${report(sent++)}`);
      await until(() => agent.snapshot().outbox.published - before >= N, 120_000);
      rates.push(N / ((performance.now() - t0) / 1000));
    }
    const { accepted, answersShed } = agent.snapshot().downstream as { accepted: number; answersShed: number };
    await agent.stop();
    const recorded = (await emu.status()).recordsWritten;
    return { rate: median(rates), accepted, recorded, answersShed };
  });
}

export const suite: BenchSuite = {
  name: 'downstream-forwarding',
  async run() {
    const baseline = await baselineRate();
    const forwarding = await forwardingRate();
    return {
      reportsPerRound: N,
      rounds: ROUNDS,
      baselineIpcStreamReportsPerSec: round(baseline, 0),
      forwardedReportsPerSec: round(forwarding.rate, 0),
      ratioToBaseline: round(forwarding.rate / baseline, 3),
      accepted: forwarding.accepted,
      recordedInCloud: forwarding.recorded,
      // A burst of N reports at once: answers beyond 32 in flight are shed (counted), as a flood would be.
      answersShed: forwarding.answersShed,
      note: 'emulator (nucleus stand-in) in its own process; each forwarded report costs the agent two IPC operations (the answer to the device and PublishToIoTCore) plus one inbound stream message',
      target: '>= 5000 reports/s end to end',
    };
  },
};
