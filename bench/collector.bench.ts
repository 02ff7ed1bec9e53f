// Collector cost per sample at 100, 2,000 and 10,000 open sockets, side by side in the same run with
// systeminformation's networkConnections() (the baseline). The sockets are loopback connections held by a
// helper child process (both ends, so N sockets = N/2 connections). CPU = this process's user+system
// (process.cpuUsage) PLUS its waited-for children (ss, or the baseline's shell/ss/netstat) from
// /proc/self/stat cutime+cstime — clock ticks (10 ms), so children are reported as a mean over the run.
// Target (issue 4): ≤ 6 ms CPU per sample at 2,000 sockets.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import readline from 'node:readline';
import si from 'systeminformation';
import type { BenchSuite } from './run.ts';
import { median, round } from './stats.ts';
import { HostCollector } from '../src/collector/hostCollector.ts';
import { silentLogger } from '../src/log.ts';

const HOLDER = new URL('../test/collector/helpers/socketHolder.ts', import.meta.url).pathname;
const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux

function childTicksMs(): number {
  const s = readFileSync('/proc/self/stat', 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[16 - 3]) + Number(f[17 - 3])) * TICK_MS; // cutime, cstime
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
  cpuMsPerSample: number;
  wallMsMedian: number;
}

async function measure(iterations: number, budgetMs: number, fn: () => Promise<unknown>): Promise<Measured> {
  const self: number[] = [];
  const wall: number[] = [];
  const c0 = childTicksMs();
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
  return { samples: self.length, selfCpuMsMedian: round(selfMed, 2), childCpuMsMean: round(childMean, 2), cpuMsPerSample: round(selfMed + childMean, 2), wallMsMedian: round(median(wall), 2) };
}

const configs = {
  // default configuration: per-process bytes via ss, loopback sockets filtered out in the kernel
  default: { includeLoopback: false, perProcess: true, customMetrics: true, tcpBytes: true },
  // worst case for ss: every loopback socket's tcp_info is dumped and parsed
  includeLoopback: { includeLoopback: true, perProcess: true, customMetrics: true, tcpBytes: true },
  // no child process at all: /proc only (ports, connections, owners, network, custom metrics)
  noTcpBytes: { includeLoopback: false, perProcess: true, customMetrics: true, tcpBytes: false },
};

export const suite: BenchSuite = {
  name: 'collector',
  run: async () => {
    const out: Record<string, unknown> = {};
    for (const [n, iterations] of [[100, 20], [2000, 12], [10000, 5]] as const) {
      const holder = await holdSockets(n);
      try {
        const row: Record<string, unknown> = {};
        for (const [name, cfg] of Object.entries(configs)) {
          const c = new HostCollector({ ...cfg, logger: silentLogger() });
          const cold0 = process.cpuUsage();
          const first = await c.sample(Date.now()); // cold: full /proc/PID/fd walk
          const cold = process.cpuUsage(cold0);
          if (first.established.length < n / 2) throw new Error(`collector saw ${first.established.length} connections, expected ≥ ${n / 2}`);
          row[name] = { ...(await measure(iterations, 30_000, () => c.sample(Date.now()))), firstSampleSelfCpuMs: round((cold.user + cold.system) / 1000, 2) };
        }
        const baseline = await measure(Math.min(iterations, 5), 60_000, async () => {
          const conns = await si.networkConnections();
          if (conns.length < n / 2) throw new Error(`baseline saw ${conns.length} connections`);
        });
        row['systeminformation.networkConnections'] = baseline;
        const ours = row.default as Measured;
        row.ratioBaselineToDefault = { cpu: round(baseline.cpuMsPerSample / ours.cpuMsPerSample, 1), wall: round(baseline.wallMsMedian / ours.wallMsMedian, 1) };
        out[`sockets_${n}`] = row;
      } finally {
        await holder.stop();
      }
    }
    out.targetCpuMsAt2000 = 6;
    return out;
  },
};
