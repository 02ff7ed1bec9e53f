// `defender-edge emulator --mqtt …` as a process: ready line with the broker URL, the CA and issued device
// certificates; the client-device set-up from --deployment; a TLS device and a component talking through
// the bridge; device certificates issued over stdin; per-client stats in `status`; clean exit with
// clients still connected.

import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { GreengrassIpcClient } from '../../src/ipc/ipcClient.ts';
import type { LocalMessage } from '../../src/ipc/ipcTypes.ts';
import { clientDeviceDeployment } from '../support/clientDevices.ts';
import { CLI, CliTestResources, type EmulatorProcess, spawnEmulator } from '../support/ipc.ts';
import { closeDevices, connectDevice, type Device, refusedConnect, tlsOptions } from '../support/mqttDevice.ts';
import { until } from '../support/until.ts';

const res = new CliTestResources();
const procs = res.procs;
const clients = res.clients;
const devices: Device[] = [];

afterEach(async () => {
  await closeDevices(devices);
  await res.teardown();
});

const setup = (): string => res.dir();

type MqttReady = Required<Awaited<EmulatorProcess['ready']>>;

describe('defender-edge emulator --mqtt', () => {
  it('TLS devices with issued certificates, auth and bridge from --deployment; stats in status; exits 0 on EOF', async () => {
    const dir = setup();
    const socket = join(dir, 'ipc.sock');
    writeFileSync(
      join(dir, 'deployment.json'),
      JSON.stringify(
        clientDeviceDeployment({
          selectionRule: 'thingName: dev-*',
          extraStatements: {
            Telemetry: { operations: ['mqtt:publish'], resources: ['mqtt:topic:devices/${iot:Connection.Thing.ThingName}/telemetry'] },
            Commands: { operations: ['mqtt:subscribe'], resources: ['mqtt:topicfilter:devices/${iot:Connection.Thing.ThingName}/cmd'] },
          },
          extraMappings: {
            Up: { topic: 'devices/+/telemetry', source: 'LocalMqtt', target: 'Pubsub' },
            Down: { topic: 'devices/+/cmd', source: 'Pubsub', target: 'LocalMqtt' },
          },
        }),
      ),
    );
    // Started in the temp dir: no recipe.yaml there, so the embedded identity (all local pub/sub) applies.
    const emu = spawnEmulator(
      [
        '--socket',
        socket,
        '--mqtt',
        '0',
        '--cert-dir',
        join(dir, 'certs'),
        '--deployment',
        join(dir, 'deployment.json'),
        '--issue-cert',
        'dev-1',
      ],
      dir,
    );
    procs.push(emu);
    const ready = (await emu.ready) as MqttReady;
    expect(ready).toMatchObject({
      nucleus: 'classic',
      mqtt: expect.stringMatching(/^mqtts:\/\/127\.0\.0\.1:\d+$/),
      ca: join(dir, 'certs', 'ca.pem'),
      deviceCerts: { 'dev-1': { certPath: join(dir, 'certs', 'dev-1.cert.pem'), keyPath: join(dir, 'certs', 'dev-1.key.pem') } },
    });

    const ipc = new GreengrassIpcClient({ socketPath: socket, authToken: ready.components['com.defender-edge.DefenderEdge'] });
    clients.push(ipc);
    ipc.start();
    await ipc.whenConnected(5000);
    const got: LocalMessage[] = [];
    const sub = ipc.subscribeToTopic('devices/+/telemetry', (m) => {
      got.push(m);
    });
    await until(() => sub.status === 'active');

    const dev = await connectDevice(ready.mqtt, 'dev-1', tlsOptions({ caPath: ready.ca, ...ready.deviceCerts['dev-1']! }));
    devices.push(dev);
    await dev.client.subscribeAsync('devices/dev-1/cmd', { qos: 1 });
    await dev.client.publishAsync('devices/dev-1/telemetry', '{"t":21}', { qos: 1 });
    await until(() => got.length === 1);
    expect(got[0]).toEqual({ topic: 'devices/dev-1/telemetry', kind: 'binary', value: Buffer.from('{"t":21}') });
    await ipc.publishToTopic('devices/dev-1/cmd', { reboot: false });
    await until(() => dev.received.length === 1);
    expect(dev.received[0]!.payload.toString()).toBe('{"reboot":false}');

    // A certificate issued over stdin, for a thing outside the device group: TLS passes, CONNECT does not.
    const issued = await emu.send(`issue-cert intruder ${join(dir, 'other')}`);
    expect(issued).toEqual({
      ok: true,
      thingName: 'intruder',
      certPath: join(dir, 'other', 'intruder.cert.pem'),
      keyPath: join(dir, 'other', 'intruder.key.pem'),
      caPath: ready.ca,
    });
    expect(existsSync(issued.keyPath as string)).toBe(true);
    const refused = await refusedConnect(
      ready.mqtt,
      'intruder',
      tlsOptions({ caPath: ready.ca, certPath: issued.certPath as string, keyPath: issued.keyPath as string }),
    );
    expect(refused.code).toBe(4);
    expect(await emu.send('issue-cert bad/name')).toEqual({
      ok: false,
      error: "issue-cert: thingName: 'bad/name' must be 1-128 characters of a-z A-Z 0-9 : _ -",
    });

    const status = await emu.send('status');
    expect(status).toMatchObject({
      ok: true,
      mqtt: {
        url: ready.mqtt,
        connectedClients: 1,
        clients: [
          { clientId: 'dev-1', connected: true, remotePort: dev.localPort, publishesIn: 1, bytesIn: 8, publishesOut: 1, bytesOut: 16 },
        ],
        refusedConnects: 1,
        refusedClientIds: ['intruder'],
        deviceGroups: ['DefenderEdgeDevices'],
        bridge: { mappings: 5, forwarded: { 'LocalMqtt->Pubsub': 1, 'Pubsub->LocalMqtt': 1 } },
      },
    });

    // A bad deployment over stdin is refused with the field named; the running set-up stays.
    const badMapping = { mqttTopicMapping: { x: { topic: 'a', source: 'LocalMqtt', target: 'Cloud' } } };
    const badBridge = { componentVersion: '2.3.2', configurationUpdate: { merge: JSON.stringify(badMapping) } };
    const bad = await emu.send(`deploy ${JSON.stringify({ components: { 'aws.greengrass.clientdevices.mqtt.Bridge': badBridge } })}`);
    expect(bad).toMatchObject({
      ok: false,
      error:
        'components.aws.greengrass.clientdevices.mqtt.Bridge.configuration.mqttTopicMapping.x.target: required, one of LocalMqtt, Pubsub, IotCore, not "Cloud"',
    });
    expect(await emu.send('status')).toMatchObject({ mqtt: { bridge: { mappings: 5 } } });

    // EOF with a device and the component still connected: the process must end by itself (no leaked
    // listener, socket or timer keeps the event loop alive).
    const closed = new Promise<void>((r) => dev.client.once('close', () => r()));
    emu.child.stdin!.end();
    expect(await emu.exited).toEqual({ code: 0, signal: null });
    await closed;
    expect(existsSync(join(dir, 'certs', 'ca.pem'))).toBe(true); // an explicit --cert-dir is kept
  });

  it('exits 2 with a field-named message on bad MQTT options', async () => {
    const dir = setup();
    const run = promisify(execFile);
    const fail = async (args: string[]): Promise<string> => {
      try {
        await run(process.execPath, [CLI, 'emulator', '--socket', join(dir, 's.sock'), ...args]);
      } catch (err) {
        const e = err as { code: number; stderr: string };
        expect(e.code).toBe(2);
        return e.stderr;
      }
      throw new Error('expected exit 2');
    };
    expect(await fail(['--mqtt', 'abc'])).toMatch(/--mqtt: must be a port number 0-65535/);
    expect(await fail(['--mqtt', '70000'])).toMatch(/--mqtt: must be a port number 0-65535/);
    expect(await fail(['--cert-dir', join(dir, 'c')])).toMatch(/--cert-dir and --issue-cert need --mqtt PORT/);
    expect(await fail(['--mqtt', '0', '--deployment', join(dir, 'missing.json')])).toMatch(/--deployment: .*missing.json/);
  });
});
