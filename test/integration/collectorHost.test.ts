// Host collector against ground truth this test creates in the host namespace: ports it opens (TCP and
// UDP, IPv4 and IPv6), connections it makes, a child process it spawns named as the owner, and the bytes
// that child sends (per-process TCP bytes from tcp_info). Only our own ports/pids are asserted, so other
// sockets on the machine (concurrent test runs) do not matter. Every test runs through both socket
// sources: the dedge-sockdiag helper and the /proc/net + ss fallback.

import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostCollector, type HostCollectorOptions } from '../../src/collector/hostCollector.ts';
import { silentLogger } from '../../src/log.ts';
import { type Helper, startHelper, waitExit } from '../support/childProcess.ts';
import { bindUdpLoopbacks, listen } from '../support/loopbackSockets.ts';
import { ensureHelper } from '../support/sockDiagHelper.ts';
import { until } from '../support/until.ts';

const helperPath = await ensureHelper();
const PATHS = [
  { source: 'sockdiag', sockDiagHelper: helperPath },
  { source: 'proc', sockDiagHelper: false },
] as const;

describe.each(PATHS)('HostCollector on this host (loopback ground truth), sockets via $source', ({ source, sockDiagHelper }) => {
  const collectors: HostCollector[] = [];
  /** a collector on this test's socket source; stopped in afterAll */
  const collector = (o: Omit<HostCollectorOptions, 'logger'>) => {
    const c = new HostCollector({ ...o, logger: silentLogger(), sockDiagHelper });
    collectors.push(c);
    return c;
  };
  const sample = async (c: HostCollector) => {
    const s = await c.sample(Date.now());
    expect(c.socketSource).toBe(source);
    return s;
  };
  const servers: net.Server[] = [];
  const udp: dgram.Socket[] = [];
  const helpers: Helper[] = [];
  const received = new Map<number, number>();
  let tcp4 = 0;
  let tcp6 = 0;
  let udp4 = 0;
  let udp6 = 0;

  beforeAll(async () => {
    for (const host of ['127.0.0.1', '::1']) {
      const s = net.createServer((c) => {
        received.set(c.remotePort!, 0);
        c.on('data', (d) => received.set(c.remotePort!, (received.get(c.remotePort!) ?? 0) + d.length));
        c.on('error', () => {});
      });
      servers.push(s);
      const port = await listen(s, host);
      if (host === '::1') tcp6 = port;
      else tcp4 = port;
    }
    ({ udp4, udp6 } = await bindUdpLoopbacks(udp));
  });

  afterAll(async () => {
    for (const c of collectors) await c.stop();
    for (const h of helpers) await h.stop();
    for (const s of servers) {
      s.close();
      (s as net.Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    }
    for (const s of udp) s.close();
  });

  it('lists our TCP/UDP listening ports on IPv4 and IPv6 with interface lo and this process as owner', async () => {
    const c = collector({ includeLoopback: true, perProcess: true, customMetrics: false, tcpBytes: false });
    const s = await sample(c);
    const find = (protocol: string, port: number) => s.listening.find((l) => l.protocol === protocol && l.port === port);
    expect(find('tcp', tcp4)).toEqual({ protocol: 'tcp', address: '127.0.0.1', port: tcp4, interface: 'lo', pid: process.pid });
    expect(find('tcp', tcp6)).toEqual({ protocol: 'tcp', address: '::1', port: tcp6, interface: 'lo', pid: process.pid });
    expect(find('udp', udp4)).toMatchObject({ address: '127.0.0.1', interface: 'lo', pid: process.pid });
    expect(find('udp', udp6)).toMatchObject({ address: '::1', interface: 'lo', pid: process.pid });
    const me = s.processes.find((p) => p.pid === process.pid)!;
    expect(me.listeningTcpPorts).toEqual(expect.arrayContaining([tcp4, tcp6]));
    expect(me.listeningUdpPorts).toEqual(expect.arrayContaining([udp4, udp6]));
    expect(me.exe).toBe(process.execPath);
    expect(s.degraded).toEqual([]);
  });

  it('names a spawned child as owner of its IPv4 and IPv6 connections and counts the bytes it sends', async () => {
    const c = collector({ includeLoopback: true, perProcess: true, customMetrics: false, tcpBytes: true });
    const a = startHelper('traffic.ts', ['send', '127.0.0.1', String(tcp4), '100000'], {
      env: { WAIT: '1', KEEP: '1', COMM: 'dedge-sender4' },
    });
    const b = startHelper('traffic.ts', ['send', '::1', String(tcp6), '30000'], { env: { WAIT: '1', KEEP: '1' } });
    helpers.push(a, b);
    const aPort = Number((await a.next()).connected);
    const bPort = Number((await b.next()).connected);

    const first = await sample(c);
    const conn4 = first.established.find((e) => e.localPort === aPort && e.remotePort === tcp4);
    expect(conn4).toEqual({
      localAddress: '127.0.0.1',
      localPort: aPort,
      remoteAddress: '127.0.0.1',
      remotePort: tcp4,
      localInterface: 'lo',
      pid: a.pid,
    });
    const conn6 = first.established.find((e) => e.localPort === bPort && e.remotePort === tcp6);
    expect(conn6).toEqual({
      localAddress: '::1',
      localPort: bPort,
      remoteAddress: '::1',
      remotePort: tcp6,
      localInterface: 'lo',
      pid: b.pid,
    });
    // The server side of the same connection belongs to this test process.
    expect(first.established.find((e) => e.localPort === tcp4 && e.remotePort === aPort)?.pid).toBe(process.pid);
    const childA = first.processes.find((p) => p.pid === a.pid)!;
    expect(childA.comm).toBe('dedge-sender4');
    expect(childA.exe).toBe(process.execPath);
    expect(childA.establishedConnections).toBe(1);
    expect(childA.remoteAddresses).toEqual(['127.0.0.1']);
    expect(childA.startTime).toBeGreaterThan(0);

    a.send('go');
    b.send('go');
    expect(await a.next()).toEqual({ sent: 100000 });
    expect(await b.next()).toEqual({ sent: 30000 });
    // wait until the server has read everything (the bytes are acked once they are in its receive queue)
    for (let i = 0; i < 200 && ((received.get(aPort) ?? 0) < 100000 || (received.get(bPort) ?? 0) < 30000); i++)
      await new Promise((r) => setTimeout(r, 10));

    const second = await sample(c);
    // Both ends are still open, so tcp_info holds the exact payload counts. Tolerance +1: tcp_info counts
    // the SYN/FIN sequence numbers for a socket first seen in this interval (not the case here).
    const trafficA = second.processes.find((p) => p.pid === a.pid)!.traffic;
    const trafficB = second.processes.find((p) => p.pid === b.pid)!.traffic;
    expect(trafficA.bytesOut).toBeGreaterThanOrEqual(100000);
    expect(trafficA.bytesOut).toBeLessThanOrEqual(100001);
    expect(trafficA.bytesIn).toBe(0);
    expect(trafficA.packetsOut).toBeGreaterThanOrEqual(2);
    expect(trafficB.bytesOut).toBeGreaterThanOrEqual(30000);
    expect(trafficB.bytesOut).toBeLessThanOrEqual(30001);
    // The receiving ends belong to this test process: exactly what the children sent, as input.
    const me = second.processes.find((p) => p.pid === process.pid)!;
    expect(me.traffic.bytesIn).toBeGreaterThanOrEqual(130000);
    expect(me.traffic.bytesIn).toBeLessThanOrEqual(130002);
    a.child.stdin!.end();
    b.child.stdin!.end();
    await Promise.all([waitExit(a), waitExit(b)]);
  });

  it('excludes loopback sockets from per-process bytes unless includeLoopback', async () => {
    const c = collector({ includeLoopback: false, perProcess: true, customMetrics: false, tcpBytes: true });
    const a = startHelper('traffic.ts', ['send', '127.0.0.1', String(tcp4), '50000'], { env: { WAIT: '1', KEEP: '1' } });
    helpers.push(a);
    const aPort = Number((await a.next()).connected);
    await sample(c);
    a.send('go');
    await a.next();
    await until(() => (received.get(aPort) ?? 0) >= 50000, 10_000, 'the bytes at the sink', 10);
    const s = await sample(c);
    expect(s.processes.find((p) => p.pid === a.pid)?.traffic.bytesOut).toBe(0);
    expect(s.processes.find((p) => p.pid === process.pid)?.traffic.bytesIn).toBe(0);
    expect(s.degraded).toEqual([]);
    a.child.stdin!.end();
    await waitExit(a);
  });

  it('reports custom metrics with sane values', async () => {
    const c = collector({ includeLoopback: false, perProcess: false, customMetrics: true, tcpBytes: false });
    const first = await sample(c);
    expect(first.custom.cpu_usage).toBeUndefined(); // needs two samples
    await new Promise((r) => setTimeout(r, 100));
    const s = await sample(c);
    const n = (k: string) => (s.custom[k] as { number: number }).number;
    expect(n('cpu_usage')).toBeGreaterThanOrEqual(0);
    expect(n('cpu_usage')).toBeLessThanOrEqual(100);
    expect(n('memory_used_bytes')).toBeGreaterThan(0);
    expect(n('disk_used_percent')).toBeGreaterThan(0);
    expect(n('process_count')).toBeGreaterThanOrEqual(2);
    expect(n('agent_rss_bytes')).toBeGreaterThan(10 * 2 ** 20);
    expect(n('network_interfaces')).toBeGreaterThanOrEqual(0);
    expect(s.processes).toEqual([]);
  });
});

describe('HostCollector: the same HostSample through either socket source', () => {
  it('lists the same ports, connections and processes for what this test holds open', async () => {
    const server = net.createServer((c) => c.on('error', () => {}));
    const port = await listen(server, '127.0.0.1');
    const u = dgram.createSocket('udp6');
    await new Promise<void>((r) => u.bind({ address: '::1', port: 0 }, () => r()));
    const child = startHelper('traffic.ts', ['send', '127.0.0.1', String(port), '0'], { env: { WAIT: '1', KEEP: '1' } });
    const viaHelper = new HostCollector({
      includeLoopback: true,
      perProcess: true,
      customMetrics: false,
      tcpBytes: true,
      logger: silentLogger(),
      sockDiagHelper: helperPath,
    });
    const viaProc = new HostCollector({
      includeLoopback: true,
      perProcess: true,
      customMetrics: false,
      tcpBytes: true,
      logger: silentLogger(),
      sockDiagHelper: false,
    });
    try {
      const childPort = Number((await child.next()).connected);
      // The child is entirely ours: compared whole. This process may hold other connections (earlier
      // tests' sockets closing), so only what this test opened is compared for it.
      const ours = (s: Awaited<ReturnType<HostCollector['sample']>>) => {
        const me = s.processes.find((p) => p.pid === process.pid)!;
        return {
          keys: Object.keys(s).sort(),
          listening: s.listening.filter((l) => l.port === port || l.port === u.address().port).sort((a, b) => a.port - b.port),
          established: s.established
            .filter((e) => e.localPort === childPort || e.remotePort === childPort)
            .sort((a, b) => a.localPort - b.localPort),
          child: s.processes.find((p) => p.pid === child.pid),
          me: {
            comm: me.comm,
            exe: me.exe,
            tcp: me.listeningTcpPorts.filter((x) => x === port),
            udp: me.listeningUdpPorts.filter((x) => x === u.address().port),
            keys: Object.keys(me).sort(),
          },
          degraded: s.degraded,
        };
      };
      await viaHelper.sample(Date.now());
      await viaProc.sample(Date.now());
      const a = await viaHelper.sample(Date.now());
      const b = await viaProc.sample(Date.now());
      expect(viaHelper.socketSource).toBe('sockdiag');
      expect(viaProc.socketSource).toBe('proc');
      expect(ours(a)).toEqual(ours(b));
      // and it is not vacuous: both connection ends, both listeners, both processes
      expect(ours(a).established).toHaveLength(2);
      expect(ours(a).listening).toHaveLength(2);
      expect(ours(a).child).toMatchObject({ pid: child.pid, establishedConnections: 1, remoteAddresses: ['127.0.0.1'] });
      expect(ours(a).me.tcp).toEqual([port]);
    } finally {
      await viaHelper.stop();
      await viaProc.stop();
      await child.stop();
      u.close();
      server.close();
      (server as net.Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    }
  });
});

describe('HostCollector: the helper missing, or killed between samples', () => {
  it('a missing helper: every sample from /proc + ss, complete, nothing degraded', async () => {
    const server = net.createServer();
    const port = await listen(server, '127.0.0.1');
    const c = new HostCollector({
      includeLoopback: true,
      perProcess: true,
      customMetrics: false,
      tcpBytes: true,
      logger: silentLogger(),
      sockDiagHelper: '/nonexistent/dedge-sockdiag',
    });
    try {
      for (let i = 0; i < 2; i++) {
        const s = await c.sample(Date.now());
        expect(c.socketSource).toBe('proc');
        expect(s.listening.find((l) => l.port === port)).toMatchObject({ protocol: 'tcp', pid: process.pid });
        expect(s.degraded).toEqual([]);
      }
      expect(c.sockDiagPid).toBeUndefined();
    } finally {
      await c.stop();
      server.close();
    }
  });

  it('a killed helper: the next sample restarts it and counts bytes across the restart', async () => {
    const received = new Map<number, number>();
    const server = net.createServer((s) => {
      s.on('data', (d) => received.set(s.remotePort!, (received.get(s.remotePort!) ?? 0) + d.length));
      s.on('error', () => {});
    });
    const port = await listen(server, '127.0.0.1');
    const c = new HostCollector({
      includeLoopback: true,
      perProcess: true,
      customMetrics: false,
      tcpBytes: true,
      logger: silentLogger(),
      sockDiagHelper: helperPath,
    });
    const sender = startHelper('traffic.ts', ['send', '127.0.0.1', String(port), '40000'], { env: { WAIT: '1', KEEP: '1' } });
    try {
      const senderPort = Number((await sender.next()).connected);
      await c.sample(Date.now());
      const first = c.sockDiagPid!;
      expect(first).toBeGreaterThan(0);
      process.kill(first, 'SIGKILL'); // the helper this collector started
      for (let i = 0; i < 500; i++) {
        try {
          process.kill(first, 0);
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setImmediate(r));
      sender.send('go');
      expect(await sender.next()).toEqual({ sent: 40000 });
      await until(() => (received.get(senderPort) ?? 0) >= 40000, 10_000, 'the bytes at the sink', 10);
      const s = await c.sample(Date.now());
      expect(c.socketSource).toBe('sockdiag');
      expect(c.sockDiagPid).not.toBe(first);
      const out = s.processes.find((p) => p.pid === sender.pid)!.traffic.bytesOut;
      expect(out).toBeGreaterThanOrEqual(40000);
      expect(out).toBeLessThanOrEqual(40001);
    } finally {
      await c.stop();
      await sender.stop();
      server.close();
      (server as net.Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    }
  });
});
