// Outbox: throughput to disk and recovery after the nucleus restarts.
// 1. Throughput: N report-sized messages enqueued while the publisher is blocked (everything goes to
//    disk: p50 µs per enqueue, messages/s), then drained when it unblocks, and enqueue+drain overall.
//    Same-run baseline: appendFileSync of the very same lines to one file (what a naive journal costs).
// 2. Recovery: the real IPC client (backoff capped as the agent sets it) + outbox against the emulator;
//    the emulator is stopped, messages are queued meanwhile, a new emulator listens on the socket: ms
//    from "socket back" to the first message reaching the simulated cloud (median and max of 5 runs).
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GreengrassEmulator } from '../src/ipc/emulator/emulator.ts';
import { GreengrassIpcClient } from '../src/ipc/ipcClient.ts';
import { Outbox } from '../src/ipc/outbox.ts';
import { silentLogger } from '../src/log.ts';
import { until } from '../test/support/until.ts';
import type { BenchSuite } from './run.ts';
import { median, percentile, round } from './stats.ts';

const N = 20_000;
const TOKEN = 'OUTBOXBENCHTOKEN';

function reportPayload(i: number): string {
  return JSON.stringify({
    header: { report_id: 1_700_000_000_000 + i, version: '1.0' },
    metrics: {
      network_stats: { bytes_in: 1835271 + i, bytes_out: 402117, packets_in: 2210, packets_out: 1874 },
      listening_tcp_ports: { ports: Array.from({ length: 12 }, (_, p) => ({ port: 1000 + p, interface: 'eth0' })), total: 12 },
      tcp_connections: {
        established_connections: {
          connections: Array.from({ length: 6 }, (_, c) => ({
            remote_addr: `192.0.2.${c + 1}:8883`,
            local_port: 40000 + c,
            local_interface: 'eth0',
          })),
          total: 6,
        },
      },
    },
  });
}

async function throughput(dir: string): Promise<Record<string, unknown>> {
  const messages = Array.from({ length: N }, (_, i) => ({
    kind: 'report' as const,
    topic: '$aws/things/gw/defender/metrics/json',
    payload: reportPayload(i),
    encoding: 'utf8' as const,
    reportId: i + 1,
  }));
  // Baseline: the same lines, appended one by one.
  const lines = messages.map((m, i) => `${JSON.stringify({ seq: i + 1, v: { ...m, enqueuedAt: 0 } })}\n`);
  const b0 = performance.now();
  for (const l of lines) appendFileSync(join(dir, 'baseline.jsonl'), l);
  const baselineMs = performance.now() - b0;

  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const outbox = new Outbox({
    dir: join(dir, 'outbox'),
    maxEntries: N * 2,
    maxBytes: 2 ** 30,
    logger: silentLogger(),
    publish: () => gate,
  });
  outbox.start();
  const per: number[] = [];
  const e0 = performance.now();
  for (const m of messages) {
    const s = performance.now();
    outbox.enqueue(m);
    per.push((performance.now() - s) * 1000);
  }
  const enqueueMs = performance.now() - e0;
  const d0 = performance.now();
  open();
  const drained = await outbox.drained(120_000);
  const drainMs = performance.now() - d0;
  const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l), 0);
  outbox.stop();
  return {
    messages: N,
    bytesPerMessage: Math.round(bytes / N),
    drained,
    baselineAppendFileSync: { perSecond: round((N / baselineMs) * 1000, 0) },
    enqueueToDisk: { perSecond: round((N / enqueueMs) * 1000, 0), p50Us: round(median(per), 1), p99Us: round(percentile(per, 99), 1) },
    drain: { perSecond: round((N / drainMs) * 1000, 0) },
    enqueuePlusDrain: { perSecond: round((N / (enqueueMs + drainMs)) * 1000, 0) },
    ratioEnqueueVsBaseline: round(baselineMs / enqueueMs, 2),
  };
}

async function recovery(dir: string): Promise<Record<string, unknown>> {
  const socketPath = join(dir, 'ipc.sock');
  let emu = new GreengrassEmulator({ socketPath, token: TOKEN });
  await emu.start();
  const ipc = new GreengrassIpcClient({ socketPath, authToken: TOKEN, backoff: { maxMs: 2000 } });
  const outbox = new Outbox({
    dir: join(dir, 'recovery-outbox'),
    maxEntries: 10_000,
    maxBytes: 2 ** 26,
    logger: silentLogger(),
    publish: (t, p, q) => ipc.publishToIoTCore(t, p, q),
  });
  ipc.on('connected', () => outbox.retryNow()); // as src/agent/agent.ts wires it
  ipc.start();
  await ipc.whenConnected(10_000);
  outbox.start();
  const samples: number[] = [];
  try {
    for (let run = 0; run < 5; run++) {
      await emu.stop();
      await until(() => !ipc.isConnected(), 10_000, 'the client to see the emulator gone', 2);
      for (let i = 0; i < 20; i++)
        outbox.enqueue({ kind: 'report', topic: 'defender-edge/bench/report', payload: reportPayload(i), encoding: 'utf8' });
      await new Promise((res) => setTimeout(res, 1500)); // an outage: a few reconnect attempts fail
      emu = new GreengrassEmulator({ socketPath, token: TOKEN });
      await emu.start();
      const back = performance.now();
      await until(() => emu.status().recordsWritten > 0, 30_000, 'the first record after the restart', 2);
      samples.push(performance.now() - back);
      expectDrained(await outbox.drained(10_000));
    }
  } finally {
    outbox.stop();
    await ipc.stop();
    await emu.stop();
  }
  return {
    runs: samples.length,
    outageMs: 1500,
    socketBackToFirstPublishMs: { median: round(median(samples), 0), max: round(Math.max(...samples), 0) },
  };
}

function expectDrained(ok: boolean): void {
  if (!ok) throw new Error('outbox did not drain after the restart');
}

export const suite: BenchSuite = {
  name: 'outbox',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'dedge-bench-outbox-'));
    try {
      return { throughputToDisk: await throughput(dir), recoveryAfterEmulatorRestart: await recovery(dir) };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
