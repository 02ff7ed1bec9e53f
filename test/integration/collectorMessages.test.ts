// Per-process MQTT message estimates (hostCollector.ts addProcessTraffic) against a real broker (aedes, in
// this test process, on 127.0.0.1) and a real MQTT client child process that publishes a known number of
// QoS 1 messages: the rogue-agent demo's situation (docs/demo.md#the-scenario) — a process on the gateway
// publishing to the local broker must show messagesSent/messagesReceived and bytes, although the host's
// network_stats exclude loopback. Through both socket sources (helper and /proc + ss).

import net from 'node:net';
import { Aedes } from 'aedes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostCollector } from '../../src/collector/hostCollector.ts';
import { silentLogger } from '../../src/log.ts';
import { type Helper, startHelper } from '../support/childProcess.ts';
import { ensureHelper } from '../support/sockDiagHelper.ts';

const helperPath = await ensureHelper();
const COUNT = 40;
const PAYLOAD = 200;

describe.each([
  { source: 'sockdiag', sockDiagHelper: helperPath },
  { source: 'proc', sockDiagHelper: false },
] as const)('MQTT message estimates per process, sockets via $source', ({ source, sockDiagHelper }) => {
  let broker: Aedes;
  let server: net.Server;
  let port = 0;
  const helpers: Helper[] = [];
  const collectors: HostCollector[] = [];

  beforeAll(async () => {
    broker = await Aedes.createBroker();
    server = net.createServer(broker.handle);
    await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    port = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    for (const c of collectors) await c.stop();
    for (const h of helpers) await h.stop();
    await new Promise<void>((r) => broker.close(() => r()));
    server.close();
  });

  it("counts a publishing client's messages and bytes over loopback, and the broker's side, with network_stats excluding loopback", async () => {
    const make = (perProcessIncludeLoopback: boolean) => {
      const c = new HostCollector({
        includeLoopback: false,
        perProcessIncludeLoopback,
        mqttPorts: [port],
        perProcess: true,
        customMetrics: false,
        tcpBytes: true,
        logger: silentLogger(),
        sockDiagHelper,
      });
      collectors.push(c);
      return c;
    };
    const withLoopback = make(true);
    const withoutLoopback = make(false);
    const pub = startHelper('mqttPublisher.ts', [`mqtt://127.0.0.1:${port}`, 'dedge/rogue', String(COUNT), String(PAYLOAD)], {
      env: { COMM: 'dedge-rogue' },
    });
    helpers.push(pub);
    await pub.next(); // connected

    await withLoopback.sample(Date.now());
    await withoutLoopback.sample(Date.now());
    pub.send('go');
    expect(await pub.next()).toEqual({ published: COUNT });
    const a = await withLoopback.sample(Date.now());
    const b = await withoutLoopback.sample(Date.now());
    expect(withLoopback.socketSource).toBe(source);

    const rogue = a.processes.find((p) => p.pid === pub.pid)!;
    expect(rogue.comm).toBe('dedge-rogue');
    // one PUBLISH per data segment (each waits for its PUBACK); a stray PINGREQ or two at most
    expect(rogue.messagesSent).toBeGreaterThanOrEqual(COUNT);
    expect(rogue.messagesSent).toBeLessThanOrEqual(COUNT + 2);
    expect(rogue.messagesReceived).toBeGreaterThanOrEqual(COUNT); // the PUBACKs
    expect(rogue.messagesReceived).toBeLessThanOrEqual(COUNT + 2);
    expect(rogue.traffic.bytesOut).toBeGreaterThan(COUNT * PAYLOAD);
    expect(rogue.messageBytes).toBeGreaterThan(COUNT * PAYLOAD);
    // the broker's accepted connection belongs to this process: what the rogue sent, it received
    const me = a.processes.find((p) => p.pid === process.pid)!;
    expect(me.messagesReceived).toBeGreaterThanOrEqual(COUNT);
    expect(me.messagesSent).toBeGreaterThanOrEqual(COUNT);

    // perProcessIncludeLoopback false: no loopback bytes, but the local broker's messages still count
    const rogueB = b.processes.find((p) => p.pid === pub.pid)!;
    expect(rogueB.traffic.bytesOut).toBe(0);
    expect(rogueB.messagesSent).toBeGreaterThanOrEqual(COUNT);
    expect(rogueB.messagesSent).toBeLessThanOrEqual(COUNT + 2);

    // a process with no MQTT socket has no message metrics at all (unknown, not 0)
    const idle = startHelper('traffic.ts', ['sink', '127.0.0.1', '0']);
    helpers.push(idle);
    await idle.next();
    const c = await withLoopback.sample(Date.now());
    expect(c.processes.find((p) => p.pid === idle.pid)?.messagesSent).toBeUndefined();
    // nothing published since the last sample
    expect(c.processes.find((p) => p.pid === pub.pid)?.messagesSent).toBe(0);
  });
});
