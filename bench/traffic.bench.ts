// Per-process traffic counters (dedge-sockdiag --traffic, eBPF): what polling them every 100 ms costs
// with 2,000 sockets open, and what the BPF programs add to each send and receive. Measured, never
// asserted. Needs root (loading BPF); otherwise reports why it did not run.
//
//   helper CPU   utime+stime of the helper over the polling window (/proc/PID/stat, 10 ms ticks)
//   agent CPU    process.cpuUsage around each read (request, pipe, decode) — an upper bound: the bench's
//                own event loop work during the await is included
//   poll wall    request → decoded answer, p50 / p99
//   per-event    a child sends and receives UDP datagrams on loopback for a fixed time without, then
//                with, the programs loaded: its CPU per datagram (send + receive) in both runs
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import readline from 'node:readline';
import { buildSockDiag } from '../scripts/buildSockDiag.ts';
import { SockDiagSource } from '../src/collector/sockDiagSource.ts';
import { silentLogger } from '../src/log.ts';
import type { BenchSuite } from './run.ts';
import { percentile, round } from './stats.ts';

const HOLDER = new URL('../test/support/socketHolder.ts', import.meta.url).pathname;
const TICK_MS = 10;
const POLL_MS = 100;
const WINDOW_MS = 10_000;

function processTicksMs(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[14 - 3]) + Number(f[15 - 3])) * TICK_MS;
}

async function holdSockets(n: number): Promise<() => Promise<void>> {
  const child = spawn(process.execPath, [HOLDER, String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`socket holder exited (${code})`)));
  });
  if ((JSON.parse(line) as { sockets: number }).sockets !== n) throw new Error('socket holder fell short');
  return async () => {
    const done = new Promise((r) => child.once('exit', r));
    child.stdin.end();
    await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
}

// Sends 64-byte datagrams to itself over loopback for `ms`, in bursts; prints datagrams and its CPU.
const UDP_LOAD = `
const dgram = require('node:dgram');
const ms = Number(process.argv[1]);
const s = dgram.createSocket('udp4');
let sent = 0, got = 0;
s.on('message', () => got++);
s.bind(0, '127.0.0.1', () => {
  const port = s.address().port, buf = Buffer.alloc(64), end = Date.now() + ms, cpu0 = process.cpuUsage();
  const burst = () => {
    if (Date.now() >= end) {
      setTimeout(() => { const c = process.cpuUsage(cpu0); process.stdout.write(JSON.stringify({ sent, got, cpuMs: (c.user + c.system) / 1000 })); s.close(); }, 200);
      return;
    }
    for (let i = 0; i < 50; i++) { s.send(buf, port, '127.0.0.1'); sent++; }
    setImmediate(burst);
  };
  burst();
});`;

function udpLoad(ms: number): Promise<{ sent: number; got: number; cpuMs: number }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['-e', UDP_LOAD, String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as { sent: number; got: number; cpuMs: number }) : reject(new Error(`load exited ${code}`)),
    );
  });
}

export const suite: BenchSuite = {
  name: 'traffic',
  run: async () => {
    if (process.getuid?.() !== 0) return { skipped: 'needs root to load BPF programs' };
    const helperPath = (await buildSockDiag({ root: new URL('..', import.meta.url).pathname, arch: process.arch as 'x64' | 'arm64' })).path;
    const out: Record<string, unknown> = {};

    const without = await udpLoad(3000);
    const stopHolder = await holdSockets(2000);
    const source = new SockDiagSource({ helperPath, logger: silentLogger(), traffic: true });
    try {
      const first = await source.procs(Date.now());
      if (!first) throw new Error('helper did not answer');
      if (first.mode !== 'ebpf') return { skipped: `eBPF unavailable: ${first.reason}` };
      const pid = first.pid;
      const loadDone = udpLoad(3000);
      const wall: number[] = [];
      let agentUs = 0;
      let processes = 0;
      const helper0 = processTicksMs(pid);
      const t0 = Date.now();
      while (Date.now() - t0 < WINDOW_MS) {
        const c0 = process.cpuUsage();
        const w0 = process.hrtime.bigint();
        const r = await source.procs(Date.now());
        wall.push(Number(process.hrtime.bigint() - w0) / 1e6);
        const c = process.cpuUsage(c0);
        agentUs += c.user + c.system;
        processes = Math.max(processes, r?.processes.length ?? 0);
        await new Promise((res) => setTimeout(res, POLL_MS));
      }
      const elapsed = Date.now() - t0;
      const helperMs = processTicksMs(pid) - helper0;
      const withPrograms = await loadDone;
      out.poll = {
        intervalMs: POLL_MS,
        polls: wall.length,
        sockets: 2000,
        maxProcessesPerAnswer: processes,
        wallMsP50: round(percentile(wall, 50)),
        wallMsP99: round(percentile(wall, 99)),
        helperCpuPercentOfCore: round((100 * helperMs) / elapsed, 3),
        agentCpuPercentOfCoreUpperBound: round((100 * agentUs) / 1000 / elapsed, 3),
      };
      const per = (l: { sent: number; got: number; cpuMs: number }) => (1000 * l.cpuMs) / (l.sent + l.got);
      out.udpLoopbackLoad = {
        without: { ...without, cpuUsPerDatagramEvent: round(per(without)) },
        withPrograms: { ...withPrograms, cpuUsPerDatagramEvent: round(per(withPrograms)) },
        note: 'a datagram event = one send or one receive; the difference is the programs plus noise (the load also ran while the helper was polled)',
      };
    } finally {
      await source.stop();
      await stopHolder();
    }
    return out;
  },
};
