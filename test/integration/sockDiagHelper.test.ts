// The dedge-sockdiag helper itself (native/sockdiag/dedge-sockdiag.c), run as a real process against
// sockets this test opens in the host namespace: TCP listening on IPv4 and IPv6, a connection with a known
// number of bytes, UDP bound on IPv4 and IPv6 and a connected UDP socket. Ground truth: what the test
// opened and sent, and the kernel's own /proc/net tables for the same inodes. Then the protocol's edges
// (bad and over-long lines, quit, end of input), and the arm64 build under qemu-user.

import dgram from 'node:dgram';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilerFor, compilerPackages } from '../../scripts/buildSockDiag.ts';
import { parseProcNetSockets, type SocketEntry } from '../../src/collector/procNetSockets.ts';
import { dumpRequest, FLAG_TCP_PER_FAMILY, RECORD_SIZE, SockDiagDecoder } from '../../src/collector/sockDiagProtocol.ts';
import { errnoName } from '../../src/collector/sockDiagSource.ts';
import { bindUdpLoopbacks, listen } from '../support/loopbackSockets.ts';
import { program, QEMU_ARM64, requirement, requires } from '../support/requirements.ts';
import { ensureHelper, RawHelper } from '../support/sockDiagHelper.ts';
import { until } from '../support/until.ts';

const SENT = 70_000;

function ourSocketInodes(): Set<number> {
  const out = new Set<number>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) out.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

function procEntries(inodes: Set<number>): SocketEntry[] {
  const all: SocketEntry[] = [];
  for (const [file, proto] of [
    ['tcp', 'tcp'],
    ['tcp6', 'tcp'],
    ['udp', 'udp'],
    ['udp6', 'udp'],
  ] as const) {
    all.push(...parseProcNetSockets(readFileSync(`/proc/self/net/${file}`, 'utf8'), proto, os.endianness()).entries);
  }
  return all.filter((e) => inodes.has(e.inode));
}

const key = (e: SocketEntry) =>
  `${e.protocol} ${e.localAddress}:${e.localPort} ${e.remoteAddress}:${e.remotePort} st${e.state} uid${e.uid} ino${e.inode}`;

describe('dedge-sockdiag (x64, this host) against sockets this test opened', () => {
  let helperPath = '';
  const servers: net.Server[] = [];
  const udp: dgram.Socket[] = [];
  let client: net.Socket | undefined;
  let tcp4 = 0;
  let tcp6 = 0;
  let udp4 = 0;
  let udp6 = 0;
  let clientPort = 0;
  let helper: RawHelper | undefined;

  beforeAll(async () => {
    helperPath = await ensureHelper();
    let received = 0;
    for (const host of ['127.0.0.1', '::1']) {
      const s = net.createServer((c) => {
        c.on('data', (d) => (received += d.length));
        c.on('error', () => {});
      });
      servers.push(s);
      if (host === '::1') tcp6 = await listen(s, host);
      else tcp4 = await listen(s, host);
    }
    ({ udp4, udp6 } = await bindUdpLoopbacks(udp));
    const connected = dgram.createSocket('udp4');
    udp.push(connected);
    await new Promise<void>((r) => connected.connect(udp4, '127.0.0.1', () => r()));

    const c = net.connect({ host: '127.0.0.1', port: tcp4 });
    client = c;
    await new Promise<void>((r) => c.once('connect', () => r()));
    clientPort = c.localPort!;
    await new Promise<void>((r) => c.write(Buffer.alloc(SENT, 0x61), () => r()));
    await until(() => received >= SENT, 10_000, 'every byte at the server', 10);
    expect(received).toBe(SENT);
    helper = new RawHelper(helperPath);
  });

  afterAll(async () => {
    await helper?.stop();
    client?.destroy();
    for (const s of servers) {
      s.close();
      (s as net.Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    }
    for (const s of udp) s.close();
  });

  it.each([
    ['one AF_UNSPEC TCP dump (default)', 0, true],
    ['TCP per family (sock_diag v2)', FLAG_TCP_PER_FAMILY, false],
  ] as const)('lists exactly the sockets /proc/net lists for our inodes, with the same fields: %s', async (_name, flags, oneDump) => {
    const r = new SockDiagDecoder().decode(await helper!.request(dumpRequest(5, undefined, undefined, flags)));
    expect(r.seq).toBe(5);
    expect(r.status).toEqual({ tcp4: 0, tcp6: 0, udp4: 0, udp6: 0 });
    expect(r.tcpOneDump).toBe(oneDump);
    // Ours: held by this process AND on one of the ports this test opened (nothing else can interfere).
    const ports = new Set([tcp4, tcp6, udp4, udp6, clientPort]);
    const mine = (s: SocketEntry) => ports.has(s.localPort) || ports.has(s.remotePort);
    const ours = ourSocketInodes();
    const fromHelper = r.sockets
      .filter((s) => ours.has(s.inode) && mine(s))
      .map(key)
      .sort();
    const fromProc = procEntries(ours).filter(mine).map(key).sort();
    expect(fromHelper).toEqual(fromProc);
    // 2 listeners, client + accepted end, 3 UDP sockets
    expect(fromHelper).toHaveLength(7);
    // no socket twice
    expect(new Set(r.sockets.map(key)).size).toBe(r.sockets.length);
  });

  it('reports listening TCP/UDP on IPv4 and IPv6, the connection, the connected UDP socket, and our uid', async () => {
    const { sockets } = new SockDiagDecoder().decode(await helper!.request(dumpRequest(6)));
    const uid = process.getuid!();
    const find = (p: Partial<SocketEntry>) => sockets.filter((s) => Object.entries(p).every(([k, v]) => s[k as keyof SocketEntry] === v));
    expect(find({ protocol: 'tcp', localAddress: '127.0.0.1', localPort: tcp4, state: 10 })).toEqual([
      expect.objectContaining({ remotePort: 0, uid }),
    ]);
    expect(find({ protocol: 'tcp', localAddress: '::1', localPort: tcp6, state: 10 })).toHaveLength(1);
    expect(find({ protocol: 'udp', localAddress: '127.0.0.1', localPort: udp4, state: 7 })).toHaveLength(1);
    expect(find({ protocol: 'udp', localAddress: '::1', localPort: udp6, state: 7 })).toHaveLength(1);
    expect(find({ protocol: 'udp', remoteAddress: '127.0.0.1', remotePort: udp4, state: 1 })).toHaveLength(1);
    expect(find({ protocol: 'tcp', localPort: clientPort, remotePort: tcp4, state: 1 })).toEqual([
      expect.objectContaining({ localAddress: '127.0.0.1', remoteAddress: '127.0.0.1', uid }),
    ]);
    expect(find({ protocol: 'tcp', localPort: tcp4, remotePort: clientPort, state: 1 })).toHaveLength(1);
  });

  it('gives the exact bytes sent and received in tcp_info, and data segments', async () => {
    const r = new SockDiagDecoder().decode(await helper!.request(dumpRequest(7)));
    const clientEnd = r.sockets.find((s) => s.protocol === 'tcp' && s.localPort === clientPort && s.remotePort === tcp4)!;
    const serverEnd = r.sockets.find((s) => s.protocol === 'tcp' && s.localPort === tcp4 && s.remotePort === clientPort)!;
    const c = r.tcp.get(clientEnd.inode)!;
    const s = r.tcp.get(serverEnd.inode)!;
    // bytes_acked counts the SYN's sequence number too (+1); bytes_received counts payload only.
    expect(c.bytesAcked).toBeGreaterThanOrEqual(SENT);
    expect(c.bytesAcked).toBeLessThanOrEqual(SENT + 1);
    expect(c.bytesReceived).toBe(0);
    expect(s.bytesReceived).toBe(SENT);
    expect(s.bytesAcked).toBeLessThanOrEqual(1);
    expect(c.dataSegsOut).toBeGreaterThanOrEqual(1);
    expect(s.dataSegsIn).toBeGreaterThanOrEqual(1);
    expect(c.dataSegsIn).toBe(0);
    expect(s.dataSegsOut).toBe(0);
    expect(c.segsOut).toBeGreaterThanOrEqual(c.dataSegsOut!);
    // listening sockets carry tcp_info too, with nothing sent
    const l = r.sockets.find((x) => x.protocol === 'tcp' && x.localPort === tcp4 && x.state === 10)!;
    expect(r.tcp.get(l.inode)?.bytesAcked).toBe(0);
  });

  it('honours state masks: LISTEN only', async () => {
    const r = new SockDiagDecoder().decode(await helper!.request(dumpRequest(8, 1 << 10, 0)));
    expect(r.sockets.length).toBeGreaterThan(0);
    expect(r.sockets.every((s) => s.protocol === 'tcp' && s.state === 10)).toBe(true);
    expect(r.sockets.some((s) => s.localPort === tcp4)).toBe(true);
  });

  it('answers bad and over-long lines with EINVAL and keeps serving; exits 0 on quit', async () => {
    const d = new SockDiagDecoder();
    for (const bad of [
      'hello\n',
      'dump\n',
      'dump x\n',
      'dump 1 zz\n',
      'dump -1\n',
      'dump 1 1 1 2\n',
      'dump 1 1 1 1 1\n',
      `dump 1 ${'f'.repeat(300)}\n`,
      'dump 99999999999\n',
    ]) {
      const buf = await helper!.request(bad);
      expect(buf.length).toBe(RECORD_SIZE);
      const r = d.decode(buf);
      expect({ bad, status: Object.values(r.status).map(errnoName) }).toEqual({ bad, status: ['EINVAL', 'EINVAL', 'EINVAL', 'EINVAL'] });
    }
    const after = d.decode(await helper!.request(dumpRequest(9)));
    expect(after.seq).toBe(9);
    expect(after.sockets.some((s) => s.localPort === tcp4)).toBe(true);
    helper!.child.stdin!.write('quit\n');
    expect(await helper!.exited).toEqual({ code: 0, signal: null });
  });

  const asRoot = requirement(process.getuid!() === 0, 'not root: the helper drops from root to nobody only when started by root');
  it('started by root, it serves as nobody with no capabilities and no way back', requires(asRoot), async () => {
    const h = new RawHelper(helperPath);
    try {
      expect(new SockDiagDecoder().decode(await h.request(dumpRequest(1))).sockets.some((s) => s.localPort === tcp4)).toBe(true);
      const status = readFileSync(`/proc/${h.child.pid}/status`, 'utf8');
      const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim().split(/\s+/);
      expect(field('Uid')).toEqual(['65534', '65534', '65534', '65534']);
      expect(field('Gid')).toEqual(['65534', '65534', '65534', '65534']);
      expect(field('CapEff')).toEqual(['0000000000000000']);
      expect(field('NoNewPrivs')).toEqual(['1']);
    } finally {
      await h.stop();
    }
  });

  it('exits 0 when its input ends (the agent went away)', async () => {
    const h = new RawHelper(helperPath);
    expect(new SockDiagDecoder().decode(await h.request(dumpRequest(1))).status.tcp4).toBe(0);
    h.child.stdin!.end();
    expect(await h.exited).toEqual({ code: 0, signal: null });
  });
});

const QEMU = QEMU_ARM64;
const armCompiler = await program(compilerFor('arm64'), compilerPackages('arm64'));
const qemu = await program(QEMU, 'qemu-user-static');

describe(`dedge-sockdiag arm64 build under ${QEMU}`, requires(armCompiler, qemu), () => {
  it('is a static aarch64 executable that speaks the protocol; qemu-user refuses NETLINK_SOCK_DIAG', async () => {
    const file = await ensureHelper('arm64');
    const head = readFileSync(file).subarray(0, 20);
    expect(head.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(head.readUInt16LE(18)).toBe(183); // EM_AARCH64
    // static: no program interpreter, so it runs on any arm64 gateway whatever its libc
    expect(readFileSync(file).includes(Buffer.from('/lib/ld-linux-aarch64.so.1'))).toBe(false);

    const h = new RawHelper(QEMU, [file]);
    try {
      const d = new SockDiagDecoder();
      const r = d.decode(await h.request(dumpRequest(3)));
      expect(r.seq).toBe(3);
      // qemu-user (7.2, Debian 12) translates netlink sockets for NETLINK_ROUTE, _AUDIT and
      // _KOBJECT_UEVENT only, so the helper reports EPROTONOSUPPORT for every dump, cleanly. If a later
      // qemu passes sock_diag through, the dump must then be a real one.
      if (r.status.tcp4 === 0) {
        expect(r.sockets.length).toBeGreaterThan(0);
      } else {
        expect(Object.values(r.status).map(errnoName)).toEqual([
          'EPROTONOSUPPORT',
          'EPROTONOSUPPORT',
          'EPROTONOSUPPORT',
          'EPROTONOSUPPORT',
        ]);
        expect(r.sockets).toEqual([]);
      }
      expect(Object.values(d.decode(await h.request('nonsense\n')).status).map(errnoName)).toEqual([
        'EINVAL',
        'EINVAL',
        'EINVAL',
        'EINVAL',
      ]);
      h.child.stdin!.write('quit\n');
      expect(await h.exited).toEqual({ code: 0, signal: null });
    } finally {
      await h.stop();
    }
  });
});
