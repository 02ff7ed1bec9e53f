// The client-device broker alone, with real mqtt.js clients and raw TCP sockets on loopback.

import { type AddressInfo, createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerStartError, ClientDeviceBroker, type DeviceMessage } from '../../../src/ipc/emulator/clientDeviceBroker.ts';
import {
  assertPortFree,
  closeDevices,
  connectDevice,
  connectPacket,
  type Device,
  publishPacket,
  rawSocket,
  refusedConnect,
} from '../../support/mqttDevice.ts';
import { until } from '../../support/until.ts';

const brokers: ClientDeviceBroker[] = [];
const devices: Device[] = [];
const servers: Server[] = [];

afterEach(async () => {
  await closeDevices(devices);
  for (const b of brokers.splice(0)) await b.stop();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function startBroker(opts: { allowedClientIds?: string[]; seen?: DeviceMessage[] } = {}): Promise<ClientDeviceBroker> {
  const b = new ClientDeviceBroker({ port: 0, allowedClientIds: opts.allowedClientIds, onDevicePublish: (m) => opts.seen?.push(m) });
  brokers.push(b);
  await b.start();
  return b;
}

async function device(b: ClientDeviceBroker, id: string): Promise<Device> {
  const d = await connectDevice(b.url, id);
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
    expect(b.url).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
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

  it('the allow-list refuses other client ids with CONNACK 5 and records them', async () => {
    const b = await startBroker({ allowedClientIds: ['dev-ok'] });
    const err = await refusedConnect(b.url, 'dev-intruder');
    expect(err.code).toBe(5);
    await device(b, 'dev-ok');
    // CONNACK goes out before the broker's clientReady event: wait for the bookkeeping.
    await until(() => b.status().connectedClients === 1, 5000, 'dev-ok registered');
    const st = b.status();
    expect(st).toMatchObject({ refusedConnects: 1, refusedClientIds: ['dev-intruder'], connectedClients: 1 });
    expect(st.clients.map((c) => c.clientId)).toEqual(['dev-ok']);
  });

  it('garbage or a malformed packet closes only that connection', async () => {
    const b = await startBroker();
    const good = await device(b, 'dev-good');
    await good.client.subscribeAsync('t', { qos: 0 });

    const garbage = await rawSocket(b.port);
    garbage.socket.write(Buffer.from([0x00, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x01, 0x02]));
    await garbage.closed;

    const badPublish = await rawSocket(b.port);
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
    const idle = await rawSocket(b.port); // connected, never sent CONNECT
    const port = b.port;
    const closed = new Promise<void>((r) => d.client.once('close', () => r()));
    await b.stop();
    await closed;
    await idle.closed;
    await b.stop();
    await new ClientDeviceBroker({ port: 0 }).stop();
    await assertPortFree(port); // the port is free again: we can listen on it ourselves
  });

  it('refuses a bad port and reports a busy one as BrokerStartError', async () => {
    expect(() => new ClientDeviceBroker({ port: 70000 })).toThrow(/mqttPort: must be an integer 0-65535/);
    expect(() => new ClientDeviceBroker({ port: 1.5 })).toThrow(BrokerStartError);
    const port = await busyPort();
    const b = new ClientDeviceBroker({ port });
    brokers.push(b);
    await expect(b.start()).rejects.toThrow(new RegExp(`mqtt 127.0.0.1:${port}: .*EADDRINUSE`));
  });
});
