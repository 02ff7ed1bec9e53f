// Apply latency of the process backend through the whole Enforcer: violation in → process stopped
// (state T in /proc), over ≥ 20 spawned processes. Baseline in the same run: a bare kill(SIGSTOP) and
// the same /proc poll, so the ratio shows what the rails, audit and persistence add.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { defaultConfig } from '../src/config/validate.ts';
import { createEnforcer } from '../src/enforce/createEnforcer.ts';
import { type ProcStat, readProcStat } from '../src/system/procfs.ts';
import type { BenchSuite } from './run.ts';
import { percentile, round } from './stats.ts';

const RUNS = 24;

function stat(pid: number): ProcStat {
  const s = readProcStat(pid);
  if (s === undefined) throw new Error(`pid ${pid}: no /proc/${pid}/stat`);
  return s;
}

async function startChild(): Promise<ChildProcess> {
  const c = spawn(process.execPath, ['-e', "setInterval(()=>{},1000);process.stdout.write('ready\\n')"], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await new Promise<void>((resolve, reject) => {
    c.once('error', reject);
    c.stdout!.once('data', () => resolve());
  });
  return c;
}

/** ms from t0 until /proc shows the process stopped (busy poll: we measure, not sleep). */
function untilStopped(pid: number, t0: number): number {
  while (stat(pid).state !== 'T') {
    /* spin */
  }
  return performance.now() - t0;
}

const summary = (xs: number[]) => ({ p50: round(percentile(xs, 50)), p99: round(percentile(xs, 99)), max: round(Math.max(...xs)) });

export const suite: BenchSuite = {
  name: 'enforce: violation → process stopped (ms)',
  async run() {
    const stateDir = mkdtempSync(join(tmpdir(), 'dedge-bench-'));
    // The process backend logs right after kill(2): the moment that line is written is when the signal went out.
    let signalAt = 0;
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (signalAt === 0 && chunk.includes('SIGSTOP sent')) signalAt = performance.now();
        cb();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const enforcer = createEnforcer({
      config: { ...defaultConfig().enforcement, mode: 'enforce', maxActionsPerMinute: 10_000 },
      stateDir,
      logger,
    });
    const children: ChildProcess[] = [];
    const viaEnforcer: number[] = [];
    const handleResolved: number[] = [];
    const signalSent: number[] = [];
    const bare: number[] = [];
    try {
      for (let i = 0; i < RUNS; i++) {
        const a = await startChild();
        const b = await startChild();
        children.push(a, b);
        const { startTime } = stat(a.pid!);
        signalAt = 0;
        const t0 = performance.now();
        const done = enforcer.handle({
          violationId: `bench-${i}`,
          thingName: 'gateway',
          behavior: 'bytesOut',
          metric: 'aws:all-bytes-out',
          event: 'in-alarm',
          t: Date.now(),
          offender: { kind: 'process', pid: a.pid!, comm: 'node', startTime },
          action: { type: 'process-suspend', ttlSeconds: 60 },
        });
        await done;
        handleResolved.push(performance.now() - t0);
        signalSent.push(signalAt - t0);
        viaEnforcer.push(untilStopped(a.pid!, t0));
        const t1 = performance.now();
        process.kill(b.pid!, 'SIGSTOP');
        bare.push(untilStopped(b.pid!, t1));
      }
    } finally {
      await enforcer.stop();
      for (const c of children) c.kill('SIGKILL');
      rmSync(stateDir, { recursive: true, force: true });
    }
    const e = summary(viaEnforcer);
    const k = summary(bare);
    return {
      runs: RUNS,
      signalSent: summary(signalSent),
      enforcerStopped: e,
      handleResolved: summary(handleResolved),
      bareKillStopped: k,
      ratioP50: round(e.p50 / k.p50, 2),
      note:
        'signalSent = handle() in → SIGSTOP sent (rails + /proc identity check); enforcerStopped = handle() in → ' +
        'state T seen after handle() resolved (adds audit append and the fsynced state write, done after the signal); ' +
        'bareKillStopped = kill(SIGSTOP) → state T',
    };
  },
};
