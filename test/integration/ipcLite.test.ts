// The real aws-iot-device-sdk-v2 client against the emulator behaving like Greengrass nucleus lite: its
// operation set (everything else a ServiceError with an empty message), string numbers, its limits, no
// spooler, its errors and its connect refusal.

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { greengrasscoreipc } from 'aws-iot-device-sdk-v2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GreengrassEmulator, type GreengrassEmulatorOptions } from '../../src/ipc/emulator/emulator.ts';
import { LITE_OPERATIONS } from '../../src/ipc/emulator/liteOperations.ts';
import {
  CLI,
  CliTestResources,
  closeAll,
  QOS0,
  QOS1,
  RpcErrorType,
  rpcFailure,
  sdkClient,
  spawnEmulator,
  tempDir,
} from '../support/ipc.ts';
import { until } from '../support/until.ts';

const ME = 'com.defender-edge.DefenderEdge';
const TOKEN = 'LiteToken+0123/a'; // 16 base64 characters, like a lite SVCUID
const RECIPE = `
ComponentName: ${ME}
ComponentVersion: 0.1.0
ComponentConfiguration:
  DefaultConfiguration:
    logLevel: info
    sampling:
      intervalMs: 1000
    reporting:
      enabled: true
      intervalSeconds: 300
    accessControl:
      aws.greengrass.ipc.mqttproxy:
        p1:
          policyDescription: reports
          operations: [aws.greengrass#PublishToIoTCore, aws.greengrass#SubscribeToIoTCore]
          resources: ["$aws/things/{iot:thingName}/defender/metrics/+", "$aws/things/{iot:thingName}/defender/metrics/+/+"]
      aws.greengrass.ipc.pubsub:
        p2:
          policyDescription: local
          operations: ["*"]
          resources: ["downstream/*"]
Manifests:
  - Platform:
      os: linux
      runtime: aws_nucleus_lite
    Lifecycle:
      Run: defender-edge run
`;

let tmp: ReturnType<typeof tempDir>;
let emu: GreengrassEmulator;
let client: greengrasscoreipc.Client;
const clients: greengrasscoreipc.Client[] = [];
const res = new CliTestResources();

async function start(extra: Partial<GreengrassEmulatorOptions> = {}): Promise<void> {
  writeFileSync(join(tmp.dir, 'recipe.yaml'), RECIPE);
  emu = new GreengrassEmulator({
    socketPath: join(tmp.dir, 'ipc.sock'),
    nucleus: 'lite',
    recipe: join(tmp.dir, 'recipe.yaml'),
    thingName: 'gw1',
    token: TOKEN,
    ...extra,
  });
  await emu.start();
}

async function connect(token: string | undefined = TOKEN): Promise<greengrasscoreipc.Client> {
  const c = sdkClient(emu.socketPath, token);
  clients.push(c);
  await c.connect();
  return c;
}

/** A timestamp lite accepts: seconds with a fraction (a whole second would decode as an integer). */
const stamp = (): Date => new Date(Math.floor(Date.now() / 2) * 2 + 1);

beforeEach(async () => {
  tmp = tempDir();
  await start();
  client = await connect();
});

afterEach(async () => {
  await closeAll(clients);
  await emu.stop();
  await res.teardown();
  tmp.cleanup();
});

describe('nucleus lite operations', () => {
  it('SubscribeToValidateConfigurationUpdates and the other operations lite lacks: ServiceError with an empty message', async () => {
    const err = await rpcFailure(client.subscribeToValidateConfigurationUpdates({}).activate());
    expect(err.type).toBe(RpcErrorType.ServiceError);
    expect(err.serviceError).toEqual({ _message: '', _errorCode: 'ServiceError' });
    expect(err.serviceError?.message).toBeUndefined();
    for (const call of [
      () => client.sendConfigurationValidityReport({ configurationValidityReport: { deploymentId: 'x', status: 'ACCEPTED' as never } }),
      () => client.getComponentDetails({ componentName: ME }),
      () => client.getThingShadow({ thingName: 'gw1' }),
      () => client.deferComponentUpdate({ deploymentId: 'x' }),
    ]) {
      expect((await rpcFailure(call())).serviceError).toEqual({ _message: '', _errorCode: 'ServiceError' });
    }
    expect(LITE_OPERATIONS.map((o) => o.replace('aws.greengrass#', ''))).toEqual([
      'PublishToTopic',
      'SubscribeToTopic',
      'PublishToIoTCore',
      'SubscribeToIoTCore',
      'GetConfiguration',
      'UpdateConfiguration',
      'SubscribeToConfigurationUpdate',
      'UpdateState',
      'CreateLocalDeployment',
      'RestartComponent',
      'ValidateAuthorizationToken',
    ]);
  });

  it('GetConfiguration hands numbers back as strings (a YAML recipe: every scalar is text)', async () => {
    const whole = await client.getConfiguration({ keyPath: [] });
    expect(whole.value).toMatchObject({
      logLevel: 'info',
      sampling: { intervalMs: '1000' },
      reporting: { enabled: 'true', intervalSeconds: '300' },
    });
    await emu.changeConfig({ sampling: { intervalMs: 250 }, ratio: 0.5 });
    expect((await client.getConfiguration({ keyPath: ['sampling', 'intervalMs'] })).value).toEqual({ intervalMs: '250' });
    expect((await client.getConfiguration({ keyPath: ['ratio'] })).value).toEqual({ ratio: '0.5' });
    expect(emu.configOf()?.sampling).toEqual({ intervalMs: 250 }); // stored as given; only the answer is text
    const missing = await rpcFailure(client.getConfiguration({ keyPath: ['nope'] }));
    expect(missing.serviceError).toEqual({ _message: 'Key not found.', _errorCode: 'ResourceNotFoundError' });
  });

  it('limits: a configuration over 255 sub-objects is refused at deployment; a GetConfiguration answer over them fails', async () => {
    const big = Object.fromEntries(Array.from({ length: 130 }, (_, i) => [`k${i}`, i]));
    const refused = await emu.deploy({
      components: { [ME]: { componentVersion: '0.1.0', configurationUpdate: { merge: JSON.stringify({ big }) } } },
    });
    expect(refused).toMatchObject({
      ok: false,
      errors: [
        expect.stringMatching(
          new RegExp(
            `^components\\.${ME.replace(/\./g, '\\.')}\\.configurationUpdate: Visited object's subobjects exceeds maximum\\. \\(lite allows 255`,
          ),
        ),
      ],
    });
    expect(await emu.changeConfig({ big })).toEqual({
      applied: false,
      reason: expect.stringMatching(/^Visited object's subobjects exceeds maximum\./),
    });
    // Key by key over IPC, as ggconfigd stores them, the whole can outgrow what one answer may carry.
    for (let i = 0; i < 130; i++) {
      await client.updateConfiguration({ keyPath: ['many', `k${i}`], timestamp: stamp(), valueToMerge: i });
    }
    expect((await rpcFailure(client.getConfiguration({ keyPath: [] }))).serviceError).toEqual({ _message: '', _errorCode: 'ServiceError' });
    expect((await client.getConfiguration({ keyPath: ['many', 'k7'] })).value).toEqual({ k7: '7' });
  });

  it('a message over 10,000 bytes closes the connection', async () => {
    let closed = false;
    client.on('disconnection', () => {
      closed = true;
    });
    // The SDK does not settle a request whose connection goes away; the disconnection is what shows.
    void client
      .publishToIoTCore({ topicName: '$aws/things/gw1/defender/metrics/json', qos: QOS1, payload: Buffer.alloc(8000) })
      .catch(() => undefined);
    await until(() => closed, 5000, 'the disconnection');
    expect(emu.status().protocolErrors).toBe(1);
  });

  it('no spooler: PublishToIoTCore and SubscribeToIoTCore fail while offline', async () => {
    emu.setOnline(false);
    const pub = await rpcFailure(client.publishToIoTCore({ topicName: '$aws/things/gw1/defender/metrics/json', qos: QOS1, payload: '{}' }));
    expect(pub.serviceError).toEqual({ _message: 'Failed to publish the message.', _errorCode: 'ServiceError' });
    const sub = await rpcFailure(client.subscribeToIoTCore({ topicName: '$aws/things/gw1/defender/metrics/json/+', qos: QOS0 }).activate());
    expect(sub.serviceError).toEqual({ _message: 'Failed to bind the subscription.', _errorCode: 'ServiceError' });
    expect(emu.status().spoolDepth).toBe(0);
    emu.setOnline(true);
    await client.publishToIoTCore({ topicName: '$aws/things/gw1/defender/metrics/json', qos: QOS1, payload: '{}' });
    expect(emu.status().recordsWritten).toBe(1);
  });

  it('policies: {iot:thingName} is interpolated; a refusal is "IPC Operation not authorized."', async () => {
    const answers: string[] = [];
    const sub = client.subscribeToIoTCore({ topicName: '$aws/things/gw1/defender/metrics/json/+', qos: QOS1 });
    sub.on('message', (m) =>
      answers.push(
        `${m.message?.topicName}|${Object.keys(m.message ?? {})
          .sort()
          .join(',')}`,
      ),
    );
    await sub.activate();
    await client.publishToIoTCore({
      topicName: '$aws/things/gw1/defender/metrics/json',
      qos: QOS1,
      payload: JSON.stringify({ header: { report_id: 1, version: '1.0' }, metrics: {} }),
    });
    await until(() => answers.length === 1);
    // IoTCoreMessage from lite carries only topicName and payload.
    expect(answers).toEqual(['$aws/things/gw1/defender/metrics/json/accepted|payload,topicName']);
    const other = await rpcFailure(
      client.publishToIoTCore({ topicName: '$aws/things/other/defender/metrics/json', qos: QOS1, payload: '{}' }),
    );
    expect(other.serviceError).toEqual({ _message: 'IPC Operation not authorized.', _errorCode: 'UnauthorizedError' });
  });

  it('SubscribeToTopic ignores receiveMode: a component hears its own messages', async () => {
    const got: unknown[] = [];
    const sub = client.subscribeToTopic({ topic: 'downstream/+', receiveMode: 'RECEIVE_MESSAGES_FROM_OTHERS' as never });
    sub.on('message', (m) => got.push(m.jsonMessage?.message));
    await sub.activate();
    await client.publishToTopic({ topic: 'downstream/x', publishMessage: { jsonMessage: { message: 'text is fine on lite' } } });
    await until(() => got.length === 1);
    expect(got).toEqual(['text is fine on lite']);
  });

  it('UpdateState needs no policy; ERRORED is accepted and has no effect', async () => {
    await client.updateState({ state: 'RUNNING' as never });
    expect(emu.componentState()).toBe('RUNNING');
    await client.updateState({ state: 'ERRORED' as never });
    expect(emu.componentState()).toBe('RUNNING');
  });

  it('a wrong token: the socket is just closed (no ConnectAck)', async () => {
    for (const token of ['WRONGTOKEN000000', 'short', undefined]) {
      const bad = sdkClient(emu.socketPath, token);
      clients.push(bad);
      const err = await rpcFailure(bad.connect());
      expect(err.type).toBe(RpcErrorType.NetworkError);
    }
  });

  it('deployments carry no client-device components: lite runs generic components only', async () => {
    const r = await emu.deploy({ components: { 'aws.greengrass.clientdevices.Auth': { componentVersion: '2.5.5' } } });
    expect(r).toEqual({
      ok: false,
      errors: [
        'components.aws.greengrass.clientdevices.Auth: nucleus lite runs generic components only; aws.greengrass.clientdevices.Auth is a Java nucleus plugin',
      ],
      warnings: [],
    });
  });
});

describe('defender-edge emulator --nucleus lite', () => {
  it('prints nucleus lite in the ready line and serves the SDK', async () => {
    const dir = res.dir();
    writeFileSync(join(dir, 'recipe.yaml'), RECIPE);
    const p = spawnEmulator([
      '--nucleus',
      'lite',
      '--socket',
      join(dir, 'l.sock'),
      '--recipe',
      join(dir, 'recipe.yaml'),
      '--token',
      'AAAAAAAAAAAAAAAA',
    ]);
    res.procs.push(p);
    expect(await p.ready).toEqual({
      ready: true,
      nucleus: 'lite',
      socket: join(dir, 'l.sock'),
      thingName: 'defender-edge-emulated-core',
      components: { [ME]: 'AAAAAAAAAAAAAAAA' },
    });
    const c = sdkClient(join(dir, 'l.sock'), 'AAAAAAAAAAAAAAAA');
    clients.push(c);
    await c.connect();
    expect((await c.getConfiguration({ keyPath: ['sampling'] })).value).toEqual({ intervalMs: '1000' });
  });

  it("refuses a recipe without a lite manifest with lite's reason", async () => {
    const dir = res.dir();
    writeFileSync(join(dir, 'recipe.yaml'), RECIPE.replace('runtime: aws_nucleus_lite', 'architecture: "*"'));
    const run = promisify(execFile);
    const err = (await run(process.execPath, [
      CLI,
      'emulator',
      '--nucleus',
      'lite',
      '--socket',
      join(dir, 's.sock'),
      '--recipe',
      join(dir, 'recipe.yaml'),
    ]).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(2);
    expect(err.stderr).toContain(
      'No lifecycle was found for linux (Manifests[0]: Skipping manifest as it does not include a runtime platform field.)',
    );
  });
});
