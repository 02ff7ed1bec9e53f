// The bridge between a real client-device broker (mqtt.js devices), local pub/sub and the simulated IoT
// Core, in one process: routing, bytes, QoS, loops, IoT Core errors, stop.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TopicMapping } from '../../../src/ipc/emulator/bridgeMapping.ts';
import { type DeviceGroups, parseDeviceGroups } from '../../../src/ipc/emulator/clientDeviceAuth.ts';
import { ClientDeviceBroker } from '../../../src/ipc/emulator/clientDeviceBroker.ts';
import { CoreDeviceCa } from '../../../src/ipc/emulator/coreDeviceCa.ts';
import { SimulatedIoTCore } from '../../../src/ipc/emulator/iotCore.ts';
import { type LocalMessage, LocalPubSub } from '../../../src/ipc/emulator/localPubSub.ts';
import { BRIDGE_COMPONENT, MqttBridge } from '../../../src/ipc/emulator/mqttBridge.ts';
import { silentLogger } from '../../../src/log.ts';
import { REPORTS_AND_DEVICES, topicMapping } from '../../support/clientDevices.ts';
import { closeDevices, connectDevice, type Device, tlsOptions } from '../../support/mqttDevice.ts';
import { until } from '../../support/until.ts';

interface Rig {
  broker: ClientDeviceBroker;
  pubsub: LocalPubSub;
  iotCore: SimulatedIoTCore;
  bridge: MqttBridge;
}

const rigs: Rig[] = [];
const devices: Device[] = [];
let dir = '';
let ca: CoreDeviceCa;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dedge-bridge-'));
  ca = CoreDeviceCa.openOrCreate(join(dir, 'ca'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Device groups that let every device do everything: these tests are about the bridge, not auth. */
const allowAll = ((): DeviceGroups => {
  const p = parseDeviceGroups({
    definitions: { all: { selectionRule: 'thingName: *', policyName: 'p' } },
    policies: { p: { s: { operations: ['*'], resources: ['*'] } } },
  });
  if (!p.ok) throw new Error(p.errors.join('; '));
  return p.value;
})();

afterEach(async () => {
  await closeDevices(devices);
  for (const r of rigs.splice(0)) {
    r.bridge.stop();
    await r.broker.stop();
    r.iotCore.close();
  }
});

async function rig(m: TopicMapping, iot: ConstructorParameters<typeof SimulatedIoTCore>[0] = {}): Promise<Rig> {
  const pubsub = new LocalPubSub();
  const iotCore = new SimulatedIoTCore(iot);
  let bridge: MqttBridge | undefined;
  const server = ca.serverCredentials(['127.0.0.1']);
  const broker = new ClientDeviceBroker({
    port: 0,
    tls: { ...server, ca: ca.caPem },
    deviceGroups: () => allowAll,
    onDevicePublish: (msg) => bridge?.fromLocalMqtt(msg),
  });
  bridge = new MqttBridge(m, { broker, pubsub, iotCore }, silentLogger());
  const r = { broker, pubsub, iotCore, bridge };
  rigs.push(r);
  await broker.start();
  bridge.start();
  return r;
}

async function device(r: Rig, id: string, subscribe?: string): Promise<Device> {
  const c = ca.issueDevice(id, join(dir, 'devices'));
  const d = await connectDevice(r.broker.url, id, tlsOptions({ caPath: ca.caPath, certPath: c.certPath, keyPath: c.keyPath }));
  devices.push(d);
  if (subscribe) await d.client.subscribeAsync(subscribe, { qos: 1 });
  return d;
}

type Seen = [topic: string, kind: string, value: string, from: string | undefined];

/** A component-like pub/sub subscriber that records topic, kind, payload (hex for binary) and sender. */
function listen(r: Rig, filter: string, component = 'com.example.C'): Seen[] {
  const seen: Seen[] = [];
  r.pubsub.subscribe(filter, component, 'RECEIVE_ALL_MESSAGES', (t, m: LocalMessage, from) =>
    seen.push([t, m.kind, m.kind === 'binary' ? m.value.toString('hex') : JSON.stringify(m.value), from]),
  );
  return seen;
}

describe('MqttBridge', () => {
  it('LocalMqtt → Pubsub: same topic, same bytes, as binaryMessage from the bridge identity', async () => {
    const r = await rig(REPORTS_AND_DEVICES);
    const seen = listen(r, '$aws/things/+/defender/metrics/+');
    const d = await device(r, 'dev1');
    const report = Buffer.from(JSON.stringify({ header: { report_id: 1, version: '1.0' }, metrics: {} }));
    await d.client.publishAsync('$aws/things/dev1/defender/metrics/json', report, { qos: 1 });
    await d.client.publishAsync('$aws/things/dev1/defender/metrics/cbor', Buffer.from([0xa1, 0x61, 0x68, 0xf6]), { qos: 0 });
    await until(() => seen.length === 2);
    expect(seen).toEqual([
      ['$aws/things/dev1/defender/metrics/json', 'binary', report.toString('hex'), BRIDGE_COMPONENT],
      ['$aws/things/dev1/defender/metrics/cbor', 'binary', 'a16168f6', BRIDGE_COMPONENT],
    ]);
    expect(r.bridge.status()).toMatchObject({ forwarded: { 'LocalMqtt->Pubsub': 2 }, unroutedFromLocalMqtt: 0, errors: 0 });
  });

  it('Pubsub → LocalMqtt: jsonMessage as its JSON text, binary as is, delivered at QoS 1', async () => {
    const r = await rig(REPORTS_AND_DEVICES);
    const d = await device(r, 'dev1', '$aws/things/dev1/defender/metrics/json/+');
    await d.client.subscribeAsync('devices/dev1/#', { qos: 1 });
    r.pubsub.publish(
      '$aws/things/dev1/defender/metrics/json/accepted',
      { kind: 'json', value: { status: 'ACCEPTED', reportId: 1 } },
      'com.example.C',
    );
    r.pubsub.publish('devices/dev1/cmd', { kind: 'binary', value: Buffer.from([0, 255]) }, 'com.example.C');
    await until(() => d.received.length === 2);
    expect(d.received).toEqual([
      { topic: '$aws/things/dev1/defender/metrics/json/accepted', payload: Buffer.from('{"status":"ACCEPTED","reportId":1}'), qos: 1 },
      { topic: 'devices/dev1/cmd', payload: Buffer.from([0, 255]), qos: 1 },
    ]);
    expect(r.bridge.status().forwarded).toEqual({ 'Pubsub->LocalMqtt': 2 });
  });

  it('unmapped topics stay where they were published', async () => {
    const r = await rig(REPORTS_AND_DEVICES);
    const seen = listen(r, '#');
    const d = await device(r, 'dev1', 'other/#');
    await d.client.subscribeAsync('devices/done', { qos: 1 });
    await d.client.publishAsync('other/x', 'not bridged', { qos: 1 });
    r.pubsub.publish('other/y', { kind: 'json', value: 1 }, 'com.example.C');
    // A mapped message after the unmapped ones, as a barrier in each direction.
    await d.client.publishAsync('devices/done', 'up', { qos: 1 });
    r.pubsub.publish('devices/done', { kind: 'json', value: 'down' }, 'com.example.C');
    await until(
      () =>
        seen.some((s) => s[0] === 'devices/done' && s[3] === BRIDGE_COMPONENT) && d.received.some((m) => m.payload.toString() === '"down"'),
    );
    expect(seen.filter((s) => s[3] === BRIDGE_COMPONENT).map((s) => s[0])).toEqual(['devices/done']);
    // The device sees its own other/x (plain MQTT) and nothing from pub/sub's other/y.
    expect(d.received.map((m) => [m.topic, m.payload.toString()])).toEqual([
      ['other/x', 'not bridged'],
      ['devices/done', 'up'],
      ['devices/done', '"down"'],
    ]);
    expect(r.bridge.status()).toMatchObject({ unroutedFromLocalMqtt: 1, forwarded: { 'LocalMqtt->Pubsub': 1, 'Pubsub->LocalMqtt': 1 } });
  });

  it('no echo loops: exact topics mapped both ways, through pub/sub and through IoT Core', async () => {
    const r = await rig(
      topicMapping({
        up: { topic: 'loop/t', source: 'LocalMqtt', target: 'Pubsub' },
        down: { topic: 'loop/t', source: 'Pubsub', target: 'LocalMqtt' },
        toCloud: { topic: 'loop/c', source: 'LocalMqtt', target: 'IotCore' },
        fromCloud: { topic: 'loop/c', source: 'IotCore', target: 'LocalMqtt' },
        pubsubToCloud: { topic: 'loop/p', source: 'Pubsub', target: 'IotCore' },
        cloudToPubsub: { topic: 'loop/p', source: 'IotCore', target: 'Pubsub' },
        barrier: { topic: 'barrier', source: 'LocalMqtt', target: 'Pubsub' },
      }),
    );
    const seen = listen(r, 'loop/t');
    const seenP = listen(r, 'loop/p');
    const barrier = listen(r, 'barrier');
    const d = await device(r, 'dev1', 'loop/#');
    await d.client.publishAsync('loop/t', 'a', { qos: 1 });
    await d.client.publishAsync('loop/c', 'b', { qos: 1 });
    r.pubsub.publish('loop/p', { kind: 'json', value: 'c' }, 'com.example.C');
    for (let i = 1; i <= 3; i++) {
      await d.client.publishAsync('barrier', String(i), { qos: 1 });
      await until(() => barrier.length === i);
    }
    expect(r.bridge.status().forwarded).toEqual({
      'LocalMqtt->Pubsub': 1 + 3, // loop/t once + the barriers
      'LocalMqtt->IotCore': 1,
      'IotCore->LocalMqtt': 1, // IoT Core echoes loop/c to the core's subscription once; not re-bridged
      'Pubsub->IotCore': 1,
      'IotCore->Pubsub': 1, // the echo of loop/p lands on pub/sub as the bridge; the bridge ignores it
    });
    expect(seen).toEqual([['loop/t', 'binary', Buffer.from('a').toString('hex'), BRIDGE_COMPONENT]]);
    // The original and the IoT Core echo (synchronous fan-out may deliver the echo first).
    expect(seenP.map((s) => s[3]).sort()).toEqual([BRIDGE_COMPONENT, 'com.example.C'].sort());
    // The device: its own loop/t and loop/c (plain MQTT, no no-local in 3.1.1) and the IoT Core echo of loop/c.
    expect(d.received.map((m) => `${m.topic}=${m.payload.toString()}`).sort()).toEqual(['loop/c=b', 'loop/c=b', 'loop/t=a']);
  });

  it('overlapping filters forward a message once', async () => {
    const r = await rig(
      topicMapping({
        wide: { topic: 'p/#', source: 'Pubsub', target: 'LocalMqtt' },
        narrow: { topic: 'p/+', source: 'Pubsub', target: 'LocalMqtt' },
        prefixed: { topic: 'p/+', source: 'Pubsub', target: 'LocalMqtt', targetTopicPrefix: 'gw/' },
      }),
    );
    const d = await device(r, 'dev1', '#');
    r.pubsub.publish('p/1', { kind: 'json', value: 1 }, 'com.example.C');
    r.pubsub.publish('p/1/2', { kind: 'json', value: 2 }, 'com.example.C');
    await until(() => d.received.length >= 3);
    await d.client.publishAsync('end', 'x', { qos: 1 });
    await until(() => d.received.some((m) => m.topic === 'end'));
    expect(d.received.map((m) => `${m.topic}=${m.payload.toString()}`)).toEqual(['p/1=1', 'gw/p/1=1', 'p/1/2=2', 'end=x']);
  });

  it('LocalMqtt → IotCore reaches the Device Defender endpoint; IotCore → LocalMqtt brings the answer back', async () => {
    const m = topicMapping({
      reports: { topic: '$aws/things/+/defender/metrics/+', source: 'LocalMqtt', target: 'IotCore' },
      answers: { topic: '$aws/things/+/defender/metrics/+/+', source: 'IotCore', target: 'LocalMqtt' },
    });
    const r = await rig(m, { online: false });
    const d = await device(r, 'dev2', '$aws/things/dev2/defender/metrics/json/+');
    await d.client.publishAsync(
      '$aws/things/dev2/defender/metrics/json',
      JSON.stringify({ header: { report_id: 7, version: '1.0' }, metrics: {} }),
      { qos: 0 },
    );
    // QoS 1 towards IoT Core even for a QoS 0 device publish: spooled while offline, sent when online.
    await until(() => r.iotCore.status().spoolDepth === 1);
    r.iotCore.setOnline(true);
    await until(() => d.received.length === 1);
    expect(d.received[0]!.topic).toBe('$aws/things/dev2/defender/metrics/json/accepted');
    expect(JSON.parse(d.received[0]!.payload.toString())).toMatchObject({ reportId: 7, status: 'ACCEPTED' });
    expect(r.iotCore.status()).toMatchObject({ recordsWritten: 1, spoolDepth: 0 });
  });

  it('a message IoT Core refuses is counted and logged, and the bridge keeps going', async () => {
    const r = await rig(topicMapping({ up: { topic: 'big/#', source: 'LocalMqtt', target: 'IotCore' } }), { maxMessageSizeBytes: 8 });
    const d = await device(r, 'dev1');
    await d.client.publishAsync('big/1', 'way more than eight bytes', { qos: 1 });
    await d.client.publishAsync('big/2', 'small', { qos: 1 });
    await until(() => r.iotCore.status().recordsWritten === 1);
    expect(r.bridge.status()).toMatchObject({
      forwarded: { 'LocalMqtt->IotCore': 1 },
      errors: 1,
      lastError: 'LocalMqtt->IotCore big/1: The publishing message size 25 bytes exceeds the configured limit of 8 bytes',
    });
  });

  it('maps nothing until configured; setMapping replaces the mapping while running', async () => {
    const r = await rig([]);
    const seen = listen(r, '#');
    const d = await device(r, 'dev1');
    await d.client.publishAsync('devices/dev1/a', '1', { qos: 1 });
    await until(() => r.bridge.status().unroutedFromLocalMqtt === 1);
    r.bridge.setMapping(REPORTS_AND_DEVICES);
    await d.client.publishAsync('devices/dev1/b', '2', { qos: 1 });
    await until(() => seen.length === 1);
    expect(seen.map((x) => x[0])).toEqual(['devices/dev1/b']);
    expect(r.bridge.status()).toMatchObject({ mappings: 5, unroutedFromLocalMqtt: 1, forwarded: { 'LocalMqtt->Pubsub': 1 } });
  });

  it('stop() removes its pub/sub and IoT Core subscriptions and ignores later device publishes', async () => {
    const r = await rig(
      topicMapping({
        a: { topic: 'a/#', source: 'Pubsub', target: 'LocalMqtt' },
        b: { topic: 'b', source: 'IotCore', target: 'Pubsub' },
        c: { topic: 'c', source: 'LocalMqtt', target: 'Pubsub' },
      }),
    );
    expect(r.pubsub.size).toBe(1);
    expect(r.iotCore.status().subscriptions).toBe(1);
    r.bridge.stop();
    expect(r.pubsub.size).toBe(0);
    expect(r.iotCore.status().subscriptions).toBe(0);
    r.bridge.fromLocalMqtt({ clientId: 'x', topic: 'c', payload: Buffer.from('1'), qos: 0, retain: false });
    expect(r.bridge.status().forwarded).toEqual({});
  });
});
