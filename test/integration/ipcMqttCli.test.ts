// `defender-edge emulator --mqtt …` as a process: ready line with the broker URL, a device and a component
// talking through the bridge, per-client stats in `status`, clean exit with clients still connected.

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { GreengrassIpcClient } from '../../src/ipc/ipcClient.ts';
import type { LocalMessage } from '../../src/ipc/ipcTypes.ts';
import { CLI, CliTestResources, type EmulatorProcess, spawnEmulator } from '../support/ipc.ts';
import { closeDevices, connectDevice, type Device, refusedConnect } from '../support/mqttDevice.ts';
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

describe('defender-edge emulator --mqtt', () => {
  it('bridges a device and the component, reports per-client stats, exits 0 on EOF with clients connected', async () => {
    const dir = setup();
    const socket = join(dir, 'ipc.sock');
    writeFileSync(
      join(dir, 'bridge.json'),
      JSON.stringify({
        mqttTopicMapping: {
          up: { topic: 'devices/+/telemetry', source: 'LocalMqtt', target: 'Pubsub' },
          down: { topic: 'devices/+/cmd', source: 'Pubsub', target: 'LocalMqtt' },
        },
      }),
    );
    // Started in the temp dir: no recipe.yaml there, so the embedded identity (all local pub/sub) applies,
    // not the project's own recipe.yaml with its exact topics.
    const emu = spawnEmulator(
      ['--socket', socket, '--mqtt', '0', '--bridge', join(dir, 'bridge.json'), '--mqtt-auth', 'dev-1, dev-2'],
      dir,
    );
    procs.push(emu);
    const ready = (await emu.ready) as Awaited<EmulatorProcess['ready']> & { mqtt: string };
    expect(ready.mqtt).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);

    const ipc = new GreengrassIpcClient({ socketPath: socket, authToken: ready.components['com.defender-edge.DefenderEdge'] });
    clients.push(ipc);
    ipc.start();
    await ipc.whenConnected(5000);
    const got: LocalMessage[] = [];
    const sub = ipc.subscribeToTopic('devices/+/telemetry', (m) => {
      got.push(m);
    });
    await until(() => sub.status === 'active');

    const dev = await connectDevice(ready.mqtt, 'dev-1');
    devices.push(dev);
    await dev.client.subscribeAsync('devices/dev-1/cmd', { qos: 1 });
    await dev.client.publishAsync('devices/dev-1/telemetry', '{"t":21}', { qos: 1 });
    await until(() => got.length === 1);
    expect(got[0]).toEqual({ topic: 'devices/dev-1/telemetry', kind: 'binary', value: Buffer.from('{"t":21}') });
    await ipc.publishToTopic('devices/dev-1/cmd', { reboot: false });
    await until(() => dev.received.length === 1);
    expect(dev.received[0]!.payload.toString()).toBe('{"reboot":false}');
    expect((await refusedConnect(ready.mqtt, 'intruder')).code).toBe(5);

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
        bridge: { mappings: 2, forwarded: { 'LocalMqtt->Pubsub': 1, 'Pubsub->LocalMqtt': 1 } },
      },
    });

    // EOF with a device and the component still connected: the process must end by itself (no leaked
    // listener, socket or timer keeps the event loop alive).
    const closed = new Promise<void>((r) => dev.client.once('close', () => r()));
    emu.child.stdin!.end();
    expect(await emu.exited).toEqual({ code: 0, signal: null });
    await closed;
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
    expect(await fail(['--bridge', join(dir, 'b.json')])).toMatch(/--bridge and --mqtt-auth need --mqtt PORT/);
    expect(await fail(['--mqtt', '0', '--bridge', join(dir, 'missing.json')])).toMatch(/--bridge: .*missing.json/);
    writeFileSync(
      join(dir, 'bad.json'),
      JSON.stringify({ mqttTopicMapping: { m: { topic: 'a/#/b', source: 'IotCore', target: 'Cloud' } } }),
    );
    expect(await fail(['--mqtt', '0', '--bridge', join(dir, 'bad.json')])).toContain(
      "--bridge: bridge.mqttTopicMapping.m.topic: '#' must be the last level on its own in 'a/#/b'; " +
        'bridge.mqttTopicMapping.m.target: must be one of LocalMqtt, Pubsub, IotCore',
    );
    expect(await fail(['--mqtt', '0', '--mqtt-auth', 'a,,b'])).toMatch(/--mqtt-auth: must be a comma-separated list/);
  });
});
