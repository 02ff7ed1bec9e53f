// Collector cost per sample at 100, 2,000 and 10,000 open sockets, side by side in the same run with
// systeminformation's networkConnections() (the baseline). The sockets are loopback connections held by a
// holder child process (both ends, so N sockets = N/2 connections). CPU = this process's user+system
// (process.cpuUsage) PLUS its waited-for children (ss, or the baseline's shell/ss/netstat) from
// /proc/self/stat cutime+cstime — clock ticks (10 ms), so children are reported as a mean over the run —
// PLUS, on the helper path, the dedge-sockdiag helper's utime+stime from /proc/<helper pid>/stat (it is
// never waited for, so cutime does not see it), also a mean over the run.
// Two socket sources side by side: `sockdiag*` (the persistent helper, one netlink dump per sample) and
// the /proc/net + ss fallback (`proc*`, the collector before the helper).
// Target: ≤ 6 ms CPU per sample at 2,000 sockets (README, Benchmarks).
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import si from 'systeminformation';
import { buildSockDiag } from '../scripts/buildSockDiag.ts';
import { HostCollector, type HostCollectorOptions } from '../src/collector/hostCollector.ts';
import { silentLogger } from '../src/log.ts';
import { readProcStat } from '../src/system/procfs.ts';
import type { BenchSuite } from './run.ts';
import { median, round } from './stats.ts';

const HOLDER = new URL('../test/support/socketHolder.ts', import.meta.url).pathname;
const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux

function childTicksMs(): number {
  const s = readProcStat(process.pid);
  return s === undefined ? 0 : (s.cutime + s.cstime) * TICK_MS;
}

/** utime + stime of a process we did not wait for (the helper), ms; 0 when there is none. */
function processTicksMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const s = readProcStat(pid);
  return s === undefined ? 0 : (s.utime + s.stime) * TICK_MS;
}

async function holdSockets(n: number): Promise<{ stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [HOLDER, String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket holder: not ready in 60 s for ${n} sockets`)), 60_000);
    readline.createInterface({ input: child.stdout }).once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`socket holder exited (${code})`)));
  });
  const { sockets } = JSON.parse(line) as { sockets: number };
  if (sockets !== n) throw new Error(`socket holder opened ${sockets} of ${n}`);
  return {
    stop: async () => {
      const done = new Promise((r) => child.once('exit', r));
      child.stdin.end();
      await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

interface Measured {
  samples: number;
  selfCpuMsMedian: number;
  childCpuMsMean: number;
  helperCpuMsMean?: number;
  cpuMsPerSample: number;
  wallMsMedian: number;
}

async function measure(
  iterations: number,
  budgetMs: number,
  fn: () => Promise<unknown>,
  helperPid?: () => number | undefined,
): Promise<Measured> {
  const self: number[] = [];
  const wall: number[] = [];
  const c0 = childTicksMs();
  const pid0 = helperPid?.();
  const h0 = processTicksMs(pid0);
  const started = performance.now();
  for (let i = 0; i < iterations && (i < 2 || performance.now() - started < budgetMs); i++) {
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    await fn();
    wall.push(performance.now() - w0);
    const d = process.cpuUsage(cpu0);
    self.push((d.user + d.system) / 1000);
  }
  const childMean = (childTicksMs() - c0) / self.length;
  const selfMed = median(self);
  const out: Measured = {
    samples: self.length,
    selfCpuMsMedian: round(selfMed, 2),
    childCpuMsMean: round(childMean, 2),
    cpuMsPerSample: 0,
    wallMsMedian: round(median(wall), 2),
  };
  let helperMean = 0;
  if (helperPid) {
    // The same helper must have served the whole run, or its counters do not cover it.
    if (helperPid() !== pid0) throw new Error('dedge-sockdiag helper restarted during the measurement');
    helperMean = (processTicksMs(pid0) - h0) / self.length;
    out.helperCpuMsMean = round(helperMean, 3);
  }
  out.cpuMsPerSample = round(selfMed + childMean + helperMean, 2);
  return out;
}

type Config = Omit<HostCollectorOptions, 'logger' | 'sockDiagHelper'> & { helper: boolean };
const MQTT = [1883, 8883];
const configs: Record<string, Config> = {
  // the component's default configuration on the helper: loopback excluded from network_stats, included
  // per process (collector.perProcessIncludeLoopback), MQTT estimates on
  sockdiag: {
    helper: true,
    includeLoopback: false,
    perProcessIncludeLoopback: true,
    mqttPorts: MQTT,
    perProcess: true,
    customMetrics: true,
    tcpBytes: true,
  },
  // the same configuration on the fallback: ss dumps every socket's tcp_info (no kernel filter possible)
  procSsDefault: {
    helper: false,
    includeLoopback: false,
    perProcessIncludeLoopback: true,
    mqttPorts: MQTT,
    perProcess: true,
    customMetrics: true,
    tcpBytes: true,
  },
  // the fallback at its cheapest with per-process bytes: loopback excluded everywhere, so ss's kernel
  // filter drops loopback sockets (the collector's default before perProcessIncludeLoopback)
  procSsLoopbackFiltered: {
    helper: false,
    includeLoopback: false,
    perProcessIncludeLoopback: false,
    mqttPorts: [],
    perProcess: true,
    customMetrics: true,
    tcpBytes: true,
  },
  // no child process at all: /proc only (ports, connections, owners, network, custom metrics)
  procNoTcpBytes: { helper: false, includeLoopback: false, perProcess: true, customMetrics: true, tcpBytes: false },
};

export const suite: BenchSuite = {
  name: 'collector',
  run: async () => {
    const out: Record<string, unknown> = {};
    const helperPath = (await buildSockDiag({ root: new URL('..', import.meta.url).pathname, arch: process.arch as 'x64' | 'arm64' })).path;
    // The helper path is cheap, so it gets more samples: its CPU is read in 10 ms clock ticks.
    // BENCH_COLLECTOR_SOCKETS=2000 (comma list) runs only those sizes.
    const only = process.env.BENCH_COLLECTOR_SOCKETS?.split(',').map(Number);
    const sizes = (
      [
        [100, 20, 300],
        [2000, 12, 200],
        [10000, 5, 40],
      ] as const
    ).filter(([n]) => !only || only.includes(n));
    for (const [n, iterations, helperIterations] of sizes) {
      const holder = await holdSockets(n);
      try {
        const row: Record<string, unknown> = {};
        for (const [name, { helper, ...cfg }] of Object.entries(configs)) {
          const c = new HostCollector({ ...cfg, logger: silentLogger(), sockDiagHelper: helper ? helperPath : false });
          try {
            const cold0 = process.cpuUsage();
            const first = await c.sample(Date.now()); // cold: full /proc/PID/fd walk (and the helper's start)
            const cold = process.cpuUsage(cold0);
            if (first.established.length < n / 2)
              throw new Error(`collector saw ${first.established.length} connections, expected ≥ ${n / 2}`);
            if (c.socketSource !== (helper ? 'sockdiag' : 'proc')) throw new Error(`${name}: sockets came from ${c.socketSource}`);
            const m = helper
              ? await measure(
                  helperIterations,
                  30_000,
                  () => c.sample(Date.now()),
                  () => c.sockDiagPid,
                )
              : await measure(iterations, 30_000, () => c.sample(Date.now()));
            // Every socket of the host is read, so concurrent work on the machine (other test runs) adds to n.
            row[name] = { ...m, firstSampleSelfCpuMs: round((cold.user + cold.system) / 1000, 2), socketsRead: c.socketCount };
          } finally {
            await c.stop();
          }
        }
        const baseline = await measure(Math.min(iterations, 5), 60_000, async () => {
          const conns = await si.networkConnections();
          if (conns.length < n / 2) throw new Error(`baseline saw ${conns.length} connections`);
        });
        row['systeminformation.networkConnections'] = baseline;
        const ours = row.sockdiag as Measured;
        const fallback = row.procSsDefault as Measured;
        row.ratioBaselineToSockdiag = {
          cpu: round(baseline.cpuMsPerSample / ours.cpuMsPerSample, 1),
          wall: round(baseline.wallMsMedian / ours.wallMsMedian, 1),
        };
        row.ratioProcSsToSockdiag = {
          cpu: round(fallback.cpuMsPerSample / ours.cpuMsPerSample, 1),
          wall: round(fallback.wallMsMedian / ours.wallMsMedian, 1),
        };
        out[`sockets_${n}`] = row;
      } finally {
        await holder.stop();
      }
    }
    out.targetCpuMsAt2000 = 6;
    return out;
  },
};
