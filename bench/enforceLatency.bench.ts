// Detect → enforce latency over ≥ 20 runs of the rogue scenario (src/demo/scenario.ts),
// with the product's 1 s sampling and the seed profile per process, action process-terminate.
//
// The two instants, precisely:
//  - crossing: the timestamp of the first sample whose bytesOut window (sum over the last 300 s) reaches
//    10000 for the process — the `t` the agent took (Date.now()) right before collecting that sample, which
//    is the violation event's `t`;
//  - stopped: the moment the parent of the rogue (this process, which runs the agent in-process) sees it
//    exit (child 'exit', i.e. waitpid after SIGCHLD).
// Reported: p50/p99/max of stopped − crossing, split into crossing → action record (sample, evaluation,
// rails, SIGTERM) and action → exit. Baselines measured in the same run: the sample duration (the floor:
// nothing is known before the sample is read) and a bare SIGTERM → exit of the same rogue process.
// One emulator and agent serve every round; each round starts a fresh MQTT rogue and TCP streamer.
import { performance } from 'node:perf_hooks';
import { spawnActor, stopActor } from '../src/demo/cast.ts';
import { RogueScenario } from '../src/demo/scenario.ts';
import type { BenchSuite } from './run.ts';
import { percentile, round } from './stats.ts';

const RUNS = 20;
const BASELINE_RUNS = 10;
const TARGET_P99_MS = 1500;

const dist = (xs: number[]) =>
  xs.length === 0
    ? { n: 0 }
    : { n: xs.length, p50: round(percentile(xs, 50), 1), p99: round(percentile(xs, 99), 1), max: round(Math.max(...xs), 1) };

async function bareSigtermToExit(url: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < BASELINE_RUNS; i++) {
    const a = await spawnActor('rogue-agent', ['--url', url, '--interval-ms', '40']);
    await new Promise((r) => setTimeout(r, 300)); // let it flood a little, as in the scenario
    const exited = new Promise<number>((resolve) => a.child.once('exit', () => resolve(performance.now())));
    const t0 = performance.now();
    a.child.kill('SIGTERM');
    out.push((await exited) - t0);
    await stopActor(a);
  }
  return out;
}

export const suite: BenchSuite = {
  name: 'enforce latency: rogue scenario, crossing sample → process stopped (ms)',
  async run() {
    const scenario = new RogueScenario({ samplingMs: 1000, action: 'process-terminate' });
    const sampleMs: number[] = [];
    scenario.on('sample', (v) => sampleMs.push(v.durationMs));
    await scenario.start();
    const total: number[] = [];
    const byRole: Record<string, number[]> = { 'rogue-agent': [], 'tcp-streamer': [] };
    const toAction: number[] = [];
    const actionToExit: number[] = [];
    const failures: string[] = [];
    let baseline: number[] = [];
    try {
      for (let i = 0; i < RUNS; i++) {
        const s = await scenario.round({ streamer: true, innocent: false, device: false, waitForReport: false, timeoutMs: 30_000 });
        if (s.problems.length > 0) failures.push(`round ${i}: ${s.problems.join('; ')}`);
        for (const o of s.offenders) {
          if (o.detectedAfterMs === null || o.actedAfterMs === null) continue;
          total.push(o.detectedAfterMs);
          byRole[o.role]!.push(o.detectedAfterMs);
          toAction.push(o.actedAfterMs);
          actionToExit.push(o.detectedAfterMs - o.actedAfterMs);
        }
        process.stderr.write(
          `  round ${i + 1}/${RUNS}: ${s.offenders.map((o) => `${o.role} ${o.detectedAfterMs ?? '-'} ms`).join(', ')}\n`,
        );
      }
      baseline = await bareSigtermToExit(scenario.mqttUrl);
    } finally {
      await scenario.stop();
    }
    const p99 = total.length > 0 ? percentile(total, 99) : Number.NaN;
    return {
      runs: RUNS,
      samplingMs: 1000,
      definition:
        'stopped − crossing: crossing = t of the first sample whose 300 s bytesOut window reaches 10000 (the violation ' +
        't); stopped = the parent sees the rogue exit after process-terminate',
      detectToStopMs: dist(total),
      byRogue: { mqttRogueAgent: dist(byRole['rogue-agent']!), tcpStreamer: dist(byRole['tcp-streamer']!) },
      crossingToActionMs: dist(toAction),
      actionToExitMs: dist(actionToExit),
      baselines: { sampleDurationMs: dist(sampleMs), bareSigtermToExitMs: dist(baseline) },
      ratios: {
        p50OverSampleP50: round(percentile(total, 50) / percentile(sampleMs, 50), 2),
        p50OverBareSigtermP50: round(percentile(total, 50) / percentile(baseline, 50), 2),
      },
      targetP99Ms: TARGET_P99_MS,
      p99WithinTarget: p99 <= TARGET_P99_MS,
      failures,
    };
  },
};
