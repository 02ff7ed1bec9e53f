// Collector against traffic in network namespaces this test creates (names `dedge<random>…`, deleted in
// afterAll): network_stats over a namespace's loopback, and downstream devices behind a gateway namespace
// (real veth pairs, ip_forward on in the gateway namespace only, real TCP/UDP over IPv4 and IPv6) counted
// per device by the nft table the collector owns, read less often with many devices. Also the degraded
// paths: nft missing, namespace gone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Collector } from '../../src/collector/collector.ts';
import { DownstreamCollector, READ_MS_PER_DEVICE } from '../../src/collector/downstreamCollector.ts';
import { HostCollector } from '../../src/collector/hostCollector.ts';
import { validateConfig } from '../../src/config/validate.ts';
import { silentLogger } from '../../src/log.ts';
import { type CommandRunner, createCommandRunner } from '../../src/system/commandRunner.ts';
import { type Helper, startHelper, waitExit } from '../support/childProcess.ts';
import { createNetns, deleteNetns, inNs, vethBetween } from '../support/netns.ts';
import { requires, root } from '../support/requirements.ts';
import { uniqueId } from '../support/uniqueId.ts';

const prefix = uniqueId();
const gw = `${prefix}gw`;
const dev = `${prefix}dv`;
const up = `${prefix}up`;
const solo = `${prefix}lo`;
const table = `${prefix}_t`;
const helpers: Helper[] = [];

beforeAll(() => {
  for (const ns of [gw, dev, up, solo]) createNetns(ns);
  // device ns ── gateway ns ── upstream ns
  vethBetween(
    { ns: gw, dev: `${prefix}g0`, addrs: ['10.77.1.1/24', 'fd77:1::1/64'] },
    { ns: dev, dev: `${prefix}d0`, addrs: ['10.77.1.2/24', '10.77.1.3/24', 'fd77:1::2/64'] },
  );
  vethBetween(
    { ns: gw, dev: `${prefix}g1`, addrs: ['10.77.2.1/24', 'fd77:2::1/64'] },
    { ns: up, dev: `${prefix}u0`, addrs: ['10.77.2.2/24', 'fd77:2::2/64'] },
  );
  inNs(gw, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
  inNs(dev, 'ip', ['route', 'add', 'default', 'via', '10.77.1.1']);
  inNs(dev, 'ip', ['-6', 'route', 'add', 'default', 'via', 'fd77:1::1']);
  inNs(up, 'ip', ['route', 'add', '10.77.1.0/24', 'via', '10.77.2.1']);
  inNs(up, 'ip', ['-6', 'route', 'add', 'fd77:1::/64', 'via', 'fd77:2::1']);
});

afterAll(async () => {
  for (const h of helpers) await h.stop();
  deleteNetns(gw, dev, up, solo); // our nft tables live in these namespaces and go with them
});

describe('network_stats in a namespace (loopback included on request)', requires(root), () => {
  it('counts bytes sent over the namespace loopback within tolerance, and none when loopback is excluded', async () => {
    const sink = startHelper('traffic.ts', ['sink', '127.0.0.1', '0'], { netns: solo });
    helpers.push(sink);
    const { port, pid } = (await sink.next()) as { port: number; pid: number };
    const procNetDir = `/proc/${pid}/net`; // the namespace's /proc/net, seen through a process inside it
    const withLo = new HostCollector({
      includeLoopback: true,
      perProcess: true,
      customMetrics: false,
      tcpBytes: true,
      logger: silentLogger(),
      runner: createCommandRunner({ netns: solo }),
      procNetDir,
    });
    const withoutLo = new HostCollector({
      includeLoopback: false,
      perProcess: false,
      customMetrics: false,
      tcpBytes: false,
      logger: silentLogger(),
      runner: createCommandRunner({ netns: solo }),
      procNetDir,
    });
    await withLo.sample(Date.now());
    await withoutLo.sample(Date.now());

    const sender = startHelper('traffic.ts', ['send', '127.0.0.1', String(port), '200000'], { netns: solo });
    helpers.push(sender);
    expect(await waitExit(sender)).toBe(0);
    expect(await sink.next()).toEqual({ received: 200000 });

    const s = await withLo.sample(Date.now());
    // Tolerance: lo sees every byte once as out and once as in, plus IP/TCP headers (≤ 80 B per
    // segment; lo's 64 KiB MTU means few segments) and the handshake/ACK/FIN packets: ≤ 5 % + 4 KiB.
    const why = JSON.stringify({ network: s.network, degraded: s.degraded });
    for (const v of [s.network!.bytesOut, s.network!.bytesIn]) {
      expect(v, why).toBeGreaterThanOrEqual(200000);
      expect(v, why).toBeLessThanOrEqual(200000 * 1.05 + 4096);
    }
    expect(s.network!.packetsOut).toBeGreaterThanOrEqual(5);
    expect(s.perInterface!.lo!.bytesOut).toBe(s.network!.bytesOut);
    // The sink (pid in the namespace) is named as the owner of its listening port, interface from `ip -j addr`.
    expect(s.listening).toContainEqual({ protocol: 'tcp', address: '127.0.0.1', port, interface: 'lo', pid });
    expect(s.degraded).toEqual([]);

    const t = await withoutLo.sample(Date.now());
    expect(t.network).toEqual({ bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 });
    expect(t.perInterface!.lo).toBeUndefined();
  });
});

describe('downstream devices behind a gateway namespace', requires(root), () => {
  const devices = [
    { thingName: 'sensor-a', addresses: ['10.77.1.2', 'fd77:1::2'] },
    { thingName: 'sensor-b', addresses: ['10.77.1.3'] },
    { thingName: 'idle-c', addresses: ['10.77.1.99'] },
  ];

  it('counts each device’s traffic in both directions and its destinations, IPv4 and IPv6', async () => {
    const c = new DownstreamCollector({ devices, table, logger: silentLogger(), runner: createCommandRunner({ netns: gw }) });
    await c.start();
    try {
      const sink4 = startHelper('traffic.ts', ['sink', '10.77.2.2', '0'], { netns: up });
      const sink6 = startHelper('traffic.ts', ['sink', 'fd77:2::2', '0'], { netns: up });
      helpers.push(sink4, sink6);
      const port4 = Number((await sink4.next()).port);
      const port6 = Number((await sink6.next()).port);
      // three devices: the table may be read every 24 ms (READ_MS_PER_DEVICE); samples 1 s apart read it each time
      const t0 = Date.now();
      const first = await c.sample(t0);
      expect(first.degraded).toBeUndefined();
      expect(first.devices.map((d) => d.traffic)).toEqual([undefined, undefined, undefined]); // no previous reading

      const runs = [
        startHelper('traffic.ts', ['send', '10.77.2.2', String(port4), '50000', '10.77.1.2'], { netns: dev }),
        startHelper('traffic.ts', ['send', 'fd77:2::2', String(port6), '20000', 'fd77:1::2'], { netns: dev }),
        startHelper('traffic.ts', ['send', '10.77.2.2', String(port4), '10000', '10.77.1.3'], { netns: dev }),
        startHelper('traffic.ts', ['udp', '10.77.2.1', '9', '500', '10.77.1.3'], { netns: dev }), // to the gateway itself
      ];
      helpers.push(...runs);
      for (const r of runs) expect(await waitExit(r)).toBe(0);
      const got = [await sink4.next(), await sink4.next(), await sink6.next()].map((m) => m.received).sort();
      expect(got).toEqual([10000, 20000, 50000]);

      const second = await c.sample(t0 + 1000);
      expect(second.degraded).toBeUndefined();
      expect(second.read).toEqual({ sinceMs: 1000 });
      const [a, b, idle] = second.devices;
      // Tolerance: nft counts whole IP packets — payload + IP/TCP headers (≤ 80 B per ≤1448 B segment on
      // this 1500 MTU veth ≈ 6 %) + handshake/FIN: payload ≤ bytes ≤ payload × 1.07 + 2 KiB.
      expect(a!.thingName).toBe('sensor-a');
      expect(a!.traffic!.bytesOut).toBeGreaterThanOrEqual(70000);
      expect(a!.traffic!.bytesOut).toBeLessThanOrEqual(70000 * 1.07 + 2048);
      expect(a!.traffic!.bytesIn).toBeGreaterThan(0); // ACKs
      expect(a!.traffic!.bytesIn).toBeLessThan(70000 * 0.2);
      expect(a!.destinations).toEqual(expect.arrayContaining(['10.77.2.2', 'fd77:2::2']));
      expect(a!.destinations).not.toContain('10.77.2.1');
      expect(b!.traffic!.bytesOut).toBeGreaterThanOrEqual(10000 + 500);
      expect(b!.traffic!.bytesOut).toBeLessThanOrEqual(10500 * 1.07 + 2048);
      expect(b!.destinations).toEqual(expect.arrayContaining(['10.77.2.2', '10.77.2.1']));
      expect(idle!.traffic).toEqual({ bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 });
      expect(idle!.destinations).toEqual([]);

      // A quiet interval: counters and destinations are deltas, so everything drops to zero.
      const third = await c.sample(t0 + 2000);
      expect(third.devices[0]!.traffic!.bytesOut).toBeLessThan(1000); // at most stray ND/ARP
      expect(third.devices[0]!.destinations).not.toContain('10.77.2.2');
    } finally {
      await c.stop();
    }
    expect(() => inNs(gw, 'nft', ['list', 'table', 'inet', table])).toThrow();
  });

  it('with many devices reads the table less often; a reading covers the time since the previous one', async () => {
    // 500 devices: at most one reading per 4 s (READ_MS_PER_DEVICE)
    const many = Array.from({ length: 500 }, (_, i) => ({ thingName: `m-${i}`, addresses: [`10.78.${i >> 8}.${i & 255}`] }));
    const c = new DownstreamCollector({
      devices: [...devices, ...many],
      table,
      logger: silentLogger(),
      runner: createCommandRunner({ netns: gw }),
    });
    expect(503 * READ_MS_PER_DEVICE).toBeGreaterThan(2000);
    await c.start();
    try {
      const t0 = Date.now();
      const first = await c.sample(t0);
      expect(first.degraded).toBeUndefined();
      const sink = startHelper('traffic.ts', ['sink', '10.77.2.2', '0'], { netns: up });
      helpers.push(sink);
      const port = Number((await sink.next()).port);
      const send = startHelper('traffic.ts', ['send', '10.77.2.2', String(port), '30000', '10.77.1.2'], { netns: dev });
      helpers.push(send);
      expect(await waitExit(send)).toBe(0);
      // 1 s later: not read, nothing measured for any device
      const between = await c.sample(t0 + 1000);
      expect(between.read).toBeUndefined();
      expect(between.devices.filter((d) => d.traffic !== undefined || d.destinations.length > 0)).toEqual([]);
      // past the interval: read, and the traffic sent meanwhile is all there
      const next = await c.sample(t0 + 503 * READ_MS_PER_DEVICE);
      expect(next.read).toEqual({ sinceMs: 503 * READ_MS_PER_DEVICE });
      expect(next.devices[0]!.traffic!.bytesOut).toBeGreaterThanOrEqual(30000);
      expect(next.devices[0]!.destinations).toContain('10.77.2.2');
      expect(next.devices.slice(3).every((d) => d.traffic?.bytesOut === 0)).toBe(true);
    } finally {
      await c.stop();
    }
  });

  it('re-creates its table when it is deleted behind its back, reporting the gap as degraded', async () => {
    const c = new DownstreamCollector({ devices, table, logger: silentLogger(), runner: createCommandRunner({ netns: gw }) });
    await c.start();
    try {
      // sample times 1 s apart: each sample reads the table (READ_MS_PER_DEVICE)
      const t0 = Date.now();
      await c.sample(t0);
      inNs(gw, 'nft', ['delete', 'table', 'inet', table]);
      const gap = await c.sample(t0 + 1000);
      expect(gap.degraded).toMatch(/^downstream-traffic: nft: .*No such file or directory/);
      expect(gap.devices.map((d) => d.traffic)).toEqual([undefined, undefined, undefined]);
      const back = await c.sample(t0 + 2000);
      expect(back.degraded).toBeUndefined();
      expect(inNs(gw, 'nft', ['list', 'table', 'inet', table])).toContain('count_forward');
    } finally {
      await c.stop();
    }
  });

  it('degrades only downstream traffic when nft is missing; host sampling goes on', async () => {
    const inGw = createCommandRunner({ netns: gw });
    const missingNft: CommandRunner = {
      netns: gw,
      run: (program, args, options) => inGw.run(program === 'nft' ? 'dedge-no-such-nft' : program, args, options),
    };
    const r = validateConfig({
      downstream: { devices, messageTopics: ['devices/{thingName}/#'] },
      collector: { downstreamNftTable: table, tcpBytes: false },
    });
    if (!r.ok) throw new Error(r.errors.join('; '));
    const collector = new Collector({ config: r.config, logger: silentLogger(), runner: missingNft });
    await collector.start();
    collector.messages.record('devices/sensor-b/telemetry', 120, 'sent', Date.now());
    collector.messages.record('devices/unknown/telemetry', 120, 'sent', Date.now());
    const s = await collector.sample(Date.now());
    expect(s.host.degraded).toEqual(['downstream-traffic: dedge-no-such-nft: not found']);
    expect(s.host.custom.memory_used_bytes).toBeDefined();
    expect(s.devices.map((d) => [d.thingName, d.traffic, d.messagesSent, d.messageBytes])).toEqual([
      ['sensor-a', undefined, 0, 0],
      ['sensor-b', undefined, 1, 120],
      ['idle-c', undefined, 0, 0],
    ]);
    await collector.stop();
  });

  it('degrades ss and interface lookups when the namespace is gone, and keeps the rest', async () => {
    const c = new HostCollector({
      includeLoopback: true,
      perProcess: true,
      customMetrics: true,
      tcpBytes: true,
      logger: silentLogger(),
      runner: createCommandRunner({ netns: `${prefix}gone` }),
    });
    const s = await c.sample(Date.now());
    expect(s.degraded).toEqual([
      expect.stringMatching(/^interfaces: netns: Cannot open network namespace/),
      expect.stringMatching(/^tcp-bytes: netns: Cannot open network namespace/),
    ]);
    expect(s.custom.process_count).toBeDefined();
    expect(Array.isArray(s.listening)).toBe(true);
  });
});
