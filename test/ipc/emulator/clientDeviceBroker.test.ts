// The client-device broker alone, with real mqtt.js clients over TLS (certificates from a CoreDeviceCa) and
// raw TLS sockets on loopback; client device auth from device groups given directly.

import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DeviceGroups, parseDeviceGroups } from '../../../src/ipc/emulator/clientDeviceAuth.ts';
import { BrokerStartError, ClientDeviceBroker, type DeviceMessage } from '../../../src/ipc/emulator/clientDeviceBroker.ts';
import { CoreDeviceCa } from '../../../src/ipc/emulator/coreDeviceCa.ts';
import {
  assertPortFree,
  closeDevices,
  connectDevice,
  connectPacket,
  type Device,
  type DeviceTls,
  publishPacket,
  rawSocket,
  refusedConnect,
  tlsOptions,
} from '../../support/mqttDevice.ts';
import { until } from '../../support/until.ts';

const brokers: ClientDeviceBroker[] = [];
const devices: Device[] = [];
const servers: Server[] = [];
let dir = '';
let ca: CoreDeviceCa;
let serverCreds: { cert: string; key: string };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dedge-broker-'));
  ca = CoreDeviceCa.openOrCreate(join(dir, 'ca'));
  serverCreds = ca.serverCredentials(['127.0.0.1']);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

afterEach(async () => {
  await closeDevices(devices);
  for (const b of brokers.splice(0)) await b.stop();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

function groups(raw: unknown): DeviceGroups {
  const p = parseDeviceGroups(raw);
  if (!p.ok) throw new Error(p.errors.join('; '));
  return p.value;
}

/** Every thing may do everything: for the tests of the broker's plumbing. */
const ALLOW_ALL = groups({
  definitions: { all: { selectionRule: 'thingName: *', policyName: 'p' } },
  policies: { p: { s: { operations: ['*'], resources: ['*'] } } },
});

function options(port: number, g: () => DeviceGroups = () => ALLOW_ALL, seen?: DeviceMessage[]) {
  return { port, tls: { ...serverCreds, ca: ca.caPem }, deviceGroups: g, onDevicePublish: (m: DeviceMessage) => seen?.push(m) };
}

async function startBroker(opts: { seen?: DeviceMessage[]; groups?: () => DeviceGroups } = {}): Promise<ClientDeviceBroker> {
  const b = new ClientDeviceBroker(options(0, opts.groups, opts.seen));
  brokers.push(b);
  await b.start();
  return b;
}

const certs = new Map<string, DeviceTls>();
function tlsOf(thing: string): DeviceTls {
  let t = certs.get(thing);
  if (!t) {
    const c = ca.issueDevice(thing, join(dir, 'devices'));
    t = { caPath: ca.caPath, certPath: c.certPath, keyPath: c.keyPath };
    certs.set(thing, t);
  }
  return t;
}

async function device(b: ClientDeviceBroker, id: string, certFor: string = id): Promise<Device> {
  const d = await connectDevice(b.url, id, tlsOptions(tlsOf(certFor)));
  devices.push(d);
  return d;
}

/** Listen on a loopback port so that it is busy; resolves with the port. */
async function busyPort(): Promise<number> {
  const s = createServer();
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as AddressInfo).port;
}

describe('ClientDeviceBroker', () => {
  it('listens on 127.0.0.1 only and counts publishes in/out, bytes and the remote port per client', async () => {
    const seen: DeviceMessage[] = [];
    const b = await startBroker({ seen });
    expect(b.url).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    const sensor = await device(b, 'sensor-1');
    const sink = await device(b, 'sink-1');
    await sink.client.subscribeAsync('a/#', { qos: 1 });
    await sensor.client.publishAsync('a/b', 'abc', { qos: 0 });
    await sensor.client.publishAsync('a/c', Buffer.from([0, 1, 2, 255]), { qos: 1 });
    await until(() => sink.received.length === 2, 5000, 'two messages at the sink');
    await until(() => b.status().connectedClients === 2, 5000, 'both registered');
    expect(sink.received.map((m) => [m.topic, m.payload.toString('hex')])).toEqual([
      ['a/b', '616263'],
      ['a/c', '000102ff'],
    ]);
    expect(seen).toEqual([
      { clientId: 'sensor-1', topic: 'a/b', payload: Buffer.from('abc'), qos: 0, retain: false },
      { clientId: 'sensor-1', topic: 'a/c', payload: Buffer.from([0, 1, 2, 255]), qos: 1, retain: false },
    ]);
    const st = b.status();
    expect(st.connectedClients).toBe(2);
    expect(st.clients).toEqual([
      {
        clientId: 'sensor-1',
        connected: true,
        remoteAddress: '127.0.0.1',
        remotePort: sensor.localPort,
        connects: 1,
        publishesIn: 2,
        bytesIn: 7,
        publishesOut: 0,
        bytesOut: 0,
        deniedPublishes: 0,
        deniedSubscribes: 0,
      },
      {
        clientId: 'sink-1',
        connected: true,
        remoteAddress: '127.0.0.1',
        remotePort: sink.localPort,
        connects: 1,
        publishesIn: 0,
        bytesIn: 0,
        publishesOut: 2,
        bytesOut: 7,
        deniedPublishes: 0,
        deniedSubscribes: 0,
      },
    ]);

    await sensor.client.endAsync();
    await until(() => b.status().connectedClients === 1, 5000, 'sensor disconnect');
    expect(b.status().clients[0]).toMatchObject({ clientId: 'sensor-1', connected: false, publishesIn: 2 });
  });

  it('a reconnect under the same id keeps counting and stays connected while the old session closes', async () => {
    const b = await startBroker();
    const first = await device(b, 'dev-r');
    const second = await device(b, 'dev-r'); // [MQTT-3.1.4-2]: the broker closes the first session
    await until(() => first.client.disconnected || !first.client.connected, 5000, 'first session closed');
    await second.client.publishAsync('x', 'y', { qos: 1 });
    await until(() => b.status().clients[0]?.publishesIn === 1);
    expect(b.status().clients).toEqual([
      expect.objectContaining({ clientId: 'dev-r', connected: true, connects: 2, remotePort: second.localPort }),
    ]);
  });

  it('broker publishes (the bridge) reach subscribers but are not reported as device publishes', async () => {
    const seen: DeviceMessage[] = [];
    const b = await startBroker({ seen });
    const d = await device(b, 'dev-sub');
    await d.client.subscribeAsync('down/+', { qos: 1 });
    await b.publish('down/1', Buffer.from('cmd'), 1);
    await until(() => d.received.length === 1);
    expect(d.received).toEqual([{ topic: 'down/1', payload: Buffer.from('cmd'), qos: 1 }]);
    expect(seen).toEqual([]);
  });

  it("CONNECT: refused with CONNACK 4 unless the client id is the certificate's thing and a group grants mqtt:connect", async () => {
    const only = groups({
      definitions: { sensors: { selectionRule: 'thingName: sensor-*', policyName: 'p' } },
      policies: { p: { c: { operations: ['mqtt:connect'], resources: ['mqtt:clientId:${iot:Connection.Thing.ThingName}'] } } },
    });
    const b = await startBroker({ groups: () => only });
    // Someone else's certificate: the client id must be the thing the certificate is attached to.
    expect((await refusedConnect(b.url, 'sensor-2', tlsOptions(tlsOf('sensor-1')))).code).toBe(4);
    // In no device group.
    expect((await refusedConnect(b.url, 'intruder', tlsOptions(tlsOf('intruder')))).code).toBe(4);
    await device(b, 'sensor-1');
    // CONNACK goes out before the broker's clientReady event: wait for the bookkeeping.
    await until(() => b.status().connectedClients === 1, 5000, 'sensor-1 registered');
    const st = b.status();
    expect(st).toMatchObject({ refusedConnects: 2, refusedClientIds: ['sensor-2', 'intruder'], connectedClients: 1 });
    expect(st.lastRefusal).toMatch(/^intruder: Device isn't authorized to connect/);
    expect(st.clients.map((c) => c.clientId)).toEqual(['sensor-1']);
  });

  it('TLS: a client without a certificate, or with one from another CA, never gets to CONNECT', async () => {
    const b = await startBroker();
    const noCert = await refusedConnect(b.url, 'anon', { ca: tlsOptions(tlsOf('anon')).ca, rejectUnauthorized: true });
    expect(noCert.message).toMatch(/certificate|socket|closed|ECONNRESET/i);
    const otherCa = CoreDeviceCa.openOrCreate(join(dir, 'other-ca'));
    const foreign = otherCa.issueDevice('foreign', join(dir, 'other-devices'));
    const err = await refusedConnect(
      b.url,
      'foreign',
      tlsOptions({ caPath: ca.caPath, certPath: foreign.certPath, keyPath: foreign.keyPath }),
    );
    expect(err.message).toMatch(/certificate|socket|closed|ECONNRESET|unknown ca/i);
    await until(() => b.status().tlsFailures >= 2, 5000, 'two TLS failures counted');
    expect(b.status().refusedConnects).toBe(0);
  });

  it('PUBLISH / SUBSCRIBE: only * is a wildcard in a policy; a denied publish is dropped without PUBACK, a denied filter gets 0x80', async () => {
    const g = groups({
      definitions: { d: { selectionRule: 'thingName: dev-*', policyName: 'p' } },
      policies: {
        p: {
          connect: { operations: ['mqtt:connect'], resources: ['mqtt:clientId:*'] },
          // `+` is literal in a client device policy: this allows only the topic "reports/+".
          plus: { operations: ['mqtt:publish'], resources: ['mqtt:topic:reports/+'] },
          star: { operations: ['mqtt:publish'], resources: ['mqtt:topic:data/${iot:Connection.Thing.ThingName}/*'] },
          // A requested filter is matched as a string too: `data/#` allows exactly the filter "data/#".
          sub: { operations: ['mqtt:subscribe'], resources: ['mqtt:topicfilter:data/#', 'mqtt:topicfilter:answers/+'] },
        },
      },
    });
    const seen: DeviceMessage[] = [];
    const b = await startBroker({ groups: () => g, seen });
    const d = await device(b, 'dev-1');
    expect((await d.client.subscribeAsync('data/#', { qos: 1 })).map((x) => x.qos)).toEqual([1]);
    expect((await d.client.subscribeAsync('answers/+', { qos: 1 })).map((x) => x.qos)).toEqual([1]);
    const refusedFilter = async (filter: string): Promise<number[] | undefined> =>
      ((await d.client.subscribeAsync(filter, { qos: 1 }).catch((e: unknown) => e)) as { packet?: { granted?: number[] } }).packet?.granted;
    expect(await refusedFilter('answers/json')).toEqual([128]); // `+` in the policy is not a wildcard
    expect(await refusedFilter('data/x')).toEqual([128]);
    let denyAcked = false;
    d.client.publish('reports/json', 'denied, + is literal', { qos: 1 }, () => {
      denyAcked = true;
    });
    d.client.publish('data/dev-2/x', 'denied, another thing', { qos: 0 });
    await d.client.publishAsync('data/dev-1/x', 'allowed', { qos: 1 });
    await until(() => d.received.length === 1);
    expect(seen.map((m) => m.topic)).toEqual(['data/dev-1/x']);
    expect(d.received.map((m) => m.topic)).toEqual(['data/dev-1/x']);
    expect(denyAcked).toBe(false); // Moquette answers nothing to a denied QoS 1 publish
    expect(d.client.connected).toBe(true);
    const st = b.status();
    expect(st).toMatchObject({ deniedPublishes: 2, deniedSubscribes: 2 });
    expect(st.clients[0]).toMatchObject({ clientId: 'dev-1', deniedPublishes: 2, deniedSubscribes: 2, publishesIn: 1 });
  });

  it('garbage or a malformed packet closes only that connection', async () => {
    const b = await startBroker();
    const good = await device(b, 'dev-good');
    await good.client.subscribeAsync('t', { qos: 0 });

    const garbage = await rawSocket(b.port, tlsOf('raw-1'));
    garbage.socket.write(Buffer.from([0x00, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x01, 0x02]));
    await garbage.closed;

    const badPublish = await rawSocket(b.port, tlsOf('dev-raw'));
    badPublish.socket.write(connectPacket('dev-raw'));
    badPublish.socket.write(publishPacket('t/#', Buffer.from('x'))); // '#' is not allowed in PUBLISH (MQTT 3.1.1 §3.3.2.1)
    await badPublish.closed;

    await good.client.publishAsync('t', 'still here', { qos: 0 });
    await until(() => good.received.length === 1);
    expect(good.received[0]!.payload.toString()).toBe('still here');
    expect(b.status().clientErrors).toBeGreaterThanOrEqual(2);
    expect(good.client.connected).toBe(true);
  });

  it('stop() closes clients and frees the port; stop twice and stop before start are harmless', async () => {
    const b = await startBroker();
    const d = await device(b, 'dev-stop');
    const idle = await rawSocket(b.port, tlsOf('idle')); // connected, never sent CONNECT
    const port = b.port;
    const closed = new Promise<void>((r) => d.client.once('close', () => r()));
    await b.stop();
    await closed;
    await idle.closed;
    await b.stop();
    await new ClientDeviceBroker(options(0)).stop();
    await assertPortFree(port); // the port is free again: we can listen on it ourselves
  });

  it('refuses a bad port and reports a busy one as BrokerStartError', async () => {
    expect(() => new ClientDeviceBroker(options(70000))).toThrow(/mqttPort: must be an integer 0-65535/);
    expect(() => new ClientDeviceBroker(options(1.5))).toThrow(BrokerStartError);
    const port = await busyPort();
    const b = new ClientDeviceBroker(options(port));
    brokers.push(b);
    await expect(b.start()).rejects.toThrow(new RegExp(`mqtt 127.0.0.1:${port}: .*EADDRINUSE`));
  });
});
