// Downstream devices (real mqtt.js clients) and a component (real aws-iot-device-sdk-v2 client through
// GreengrassIpcClient) meeting through the emulator's client-device broker and MQTT bridge.

import { existsSync } from 'node:fs';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BridgeConfigError } from '../../src/ipc/emulator/bridgeMapping.ts';
import { EmulatorStartError, GreengrassEmulator, type GreengrassEmulatorOptions } from '../../src/ipc/emulator/emulator.ts';
import { GreengrassIpcClient } from '../../src/ipc/ipcClient.ts';
import type { LocalMessage } from '../../src/ipc/ipcTypes.ts';
import { tempDir } from '../support/ipc.ts';
import {
  assertPortFree,
  closeDevices,
  connectDevice,
  connectPacket,
  type Device,
  publishPacket,
  rawSocket,
  refusedConnect,
} from '../support/mqttDevice.ts';
import { until } from '../support/until.ts';

const TOKEN = 'MQTTBRIDGETEST01';
let tmp: ReturnType<typeof tempDir>;
const emulators: GreengrassEmulator[] = [];
const clients: GreengrassIpcClient[] = [];
const devices: Device[] = [];
const servers: Server[] = [];

beforeEach(() => {
  tmp = tempDir();
});

afterEach(async () => {
  await closeDevices(devices);
  for (const c of clients.splice(0)) await c.stop();
  for (const e of emulators.splice(0)) await e.stop();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  tmp.cleanup();
});

async function startEmulator(extra: Partial<GreengrassEmulatorOptions> = {}): Promise<GreengrassEmulator> {
  const emu = new GreengrassEmulator({ socketPath: join(tmp.dir, 'ipc.sock'), token: TOKEN, thingName: 'gw1', mqttPort: 0, ...extra });
  emulators.push(emu);
  await emu.start();
  return emu;
}

async function component(emu: GreengrassEmulator): Promise<GreengrassIpcClient> {
  const ipc = new GreengrassIpcClient({ socketPath: emu.socketPath, authToken: TOKEN, backoff: { initialMs: 20, maxMs: 200 } });
  clients.push(ipc);
  ipc.start();
  await ipc.whenConnected(5000);
  return ipc;
}

async function device(emu: GreengrassEmulator, id: string, ...subscriptions: string[]): Promise<Device> {
  const d = await connectDevice(emu.mqttUrl!, id);
  devices.push(d);
  for (const s of subscriptions) await d.client.subscribeAsync(s, { qos: 1 });
  return d;
}

function received(list: LocalMessage[]): [string, string, string][] {
  return list.map((m) => [m.topic, m.kind, m.kind === 'binary' ? m.value.toString('hex') : JSON.stringify(m.value)]);
}

describe('client-device broker and MQTT bridge with the real IPC client', () => {
  it('a device report (QoS 1) reaches SubscribeToTopic as the same bytes; the component answer reaches the device', async () => {
    const emu = await startEmulator();
    expect(emu.mqttUrl).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    const ipc = await component(emu);
    const got: LocalMessage[] = [];
    const sub = ipc.subscribeToTopic('$aws/things/+/defender/metrics/+', async (m) => {
      got.push(m);
      await ipc.publishToTopic(`${m.topic}/accepted`, { thingName: m.topic.split('/')[2], status: 'ACCEPTED' });
    });
    await until(() => sub.status === 'active');

    const dev = await device(emu, 'dev-7', '$aws/things/dev-7/defender/metrics/json/+');
    const report = Buffer.from(
      JSON.stringify({
        header: { report_id: 1700000000, version: '1.0' },
        metrics: { tcp_connections: { established_connections: { total: 1 } } },
      }),
    );
    await dev.client.publishAsync('$aws/things/dev-7/defender/metrics/json', report, { qos: 1 }); // resolves on PUBACK

    await until(() => dev.received.length === 1, 5000, 'the answer at the device');
    expect(received(got)).toEqual([['$aws/things/dev-7/defender/metrics/json', 'binary', report.toString('hex')]]);
    expect(dev.received).toEqual([
      {
        topic: '$aws/things/dev-7/defender/metrics/json/accepted',
        payload: Buffer.from('{"thingName":"dev-7","status":"ACCEPTED"}'),
        qos: 1,
      },
    ]);
    const mqtt = emu.status().mqtt!;
    expect(mqtt.clients).toEqual([
      {
        clientId: 'dev-7',
        connected: true,
        remoteAddress: '127.0.0.1',
        remotePort: dev.localPort,
        connects: 1,
        publishesIn: 1,
        bytesIn: report.length,
        publishesOut: 1,
        bytesOut: 41,
      },
    ]);
    expect(mqtt.bridge).toMatchObject({ forwarded: { 'LocalMqtt->Pubsub': 1, 'Pubsub->LocalMqtt': 1 }, errors: 0 });
  });

  it('binary both ways on devices/#, unmapped topics not bridged, no echo of bridged messages', async () => {
    const emu = await startEmulator();
    const ipc = await component(emu);
    const got: LocalMessage[] = [];
    const subs = [
      ipc.subscribeToTopic(
        'devices/#',
        (m) => {
          got.push(m);
        },
        'all',
      ),
      ipc.subscribeToTopic('private/#', (m) => {
        got.push(m);
      }), // wildcard: others' messages only (docs/greengrass-ipc.md)
    ];
    await until(() => subs.every((s) => s.status === 'active'));
    const dev = await device(emu, 'dev-1', 'devices/#', 'private/#');

    await dev.client.publishAsync('private/x', 'stays local', { qos: 1 });
    await ipc.publishToTopic('private/y', { stays: 'in pub/sub' });
    await dev.client.publishAsync('devices/dev-1/up', Buffer.from([0xde, 0xad, 0x00, 0xff]), { qos: 1 });
    // PUBACK goes out before the broker forwards the message: wait for it before answering.
    await until(() => got.length === 1);
    await ipc.publishToTopic('devices/dev-1/down', Buffer.from([1, 2, 3]));
    // Barrier: the component's own last message and the device's copy of it.
    await until(() => got.length >= 2 && dev.received.some((m) => m.topic === 'devices/dev-1/down'));
    await dev.client.publishAsync('devices/end', 'end', { qos: 1 });
    await until(() => got.some((m) => m.topic === 'devices/end') && dev.received.some((m) => m.topic === 'devices/end'));

    // Nothing on private/: the device's private/x is not mapped (and the component's own private/y is
    // not delivered to its wildcard subscription).
    expect(received(got)).toEqual([
      ['devices/dev-1/up', 'binary', 'dead00ff'],
      ['devices/dev-1/down', 'binary', '010203'], // its own publish, once (RECEIVE_ALL_MESSAGES), not again via the bridge
      ['devices/end', 'binary', Buffer.from('end').toString('hex')],
    ]);
    // The device: its own messages once each (plain MQTT), the component's devices/ message once, no private/y.
    expect(dev.received.map((m) => `${m.topic}=${m.payload.toString('hex')}`)).toEqual([
      `private/x=${Buffer.from('stays local').toString('hex')}`,
      'devices/dev-1/up=dead00ff',
      'devices/dev-1/down=010203',
      `devices/end=${Buffer.from('end').toString('hex')}`,
    ]);
    expect(emu.status().mqtt!.bridge).toMatchObject({
      forwarded: { 'LocalMqtt->Pubsub': 2, 'Pubsub->LocalMqtt': 1 },
      unroutedFromLocalMqtt: 1,
    });
  });

  it('a custom bridge mapping replaces the default', async () => {
    const emu = await startEmulator({
      bridge: {
        mqttTopicMapping: { sensors: { topic: 'sensors/+/temp', source: 'LocalMqtt', target: 'Pubsub', targetTopicPrefix: 'downstream/' } },
      },
    });
    const ipc = await component(emu);
    const got: LocalMessage[] = [];
    const sub = ipc.subscribeToTopic('downstream/#', (m) => {
      got.push(m);
    });
    await until(() => sub.status === 'active');
    const dev = await device(emu, 'dev-s');
    await dev.client.publishAsync('devices/not-mapped-now', 'x', { qos: 1 });
    await dev.client.publishAsync('sensors/s1/temp', '21.5', { qos: 1 });
    await until(() => got.length === 1);
    expect(received(got)).toEqual([['downstream/sensors/s1/temp', 'binary', Buffer.from('21.5').toString('hex')]]);
    expect(emu.status().mqtt!.bridge).toMatchObject({ mappings: 1, unroutedFromLocalMqtt: 1 });
  });

  it('a malformed packet from a raw socket closes only that connection', async () => {
    const emu = await startEmulator();
    const ipc = await component(emu);
    const dev = await device(emu, 'dev-ok', 'devices/#');
    const port = Number(new URL(emu.mqttUrl!).port);
    const raw = await rawSocket(port);
    raw.socket.write(connectPacket('dev-raw'));
    raw.socket.write(Buffer.from([0x30, 0x05, 0x00, 0x09, 0x61])); // topic length 9 but 1 byte left
    raw.socket.write(publishPacket('x/+', Buffer.alloc(0)));
    await raw.closed;
    const garbage = await rawSocket(port);
    garbage.socket.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await garbage.closed;

    await ipc.publishToTopic('devices/dev-ok/cmd', { still: 'works' });
    await until(() => dev.received.length === 1);
    expect(dev.received[0]!.payload.toString()).toBe('{"still":"works"}');
    expect(emu.status()).toMatchObject({ clients: 1, mqtt: { connectedClients: 1, clientErrors: expect.any(Number) } });
    expect(emu.status().mqtt!.clientErrors).toBeGreaterThanOrEqual(2);
  });

  it('the allow-list refuses unknown client ids and records them', async () => {
    const emu = await startEmulator({ mqttAllowedClientIds: ['dev-a'] });
    expect((await refusedConnect(emu.mqttUrl!, 'dev-b')).code).toBe(5);
    await device(emu, 'dev-a');
    expect(emu.status().mqtt).toMatchObject({ refusedConnects: 1, refusedClientIds: ['dev-b'] });
  });

  it('stop() closes devices, frees the port and the socket', async () => {
    const emu = await startEmulator();
    await component(emu);
    const dev = await device(emu, 'dev-stop');
    const idle = await rawSocket(Number(new URL(emu.mqttUrl!).port));
    const port = Number(new URL(emu.mqttUrl!).port);
    const closed = new Promise<void>((r) => dev.client.once('close', () => r()));
    await emu.stop();
    await closed;
    await idle.closed;
    expect(existsSync(emu.socketPath)).toBe(false);
    await assertPortFree(port); // the port is free again: we can listen on it ourselves
  });

  it('bad options: invalid bridge, bridge without broker, busy port', async () => {
    const socketPath = join(tmp.dir, 'x.sock');
    expect(
      () =>
        new GreengrassEmulator({
          socketPath,
          mqttPort: 0,
          bridge: { mqttTopicMapping: { m: { topic: 'a', source: 'LocalMqtt', target: 'LocalMqtt' } } },
        }),
    ).toThrow(new BridgeConfigError(['bridge.mqttTopicMapping.m.target: must differ from source']));
    expect(() => new GreengrassEmulator({ socketPath, bridge: { mqttTopicMapping: {} } })).toThrow(/bridge: needs mqttPort/);

    const busy = createServer();
    servers.push(busy);
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as AddressInfo).port;
    const emu = new GreengrassEmulator({ socketPath, mqttPort: port });
    emulators.push(emu);
    await expect(emu.start()).rejects.toThrow(EmulatorStartError);
    expect(emu.listening).toBe(false);
    expect(existsSync(socketPath)).toBe(false);
  });

  it('without mqttPort there is no broker and no mqtt status', async () => {
    const emu = await startEmulator({ mqttPort: undefined });
    expect(emu.mqttUrl).toBeUndefined();
    expect(emu.status().mqtt).toBeUndefined();
  });
});
