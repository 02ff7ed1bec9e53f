// Downstream devices (real mqtt.js clients over TLS, with certificates the emulator issues) and a component
// (real aws-iot-device-sdk-v2 client through GreengrassIpcClient) meeting through the classic emulator's
// client-device broker and MQTT bridge, configured by a deployment as on a real core.

import { existsSync, readFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmulatorStartError, GreengrassEmulator, type GreengrassEmulatorOptions } from '../../src/ipc/emulator/emulator.ts';
import { GreengrassIpcClient } from '../../src/ipc/ipcClient.ts';
import type { LocalMessage } from '../../src/ipc/ipcTypes.ts';
import { clientDeviceDeployment, deployClientDevices, deviceTls } from '../support/clientDevices.ts';
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
  tlsOptions,
} from '../support/mqttDevice.ts';
import { until } from '../support/until.ts';

const TOKEN = 'MQTTBRIDGETEST01';
const ME = 'com.defender-edge.DefenderEdge';
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
  const emu = new GreengrassEmulator({
    socketPath: join(tmp.dir, 'ipc.sock'),
    token: TOKEN,
    thingName: 'gw1',
    mqttPort: 0,
    certDir: join(tmp.dir, 'ca'),
    ...extra,
  });
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

async function device(emu: GreengrassEmulator, thing: string, ...subscriptions: string[]): Promise<Device> {
  const d = await connectDevice(emu.mqttUrl!, thing, tlsOptions(deviceTls(emu, thing, join(tmp.dir, 'devices'))));
  devices.push(d);
  for (const s of subscriptions) await d.client.subscribeAsync(s, { qos: 1 });
  return d;
}

function received(list: LocalMessage[]): [string, string, string][] {
  return list.map((m) => [m.topic, m.kind, m.kind === 'binary' ? m.value.toString('hex') : JSON.stringify(m.value)]);
}

const report = (rid: number): Buffer =>
  Buffer.from(
    JSON.stringify({ header: { report_id: rid, version: '1.0' }, metrics: { tcp_connections: { established_connections: { total: 1 } } } }),
  );

describe('classic core: client-device broker, client device auth and MQTT bridge with the real IPC client', () => {
  it('a device report over TLS reaches SubscribeToTopic as the same bytes (binaryMessage); the answer reaches the device', async () => {
    const emu = await startEmulator();
    await deployClientDevices(emu);
    expect(emu.mqttUrl).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    expect(emu.caPath).toBe(join(tmp.dir, 'ca', 'ca.pem'));
    const ipc = await component(emu);
    const got: LocalMessage[] = [];
    const sub = ipc.subscribeToTopic('$aws/things/+/defender/metrics/+', async (m) => {
      got.push(m);
      await ipc.publishToTopic(`${m.topic}/accepted`, { thingName: m.topic.split('/')[2], status: 'ACCEPTED' });
    });
    await until(() => sub.status === 'active');

    const dev = await device(emu, 'dev-7', '$aws/things/dev-7/defender/metrics/json/accepted');
    const body = report(1700000000);
    await dev.client.publishAsync('$aws/things/dev-7/defender/metrics/json', body, { qos: 1 }); // resolves on PUBACK

    await until(() => dev.received.length === 1, 5000, 'the answer at the device');
    expect(received(got)).toEqual([['$aws/things/dev-7/defender/metrics/json', 'binary', body.toString('hex')]]);
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
        bytesIn: body.length,
        publishesOut: 1,
        bytesOut: 41,
        deniedPublishes: 0,
        deniedSubscribes: 0,
      },
    ]);
    expect(mqtt.deviceGroups).toEqual(['DefenderEdgeDevices']);
    expect(mqtt.bridge).toMatchObject({ mappings: 3, forwarded: { 'LocalMqtt->Pubsub': 1, 'Pubsub->LocalMqtt': 1 }, errors: 0 });
  });

  it("an unauthorized publish is refused: another thing's report topic is dropped, nothing reaches pub/sub", async () => {
    const emu = await startEmulator();
    await deployClientDevices(emu);
    const ipc = await component(emu);
    const got: LocalMessage[] = [];
    const sub = ipc.subscribeToTopic('$aws/things/+/defender/metrics/+', (m) => {
      got.push(m);
    });
    await until(() => sub.status === 'active');
    const dev = await device(emu, 'dev-1');
    // Spoofing dev-2: the policy allows only the device's own thing (${iot:Connection.Thing.ThingName}).
    dev.client.publish('$aws/things/dev-2/defender/metrics/json', report(1), { qos: 0 });
    // Then its own report, as a barrier: it arrives, the spoofed one never does.
    await dev.client.publishAsync('$aws/things/dev-1/defender/metrics/json', report(2), { qos: 1 });
    await until(() => got.length === 1);
    expect(got.map((m) => m.topic)).toEqual(['$aws/things/dev-1/defender/metrics/json']);
    expect(emu.status().mqtt).toMatchObject({ deniedPublishes: 1 });
    // A subscription outside the policy gets the SUBACK failure code.
    const refused = (await dev.client.subscribeAsync('$aws/things/dev-2/defender/metrics/json/accepted').catch((e: unknown) => e)) as {
      packet?: { granted?: number[] };
    };
    expect(refused.packet?.granted).toEqual([128]);
  });

  it('nothing is authorized or bridged before the deployment configures Auth and the bridge', async () => {
    const emu = await startEmulator();
    const tls = deviceTls(emu, 'dev-1', join(tmp.dir, 'devices'));
    expect((await refusedConnect(emu.mqttUrl!, 'dev-1', tlsOptions(tls))).code).toBe(4);
    expect(emu.status().mqtt).toMatchObject({ refusedConnects: 1, deviceGroups: [], bridge: { mappings: 0 } });
    // Auth only: the device connects, but its report goes nowhere (no mapping).
    const authOnly = clientDeviceDeployment();
    const components = authOnly.components as Record<string, unknown>;
    delete components['aws.greengrass.clientdevices.mqtt.Bridge'];
    expect(await emu.deploy(authOnly)).toMatchObject({ ok: true });
    const dev = await device(emu, 'dev-1');
    await dev.client.publishAsync('$aws/things/dev-1/defender/metrics/json', report(1), { qos: 1 });
    await until(() => emu.status().mqtt!.bridge.unroutedFromLocalMqtt === 1);
  });

  it('a device must connect with the thing name its certificate is attached to', async () => {
    const emu = await startEmulator();
    await deployClientDevices(emu);
    const tls = deviceTls(emu, 'dev-1', join(tmp.dir, 'devices'));
    expect((await refusedConnect(emu.mqttUrl!, 'dev-9', tlsOptions(tls))).code).toBe(4);
    expect(emu.status().mqtt!.lastRefusal).toMatch(/^dev-9: Failed to verify certificate attached to thing/);
  });

  it('bad client-device deployments are refused with the field named; the last good state stays', async () => {
    const emu = await startEmulator();
    await deployClientDevices(emu, { selectionRule: 'thingName: dev-*' });
    const bad = (merge: unknown, name = 'aws.greengrass.clientdevices.Auth') =>
      emu.deploy({
        components: { [name]: { componentVersion: '2.5.5', configurationUpdate: { merge: JSON.stringify(merge), reset: [''] } } },
      });
    const deny = await bad({
      deviceGroups: {
        formatVersion: '2021-03-05',
        definitions: { g: { selectionRule: 'thingName: *', policyName: 'p' } },
        policies: { p: { s: { effect: 'DENY', operations: ['mqtt:connect'], resources: ['*'] } } },
      },
    });
    expect(deny).toMatchObject({
      ok: false,
      errors: [
        'components.aws.greengrass.clientdevices.Auth.configuration.deviceGroups.policies.p.s.effect: "DENY" is not supported; the only effect is ALLOW',
      ],
    });
    const missing = await bad(
      { mqttTopicMapping: { up: { topic: 'devices/#', source: 'LocalMqtt' } } },
      'aws.greengrass.clientdevices.mqtt.Bridge',
    );
    expect(missing).toMatchObject({
      ok: false,
      errors: [
        'components.aws.greengrass.clientdevices.mqtt.Bridge.configuration.mqttTopicMapping.up.target: required, one of LocalMqtt, Pubsub, IotCore',
      ],
    });
    // Still the first deployment's groups and mapping: dev-1 connects and its report is bridged.
    expect(emu.status()).toMatchObject({
      deployments: { applied: 1, failed: 2 },
      mqtt: { deviceGroups: ['DefenderEdgeDevices'], bridge: { mappings: 3 } },
    });
    await device(emu, 'dev-1');
    expect((await refusedConnect(emu.mqttUrl!, 'other', tlsOptions(deviceTls(emu, 'other', join(tmp.dir, 'devices'))))).code).toBe(4);
  });

  it('extra policy statements and mappings: local sensors bridged to IoT Core with a target prefix', async () => {
    const record = join(tmp.dir, 'cloud.jsonl');
    const emu = await startEmulator({ recordFile: record });
    await deployClientDevices(emu, {
      extraStatements: { Sensors: { operations: ['mqtt:publish'], resources: ['mqtt:topic:sensors/${iot:Connection.Thing.ThingName}/*'] } },
      extraMappings: { Sensors: { topic: 'sensors/+/temp', source: 'LocalMqtt', target: 'IotCore', targetTopicPrefix: 'gw1/' } },
    });
    const dev = await device(emu, 'dev-s');
    await dev.client.publishAsync('sensors/dev-s/temp', '21.5', { qos: 1 });
    await until(() => emu.status().recordsWritten === 1);
    expect(JSON.parse(readFileSync(record, 'utf8'))).toMatchObject({ topic: 'gw1/sensors/dev-s/temp', qos: 1, payload: '21.5' });
    expect(emu.status().mqtt!.bridge.forwarded).toEqual({ 'LocalMqtt->IotCore': 1 });
  });

  it('a malformed packet closes only that connection', async () => {
    const emu = await startEmulator();
    await deployClientDevices(emu, {
      extraMappings: { Down: { topic: 'devices/#', source: 'Pubsub', target: 'LocalMqtt' } },
      extraStatements: { Sub: { operations: ['mqtt:subscribe'], resources: ['mqtt:topicfilter:devices/#'] } },
    });
    const ipc = await component(emu);
    const dev = await device(emu, 'dev-ok', 'devices/#');
    const port = Number(new URL(emu.mqttUrl!).port);
    const raw = await rawSocket(port, deviceTls(emu, 'dev-raw', join(tmp.dir, 'devices')));
    raw.socket.write(connectPacket('dev-raw'));
    raw.socket.write(Buffer.from([0x30, 0x05, 0x00, 0x09, 0x61])); // topic length 9 but 1 byte left
    raw.socket.write(publishPacket('x/+', Buffer.alloc(0)));
    await raw.closed;

    await ipc.publishToTopic('devices/dev-ok/cmd', { still: 'works' });
    await until(() => dev.received.length === 1);
    expect(dev.received[0]!.payload.toString()).toBe('{"still":"works"}');
    // The broker's bookkeeping of the dropped client follows its close event.
    await until(() => emu.status().mqtt!.connectedClients === 1, 5000, 'the dropped client to be counted out');
    expect(emu.status()).toMatchObject({ clients: 1 });
    expect(emu.status().mqtt!.clientErrors).toBeGreaterThanOrEqual(1);
  });

  it('stop() closes devices, frees the port, the socket and the temporary CA', async () => {
    const emu = await startEmulator({ certDir: undefined });
    await deployClientDevices(emu);
    await component(emu);
    const caDir = join(emu.caPath!, '..');
    const dev = await device(emu, 'dev-stop');
    const idle = await rawSocket(Number(new URL(emu.mqttUrl!).port), deviceTls(emu, 'idle', join(tmp.dir, 'devices')));
    const port = Number(new URL(emu.mqttUrl!).port);
    const closed = new Promise<void>((r) => dev.client.once('close', () => r()));
    await emu.stop();
    await closed;
    await idle.closed;
    expect(existsSync(emu.socketPath)).toBe(false);
    expect(existsSync(caDir)).toBe(false);
    await assertPortFree(port); // the port is free again: we can listen on it ourselves
  });

  it('busy port → EmulatorStartError, nothing left behind', async () => {
    const socketPath = join(tmp.dir, 'x.sock');
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

  it('without mqttPort there is no broker, no CA and no mqtt status; a Bridge deployment is kept with a warning', async () => {
    const emu = await startEmulator({ mqttPort: undefined });
    expect(emu.mqttUrl).toBeUndefined();
    expect(emu.caPath).toBeUndefined();
    expect(emu.status().mqtt).toBeUndefined();
    const r = await emu.deploy(clientDeviceDeployment({ component: { name: ME, version: '1.0.0' } }));
    expect(r.ok && r.warnings).toContain(
      'components.aws.greengrass.clientdevices.mqtt.Bridge: no client-device broker runs (start with an MQTT port); the mapping is kept but bridges nothing',
    );
    expect(() => emu.issueDeviceCertificate('d')).toThrow(/no client-device broker/);
  });
});
