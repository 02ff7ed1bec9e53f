// Local rules benchmarks:
// 1. Evaluation throughput: datapoint×behavior evaluations per second, 1,000 things × 20 behaviors, 1 s
//    samples. Baseline in the same run: the bare loop over the same datapoints and behaviors doing only a
//    numeric comparison (no windows, no state) — the ratio says what the state machine and windows cost.
// 2. Memory under churn: 100,000 distinct things pass through the threshold cache (bounds 10,000 things /
//    16 MiB, five times the agent's default thing count); RSS and heap at checkpoints against the RSS before
//    the churn.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseBehaviors } from '../src/localrules/behaviors.ts';
import type { MetricValue, Offender } from '../src/localrules/contracts.ts';
import { type Datapoint, defaultEvaluatorOptions, Evaluator, MemoryThingStates } from '../src/localrules/evaluator.ts';
import { type CompiledProfile, compileProfile } from '../src/localrules/profile.ts';
import { ThresholdCache } from '../src/localrules/thresholdCache.ts';
import { silentLogger } from '../src/log.ts';
import type { BenchSuite } from './run.ts';
import { median, round } from './stats.ts';

const lt = (metric: string, count: number, durationSeconds?: number, op = 'less-than') => ({
  metric,
  criteria: { comparisonOperator: op, value: { count }, ...(durationSeconds ? { durationSeconds } : {}) },
});

/** 20 behaviors covering every operator family, windows and statistics. */
const behaviors = [
  lt('aws:all-bytes-out', 10_000, 300),
  lt('aws:all-bytes-out', 1, 600, 'greater-than'),
  lt('aws:all-bytes-out', 5_000),
  {
    metric: 'aws:all-bytes-out',
    criteria: { comparisonOperator: 'less-than-equals', statisticalThreshold: { statistic: 'p99' }, durationSeconds: 300 },
  },
  lt('aws:all-bytes-in', 50_000, 300),
  lt('aws:all-bytes-in', 100_000, 900, 'less-than-equals'),
  lt('aws:all-packets-out', 1_000, 300),
  lt('aws:all-packets-in', 1_000, 300),
  { metric: 'aws:listening-tcp-ports', criteria: { comparisonOperator: 'in-port-set', value: { ports: [22, 80, 443, 8883] } } },
  { metric: 'aws:listening-tcp-ports', criteria: { comparisonOperator: 'not-in-port-set', value: { ports: [23, 2323, 4444] } } },
  { metric: 'aws:listening-udp-ports', criteria: { comparisonOperator: 'in-port-set', value: { ports: [53, 5353] } } },
  lt('aws:num-listening-tcp-ports', 10),
  lt('aws:num-established-tcp-connections', 0, undefined, 'greater-than-equals'),
  {
    metric: 'aws:destination-ip-addresses',
    criteria: { comparisonOperator: 'in-cidr-set', value: { cidrs: ['10.0.0.0/8', '52.0.0.0/8', 'fd00::/8'] } },
  },
  {
    metric: 'aws:destination-ip-addresses',
    criteria: { comparisonOperator: 'not-in-cidr-set', value: { cidrs: ['192.0.2.0/24', '2001:db8::/32'] } },
  },
  lt('aws:num-messages-sent', 100, 300),
  lt('aws:num-messages-received', 100, 300),
  lt('aws:message-byte-size', 4096, undefined, 'less-than-equals'),
  { metric: 'aws:message-byte-size', criteria: { comparisonOperator: 'less-than-equals', statisticalThreshold: { statistic: 'p90' } } },
  { metric: 'cpu_usage', criteria: { comparisonOperator: 'less-than', value: { number: 90 } } },
].map((b, i) => ({ name: `b${i}`, edge: { scope: { host: true, devices: true } }, ...b }));

function profile(): CompiledProfile {
  const r = parseBehaviors(behaviors);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return compileProfile(r.value);
}

/** The 13 datapoints one device produces per 1 s sample (values vary a little per thing and tick). */
function sampleOf(thing: string, subject: Offender, tick: number, salt: number): Datapoint[] {
  const t = tick * 1000;
  const v = (base: number) => base + ((salt * 7 + tick * 13) % 17);
  const mk = (metric: string, value: MetricValue): Datapoint => ({ t, thing, metric, value, subject, intervalMs: 1000 });
  return [
    mk('aws:all-bytes-out', { count: v(20) }),
    mk('aws:all-bytes-in', { count: v(100) }),
    mk('aws:all-packets-out', { count: v(1) }),
    mk('aws:all-packets-in', { count: v(2) }),
    mk('aws:listening-tcp-ports', { ports: [22, 8883] }),
    mk('aws:listening-udp-ports', { ports: [5353] }),
    mk('aws:num-listening-tcp-ports', { count: 2 }),
    mk('aws:num-established-tcp-connections', { count: 1 }),
    mk('aws:destination-ip-addresses', { cidrs: ['52.94.1.17', '10.0.0.1'] }),
    mk('aws:num-messages-sent', { count: v(0) % 3 }),
    mk('aws:num-messages-received', { count: v(0) % 2 }),
    mk('aws:message-byte-size', { count: v(120) }),
    mk('cpu_usage', { number: 12.5 }),
  ];
}

function throughput(): Record<string, unknown> {
  const p = profile();
  const things = Array.from({ length: 1000 }, (_, i) => `thing-${i}`);
  const subjects = things.map((thingName): Offender => ({ kind: 'device', thingName, addresses: [] }));
  const ticks = 40;
  // Pre-build all datapoints so only evaluation is timed.
  const batches: Datapoint[][] = [];
  for (let tick = 1; tick <= ticks; tick++)
    for (let i = 0; i < things.length; i++) batches.push(sampleOf(things[i]!, subjects[i]!, tick, i));

  const runs: number[] = [];
  const baselineRuns: number[] = [];
  let events = 0;
  let evaluations = 0;
  for (let rep = 0; rep < 5; rep++) {
    // Baseline: the same datapoint × behavior pairs, only a numeric comparison each.
    let sink = 0;
    let pairs = 0;
    const b0 = process.hrtime.bigint();
    for (const batch of batches) {
      for (const d of batch) {
        const list = p.byMetric.get(d.metric);
        if (list === undefined) continue;
        const x = 'count' in d.value ? d.value.count : 'number' in d.value ? d.value.number : 0;
        for (const b of list) {
          pairs++;
          if (b.criterion.kind === 'numeric' && x < b.criterion.threshold) sink++;
        }
      }
    }
    const b1 = process.hrtime.bigint();
    baselineRuns.push(pairs / (Number(b1 - b0) / 1e9));

    const ev = new Evaluator(p, new MemoryThingStates(), defaultEvaluatorOptions());
    const t0 = process.hrtime.bigint();
    for (const batch of batches) events += ev.evaluate(batch).length;
    const t1 = process.hrtime.bigint();
    evaluations = ev.evaluations;
    runs.push(ev.evaluations / (Number(t1 - t0) / 1e9));
    if (sink < 0) throw new Error('unreachable');
  }
  const m = median(runs);
  return {
    things: things.length,
    behaviors: behaviors.length,
    ticks,
    evaluationsPerRun: evaluations,
    eventsTotal: events,
    evaluationsPerSecondMedian: Math.round(m),
    evaluationsPerSecondRuns: runs.map(Math.round),
    baselineComparisonsPerSecondMedian: Math.round(median(baselineRuns)),
    ratioToBaseline: round(m / median(baselineRuns), 4),
    target: 1_000_000,
    meetsTarget: m >= 1_000_000,
  };
}

/** A full GC before reading memory, so checkpoints show what is retained, not what awaits collection. */
let gc: (() => void) | undefined;
function collectGarbage(): void {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

function mib(n: number): number {
  return round(n / 2 ** 20, 1);
}

function churn(): Record<string, unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'dedge-bench-churn-'));
  try {
    const p = profile();
    const cache = new ThresholdCache({ dir, maxThings: 10_000, maxBytes: 16 * 2 ** 20, keys: () => p.keys, logger: silentLogger() });
    const ev = new Evaluator(p, cache, defaultEvaluatorOptions());
    collectGarbage();
    const before = process.memoryUsage();
    const checkpoints: Record<string, unknown>[] = [];
    const total = 100_000;
    const t0 = process.hrtime.bigint();
    // Each thing reports 3 samples, then is never seen again; 100 things are active at a time.
    for (let start = 0; start < total; start += 100) {
      for (let tick = 1; tick <= 3; tick++) {
        for (let i = start; i < start + 100; i++) {
          const thing = `churn-${i}`;
          ev.evaluate(sampleOf(thing, { kind: 'device', thingName: thing, addresses: [] }, Math.floor(i / 100) * 3 + tick, i));
        }
      }
      const done = start + 100;
      if (done % 20_000 === 0 || done === 10_000) {
        collectGarbage();
        const m = process.memoryUsage();
        const s = cache.stats();
        checkpoints.push({
          things: done,
          rssMiB: mib(m.rss),
          heapUsedMiB: mib(m.heapUsed),
          heapTotalMiB: mib(m.heapTotal),
          externalMiB: mib(m.external),
          cachedThings: s.things,
          cachedMiB: mib(s.bytes),
          writes: s.writes,
        });
      }
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    collectGarbage();
    const after = process.memoryUsage();
    const at10k = checkpoints.find((c) => c.things === 10_000) as { rssMiB: number; heapUsedMiB: number } | undefined;
    return {
      distinctThings: total,
      cacheBounds: { maxThings: 10_000, maxMiB: 16 },
      rssBeforeMiB: mib(before.rss),
      heapUsedBeforeMiB: mib(before.heapUsed),
      rssAfterMiB: mib(after.rss),
      heapUsedAfterMiB: mib(after.heapUsed),
      rssGrowthFrom10kTo100kMiB: at10k ? round(mib(after.rss) - at10k.rssMiB, 1) : null,
      heapGrowthFrom10kTo100kMiB: at10k ? round(mib(after.heapUsed) - at10k.heapUsedMiB, 1) : null,
      checkpoints,
      seconds: round(seconds, 2),
      cache: cache.stats(),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const suite: BenchSuite = {
  name: 'localrules',
  run: async () => {
    // Churn first, so its memory baseline is not the throughput run's leftovers.
    const c = churn();
    return { throughput: throughput(), churn: c };
  },
};
