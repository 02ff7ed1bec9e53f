// Per-process traffic from the dedge-sockdiag helper with eBPF (--traffic), against traffic this test
// generates with child processes it starts, to loopback listeners it owns. Ground truth is what the
// children wrote: the eBPF counters are syscall return values (native/ebpf/dedge_traffic.bpf.c), so
// bytes must match EXACTLY (tolerance 0: nothing else writes to TCP/UDP sockets in those processes);
// packets exactly for UDP (one per datagram), bounded for TCP (segments: SYN, data, FIN and ACKs, which
// depend on timing). Then the fallback: sockdiag mode when told so, when the kernel refuses the load
// (capabilities removed from the bounding set) and for the arm64 build under qemu-user. Every case checks
// that the helper's BPF programs are gone once it exits.

import { execFile, spawn } from 'node:child_process';
import type dgram from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilerFor, compilerPackages } from '../../scripts/buildSockDiag.ts';
import {
  type DestroyedSocket,
  destroyedRequest,
  procsRequest,
  ResponseAssembler,
  SockDiagDecoder,
} from '../../src/collector/sockDiagProtocol.ts';
import { SockDiagSource, type TrafficReading } from '../../src/collector/sockDiagSource.ts';
import { decodeTrafficResponse, type ProcessCounters, type TrafficResponse } from '../../src/collector/sockDiagTraffic.ts';
import { silentLogger } from '../../src/log.ts';
import { bindUdpLoopbacks, listen } from '../support/loopbackSockets.ts';
import { bpf, program, QEMU_ARM64, requirement, requires } from '../support/requirements.ts';
import { ensureHelper } from '../support/sockDiagHelper.ts';
import { until } from '../support/until.ts';

const isRoot = requirement(process.getuid?.() === 0, 'not root: loading the BPF programs and attaching to tracepoints needs root');
const hasBpftool = await program('bpftool', 'bpftool', ['version']);

/** BPF program ids the process holds (its link and program fds), from /proc/PID/fdinfo. */
function progIdsOf(pid: number): Set<number> {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      const m = /^prog_id:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m) ids.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return ids;
}

function loadedPrograms(): Promise<Array<{ id: number; name: string }>> {
  return new Promise((resolve, reject) =>
    execFile('bpftool', ['-j', 'prog', 'list'], { maxBuffer: 64 * 2 ** 20 }, (err, stdout) =>
      err ? reject(err) : resolve(JSON.parse(stdout) as Array<{ id: number; name: string }>),
    ),
  );
}

/** Runs `node -e script args…`; resolves its pid and stdout once it exited with code 0. */
function runNode(script: string, args: Array<string | number>): Promise<{ pid: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['-e', script, ...args.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve({ pid: c.pid!, stdout }) : reject(new Error(`workload exited ${code}: ${stderr}`))));
  });
}

// (a) a new TCP connection per `size` bytes
const TCP_PER_WRITE = `
const net = require('node:net');
const [port, n, size] = process.argv.slice(1).map(Number);
let i = 0;
const next = () => {
  if (i++ === n) return;
  const s = net.connect(port, '127.0.0.1', () => s.end(Buffer.alloc(size, 0x61)));
  s.on('error', (e) => { console.error(e); process.exit(1); });
  s.on('close', next);
};
next();`;

// (b) UDP datagrams to IPv4 and IPv6 loopback, to an IPv4-mapped IPv6 address, and from a worker thread
const UDP_DATAGRAMS = `
const dgram = require('node:dgram');
const { Worker } = require('node:worker_threads');
const [port4, port6, n, size] = process.argv.slice(1).map(Number);
const sendAll = (sock, port, host) => Promise.all(Array.from({ length: n }, () => new Promise((res, rej) => sock.send(Buffer.alloc(size, 0x62), port, host, (e) => (e ? rej(e) : res())))));
const worker = \`
  const dgram = require('node:dgram');
  const { workerData: [port, n, size] } = require('node:worker_threads');
  const s = dgram.createSocket('udp4');
  let left = n;
  for (let i = 0; i < n; i++) s.send(Buffer.alloc(size, 0x63), port, '127.0.0.1', () => { if (--left === 0) s.close(); });
\`;
(async () => {
  const s4 = dgram.createSocket('udp4');
  const s6 = dgram.createSocket({ type: 'udp6', ipv6Only: false });
  await sendAll(s4, port4, '127.0.0.1');
  await sendAll(s6, port6, '::1');
  await sendAll(s6, port4, '::ffff:127.0.0.1');
  await new Promise((res, rej) => new Worker(worker, { eval: true, workerData: [port4, n, size] }).on('exit', res).on('error', rej));
  s4.close();
  s6.close();
})().catch((e) => { console.error(e); process.exit(1); });`;

// (c) a short-lived child per send: prints its own pid and each child's pid
const FORK_PER_SEND = `
const { spawn } = require('node:child_process');
const [port, n] = process.argv.slice(1).map(Number);
const child = "const s = require('node:dgram').createSocket('udp4'); const size = Number(process.argv[2]); s.send(Buffer.alloc(size, 0x64), Number(process.argv[1]), '127.0.0.1', () => s.close());";
(async () => {
  const kids = [];
  for (let i = 0; i < n; i++) {
    const c = spawn(process.execPath, ['-e', child, String(port), String(1000 + i)], { stdio: 'inherit' });
    kids.push(c.pid);
    await new Promise((res) => c.on('exit', res));
  }
  process.stdout.write(JSON.stringify({ parent: process.pid, kids }));
})();`;

// one datagram of argv[2] bytes to 127.0.0.1:argv[1]; prints the sender's pid
const UDP_ONE = `
const s = require('node:dgram').createSocket('udp4');
s.send(Buffer.alloc(Number(process.argv[2]), 0x65), Number(process.argv[1]), '127.0.0.1', () => { s.close(); process.stdout.write(String(process.pid)); });`;

async function pollUntil<T>(fn: () => Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Polls the source and keeps the last record of every process (exited ones are delivered only once). */
class Collected {
  readonly byTgid = new Map<number, ProcessCounters>();
  last: TrafficReading | undefined;
  private readonly source: SockDiagSource;
  constructor(source: SockDiagSource) {
    this.source = source;
  }
  async poll(): Promise<TrafficReading> {
    const r = await this.source.procs(Date.now());
    if (!r) throw new Error('the helper did not answer');
    this.last = r;
    for (const p of r.processes) this.byTgid.set(p.tgid, p);
    return r;
  }
  /** polls until the process's record says it exited */
  async exited(tgid: number): Promise<ProcessCounters> {
    return pollUntil(async () => {
      await this.poll();
      const p = this.byTgid.get(tgid);
      return p?.exited ? p : undefined;
    }, `process ${tgid} reported as exited`);
  }
}

describe('dedge-sockdiag --traffic, eBPF mode (root), against traffic this test generates', requires(isRoot, bpf), () => {
  let source: SockDiagSource;
  let collected: Collected;
  let helperPid = 0;
  let ourPrograms = new Set<number>();
  const servers: net.Server[] = [];
  const udp: dgram.Socket[] = [];
  let tcpPort = 0;
  let tcpReceived = 0;
  let udp4 = 0;
  let udp6 = 0;
  let udpReceived = 0;
  /** what a node child's /proc/PID/comm says (Node names its main thread, and so the process, itself) */
  let COMM = '';

  beforeAll(async () => {
    COMM = (await runNode("process.stdout.write(require('node:fs').readFileSync('/proc/self/comm', 'utf8').trim())", [])).stdout;
    source = new SockDiagSource({ helperPath: await ensureHelper(), logger: silentLogger(), traffic: true });
    collected = new Collected(source);
    const first = await collected.poll();
    expect({ mode: first.mode, reason: first.reason }).toEqual({ mode: 'ebpf', reason: '' });
    helperPid = first.pid;
    ourPrograms = progIdsOf(helperPid);
    const s = net.createServer((c) => {
      c.on('data', (d) => (tcpReceived += d.length));
      c.on('error', () => {});
    });
    servers.push(s);
    tcpPort = await listen(s, '127.0.0.1');
    ({ udp4, udp6 } = await bindUdpLoopbacks(udp));
    for (const u of udp) u.on('message', (m) => (udpReceived += m.length));
  });

  afterAll(async () => {
    await source?.stop();
    for (const s of servers) s.close();
    for (const u of udp) u.close();
  });

  it('loads its programs (named dedge_*) and holds them; the helper then runs unprivileged', async () => {
    const names = (await loadedPrograms())
      .filter((p) => ourPrograms.has(p.id))
      .map((p) => p.name)
      .sort();
    expect(names).toEqual(['dedge_exit', 'dedge_fork', 'dedge_recv', 'dedge_send', 'dedge_tcp_destroy']);
    const status = readFileSync(`/proc/${helperPid}/status`, 'utf8');
    expect(/^Uid:\s*(.*)$/m.exec(status)?.[1]?.split(/\s+/)).toEqual(['65534', '65534', '65534', '65534']);
    expect(/^CapEff:\s*(\S+)/m.exec(status)?.[1]).toBe('0000000000000000');
  }, 60_000);

  it('(a) a new TCP connection per 2 KB: every byte, to the right process, which is remembered after it exited', async () => {
    const n = 60;
    const size = 2048;
    const { pid } = await runNode(TCP_PER_WRITE, [tcpPort, n, size]);
    const p = await collected.exited(pid);
    expect(p).toMatchObject({
      tgid: pid,
      ppid: process.pid,
      ppidAtFork: true,
      bytesOut: n * size,
      bytesIn: 0,
      exited: true,
      comm: COMM,
      exitComm: COMM,
    });
    // Segments sent per connection: at least SYN, the handshake's ACK, the data and FIN (the data may
    // ride with FIN or be split: 2 is the floor); at most a few dozen (2 KB on loopback's 64 KB MSS).
    expect(p.packetsOut).toBeGreaterThanOrEqual(2 * n);
    expect(p.packetsOut).toBeLessThanOrEqual(20 * n);
    expect(p.packetsIn).toBeGreaterThanOrEqual(n); // SYN-ACK at least
    // the receiving side is this test's process: it read every byte
    await until(() => tcpReceived === n * size, 10_000, 'server received all');
    const me = await pollUntil(async () => {
      await collected.poll();
      const m = collected.byTgid.get(process.pid);
      return m && m.bytesIn >= n * size ? m : undefined;
    }, 'the receiving side counted');
    expect(me.exited).toBe(false);
    // delivered once: the exited child is gone from the next reading
    const again = await collected.poll();
    expect(again.processes.some((q) => q.tgid === pid && q.firstSeenNs === p.firstSeenNs)).toBe(false);
  }, 60_000);

  it('(b) UDP datagrams over IPv4, IPv6, IPv4-mapped IPv6 and from a worker thread: every byte and datagram', async () => {
    const n = 50;
    const size = 1000;
    const before = udpReceived;
    const { pid } = await runNode(UDP_DATAGRAMS, [udp4, udp6, n, size]);
    const p = await collected.exited(pid);
    // 4 × n datagrams: IPv4, IPv6, mapped (once, not twice), and the worker thread's (same process)
    expect(p).toMatchObject({
      tgid: pid,
      ppid: process.pid,
      bytesOut: 4 * n * size,
      packetsOut: 4 * n,
      bytesIn: 0,
      packetsIn: 0,
      exited: true,
    });
    // loopback delivered them (a receive buffer could drop some: at least one of each kind arrived)
    await until(() => udpReceived - before >= 3 * size, 10_000, 'datagrams arrived');
  }, 60_000);

  it('(c) a short-lived child per send: each child counted with its parent recorded at fork', async () => {
    const n = 5;
    const { pid: parent, stdout } = await runNode(FORK_PER_SEND, [udp4, n]);
    const out = JSON.parse(stdout) as { parent: number; kids: number[] };
    expect(out.parent).toBe(parent);
    for (const [i, kid] of out.kids.entries()) {
      const k = await collected.exited(kid);
      expect(k).toMatchObject({ tgid: kid, ppid: parent, ppidAtFork: true, bytesOut: 1000 + i, packetsOut: 1, exited: true, comm: COMM });
    }
    // the parent itself sent nothing: no record, or one with no bytes
    const pr = collected.byTgid.get(parent);
    expect(pr?.bytesOut ?? 0).toBe(0);
  }, 60_000);

  it('answers a poll quickly enough for a 100 ms interval (measured, not asserted)', async () => {
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = process.hrtime.bigint();
      await collected.poll();
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    times.sort((a, b) => a - b);
    console.log(
      `procs round trip over ${collected.last!.processes.length} processes: median ${times[25]!.toFixed(3)} ms, max ${times[49]!.toFixed(3)} ms`,
    );
    expect(collected.last!.lostProcesses).toBe(0);
  });

  it('leaves no BPF program behind when it exits', requires(hasBpftool), async () => {
    expect(ourPrograms.size).toBe(5);
    await source.stop();
    // Closing the links at exit detaches at once; the kernel frees the programs after an RCU grace period.
    await pollUntil(
      async () => ((await loadedPrograms()).some((p) => ourPrograms.has(p.id)) ? undefined : true),
      'the programs to be freed',
    );
  });
});

/** Runs `file args…` and exchanges request lines for whole responses. */
class Driver {
  readonly child: ReturnType<typeof spawn>;
  private readonly assembler = new ResponseAssembler();
  private waiter: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  readonly exited: Promise<number | null>;
  constructor(file: string, args: string[]) {
    this.child = spawn(file, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdout!.on('data', (d: Buffer) => {
      try {
        const w = this.assembler.push(d);
        if (w) this.waiter?.resolve(w);
      } catch (err) {
        this.waiter?.reject(err as Error);
      }
    });
    this.exited = new Promise((res) => this.child.on('exit', (code) => res(code)));
    void this.exited.then((code) => this.waiter?.reject(new Error(`exited ${code} before answering`)));
  }
  request(line: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.child.stdin!.write(line);
    });
  }
  async stop(): Promise<void> {
    this.child.stdin!.end();
    await this.exited;
  }
}

/** Runs `file args…` and exchanges one `procs` request for its decoded response. */
async function askOnce(file: string, args: string[]): Promise<{ r: TrafficResponse; progs: Set<number> }> {
  const d = new Driver(file, args);
  const r = decodeTrafficResponse(await d.request(procsRequest(1)));
  const progs = progIdsOf(d.child.pid!);
  await d.stop();
  return { r, progs };
}

const hasUnshare = await program('unshare', 'util-linux');
const hasNsenter = await program('nsenter', 'util-linux');

/** children pids of a process (its main thread's /proc children list) */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe('dedge-sockdiag --traffic in a private pid namespace (root)', requires(isRoot, bpf, hasUnshare, hasNsenter), () => {
  it('numbers processes as that namespace does; traffic of processes outside it is one aggregate record (tgid 0)', async () => {
    // The helper as PID 1 of a new pid namespace (unshare --fork), with that namespace's /proc.
    const d = new Driver('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child=SIGKILL', await ensureHelper(), '--traffic']);
    try {
      const first = decodeTrafficResponse(await d.request(procsRequest(1)));
      expect(first.mode).toBe('ebpf');
      const helper = await pollUntil(async () => childrenOf(d.child.pid!)[0], 'the helper under unshare');
      // inside: a child of nsenter in the helper's pid namespace; it prints its own pid, as the namespace numbers it
      const inside = await new Promise<number>((resolve, reject) => {
        const c = spawn('nsenter', ['--target', String(helper), '--pid', '--', process.execPath, '-e', UDP_ONE, '9', '1500'], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        c.stdout.on('data', (b: Buffer) => (out += b.toString()));
        c.on('exit', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`nsenter exited ${code}`))));
      });
      // outside: this test's own child, in the initial namespace
      await runNode(UDP_ONE, [9, 999]);
      const seen = new Map<number, ProcessCounters>();
      let seq = 2;
      await pollUntil(async () => {
        for (const p of decodeTrafficResponse(await d.request(procsRequest(seq++))).processes) seen.set(p.tgid, p);
        return seen.get(inside)?.exited && (seen.get(0)?.bytesOut ?? 0) >= 999 ? true : undefined;
      }, 'the inside process exited and the outside traffic');
      expect(inside).toBeGreaterThan(1);
      expect(inside).toBeLessThan(100); // a fresh namespace numbers from 1
      expect(seen.get(inside)).toMatchObject({ bytesOut: 1500, packetsOut: 1, exited: true });
      expect(seen.get(0)).toMatchObject({ comm: '', exited: false, ppid: 0 });
    } finally {
      await d.stop();
    }
  });
});

const hasSetpriv = await program('setpriv', 'util-linux');
const armCompiler = await program(compilerFor('arm64'), compilerPackages('arm64'));
const qemu = await program(QEMU_ARM64, 'qemu-user-static');

describe('dedge-sockdiag --traffic fallback: sockdiag mode, and why', () => {
  it('--no-ebpf: sockdiag mode, no program loaded', async () => {
    const { r, progs } = await askOnce(await ensureHelper(), ['--traffic', '--no-ebpf']);
    expect(r).toMatchObject({ mode: 'sockdiag', error: 0, reason: 'disabled by --no-ebpf', processes: [] });
    expect(progs.size).toBe(0);
  });

  it('sockdiag mode reports the TCP sockets the kernel destroyed, with final counters: a connection per 2 KB', async () => {
    const server = net.createServer((c) => {
      c.on('data', (d) => (received += d.length));
      c.on('error', () => {});
    });
    let received = 0;
    const port = await listen(server, '127.0.0.1');
    const d = new Driver(await ensureHelper(), ['--traffic', '--no-ebpf']);
    try {
      const first = new SockDiagDecoder().decodeDestroyed(await d.request(destroyedRequest(1)));
      expect(first.error).toBe(0);
      const n = 20;
      const size = 2048;
      await runNode(TCP_PER_WRITE, [port, n, size]);
      await until(() => received === n * size, 10_000, 'server received all');
      const clients: DestroyedSocket[] = [];
      const servers: DestroyedSocket[] = [];
      let seq = 2;
      await pollUntil(async () => {
        const r = new SockDiagDecoder().decodeDestroyed(await d.request(destroyedRequest(seq++)));
        expect(r.lost).toBe(false);
        for (const x of r.sockets) {
          if (x.socket.remotePort === port) clients.push(x);
          else if (x.socket.localPort === port && x.socket.remotePort !== 0) servers.push(x);
        }
        return clients.length === n && servers.length === n ? true : undefined;
      }, 'every connection destroyed, both ends');
      // Freed sockets have no file and the kernel leaves the uid out: inode 0, uid 0, addresses kept.
      expect(clients.every((x) => x.socket.inode === 0 && x.socket.localAddress === '127.0.0.1' && x.socket.protocol === 'tcp')).toBe(true);
      // bytes_acked counts the SYN and FIN sequence numbers too: size .. size + 2 per connection
      for (const x of clients) expect(x.counters.bytesAcked - size).toBeGreaterThanOrEqual(0);
      for (const x of clients) expect(x.counters.bytesAcked - size).toBeLessThanOrEqual(2);
      for (const x of servers) expect(x.counters.bytesReceived - size).toBeGreaterThanOrEqual(0);
      for (const x of servers) expect(x.counters.bytesReceived - size).toBeLessThanOrEqual(1);
      expect(new Set(clients.map((x) => x.socket.localPort)).size).toBe(n);
    } finally {
      await d.stop();
      server.close();
    }
  });

  it('outside sockdiag mode nothing subscribes to destroyed sockets: ENOPROTOOPT', async () => {
    const off = new Driver(await ensureHelper(), []);
    try {
      const r = new SockDiagDecoder().decodeDestroyed(await off.request(destroyedRequest(5)));
      expect(r).toMatchObject({ seq: 5, error: 92, sockets: [] });
    } finally {
      await off.stop();
    }
  });

  it('without --traffic: off', async () => {
    const { r } = await askOnce(await ensureHelper(), []);
    expect(r).toMatchObject({ mode: 'off', reason: 'not requested (--traffic)' });
  });

  it(
    'root without CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN (setpriv): the kernel refuses, EPERM is reported',
    requires(isRoot, hasSetpriv),
    async () => {
      const { r, progs } = await askOnce('setpriv', [
        '--bounding-set=-bpf,-perfmon,-sys_admin',
        '--inh-caps=-bpf,-perfmon,-sys_admin',
        await ensureHelper(),
        '--traffic',
      ]);
      expect(r).toMatchObject({ mode: 'sockdiag', error: 1, processes: [] });
      expect(r.reason).toMatch(/Operation not permitted/);
      expect(progs.size).toBe(0);
    },
  );

  it('the arm64 build under qemu-user (no bpf system call there): ENOSYS is reported', requires(armCompiler, qemu), async () => {
    const { r } = await askOnce(QEMU_ARM64, [await ensureHelper('arm64'), '--traffic']);
    expect(r).toMatchObject({ mode: 'sockdiag', error: 38, processes: [] });
    expect(r.reason).toMatch(/^load: Function not implemented/);
  });

  it('a bad command line is a usage error (exit 2)', async () => {
    const c = spawn(await ensureHelper(), ['--bogus'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    expect(await new Promise((res) => c.on('exit', res))).toBe(2);
    expect(err).toMatch(/usage: dedge-sockdiag \[--traffic \[--no-ebpf\]\]/);
  });
});
