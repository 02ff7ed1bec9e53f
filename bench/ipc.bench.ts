// PublishToIoTCore round trips through the emulator with the real SDK client over a real Unix socket.
// Reports messages/s and p50/p99 latency, sequential and pipelined, plus UpdateState (an operation that
// does nothing) as the same-run baseline: the ratio is the cost of the publish path itself.
// Emulator and client share one process (as in the tests), so numbers include both sides.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { greengrasscoreipc } from 'aws-iot-device-sdk-v2';
import { GreengrassEmulator } from '../src/ipc/emulator/emulator.ts';
import { sdkClientConfig } from '../src/ipc/sdkClientConfig.ts';
import type { BenchSuite } from './run.ts';
import { median, percentile, round } from './stats.ts';

const QOS1 = greengrasscoreipc.model.QOS.AT_LEAST_ONCE;

async function timed(n: number, op: () => Promise<unknown>): Promise<{ perSecond: number; p50Ms: number; p99Ms: number }> {
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await op();
    lat.push(performance.now() - s);
  }
  const total = performance.now() - t0;
  return { perSecond: round((n / total) * 1000, 0), p50Ms: round(median(lat)), p99Ms: round(percentile(lat, 99)) };
}

async function pipelined(
  n: number,
  inFlight: number,
  op: () => Promise<unknown>,
): Promise<{ perSecond: number; p50Ms: number; p99Ms: number }> {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      const s = performance.now();
      await op();
      lat.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const total = performance.now() - t0;
  return { perSecond: round((n / total) * 1000, 0), p50Ms: round(median(lat)), p99Ms: round(percentile(lat, 99)) };
}

export const suite: BenchSuite = {
  name: 'ipc',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'dedge-bench-'));
    const emu = new GreengrassEmulator({
      socketPath: join(dir, 'ipc.sock'),
      token: 'BENCHTOKEN000001',
      recordFile: join(dir, 'cloud.jsonl'),
    });
    await emu.start();
    const client = greengrasscoreipc.createClient(sdkClientConfig(emu.socketPath, 'BENCHTOKEN000001'));
    try {
      await client.connect();
      const payload = JSON.stringify({
        header: { report_id: 1, version: '1.0' },
        metrics: { listening_tcp_ports: { ports: [{ port: 22 }], total: 1 } },
      });
      const publish = () => client.publishToIoTCore({ topicName: 'defender-edge/bench/heartbeat', qos: QOS1, payload });
      const noop = () => client.updateState({ state: greengrasscoreipc.model.ReportedLifecycleState.RUNNING });
      for (let i = 0; i < 200; i++) await publish(); // warm-up (JIT, CRT buffers)
      for (let i = 0; i < 200; i++) await noop();
      const N = 2000;
      const baseline = await timed(N, noop);
      const sequential = await timed(N, publish);
      const concurrent = await pipelined(5000, 32, publish);
      return {
        payloadBytes: Buffer.byteLength(payload),
        baselineUpdateState: baseline,
        publishToIoTCoreSequential: sequential,
        publishToIoTCorePipelined32: concurrent,
        ratioPublishVsBaselineP50: round(sequential.p50Ms / baseline.p50Ms, 2),
        ratioPipelinedVsSequentialThroughput: round(concurrent.perSecond / sequential.perSecond, 2),
        recordsWritten: emu.status().recordsWritten,
      };
    } finally {
      await client.close().catch(() => undefined);
      await emu.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
