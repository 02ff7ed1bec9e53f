// The real aws-iot-device-sdk-v2 Greengrass IPC client against the emulator over a real Unix socket:
// every operation the component uses, authorization, tokens, offline spooling, configuration
// validation and stream closes from both sides.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { greengrasscoreipc } from 'aws-iot-device-sdk-v2';
import { decode as decodeCbor, encode as encodeCbor } from 'cbor-x';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GreengrassEmulator, type GreengrassEmulatorOptions } from '../../src/ipc/emulator/emulator.ts';
import { closeAll, QOS0, QOS1, RpcErrorType, rpcFailure, sdkClient, tempDir } from '../support/ipc.ts';
import { until } from '../support/until.ts';

const recipe = fileURLToPath(new URL('../fixtures/recipe.test-component.yaml', import.meta.url));
const ME = 'com.defender-edge.DefenderEdge';

let tmp: ReturnType<typeof tempDir>;
let emu: GreengrassEmulator;
let client: greengrasscoreipc.Client;
const clients: greengrasscoreipc.Client[] = [];

async function startEmulator(extra: Partial<GreengrassEmulatorOptions> = {}): Promise<void> {
  emu = new GreengrassEmulator({
    socketPath: join(tmp.dir, 'ipc.sock'),
    recipe,
    thingName: 'gw1',
    recordFile: join(tmp.dir, 'cloud.jsonl'),
    ...extra,
  });
  await emu.start();
}

async function connect(token: string | undefined = emu.tokenOf()): Promise<greengrasscoreipc.Client> {
  const c = sdkClient(emu.socketPath, token);
  clients.push(c);
  await c.connect();
  return c;
}

function records(): { topic: string; qos: number; payload: string }[] {
  const file = join(tmp.dir, 'cloud.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

beforeEach(async () => {
  tmp = tempDir();
  await startEmulator();
  client = await connect();
});

afterEach(async () => {
  await closeAll(clients);
  await emu.stop();
  tmp.cleanup();
});

describe('handshake and identities', () => {
  it('refuses a wrong token and a missing token; accepted clients carry on', async () => {
    for (const token of ['WRONGTOKEN', undefined]) {
      const bad = sdkClient(emu.socketPath, token);
      clients.push(bad);
      const err = await rpcFailure(bad.connect());
      // The SDK reports a refused connect as HandshakeError or NetworkError, depending on a race (docs/greengrass-ipc.md).
      expect([RpcErrorType.HandshakeError, RpcErrorType.NetworkError]).toContain(err.type);
    }
    await client.updateState({ state: 'RUNNING' as never });
    expect(emu.componentState(ME)).toBe('RUNNING');
  });

  it('never takes over a live socket, and a stopped instance cannot start again', async () => {
    const second = new GreengrassEmulator({ socketPath: emu.socketPath });
    await expect(second.start()).rejects.toThrow(/another server is listening/);
    await second.stop();
    expect(existsSync(emu.socketPath)).toBe(true);
    await expect(second.start()).rejects.toThrow(/was stopped/);
    expect((await client.getConfiguration({ keyPath: ['logLevel'] })).value).toEqual({ logLevel: 'info' });
  });

  it('reports component state through UpdateState and an event', async () => {
    const seen: string[] = [];
    emu.on('state', (c, s) => seen.push(`${c}=${s}`));
    await client.updateState({ state: 'ERRORED' as never });
    expect(seen).toEqual([`${ME}=ERRORED`]);
    const err = await rpcFailure(client.updateState({ state: 'BROKEN' as never }, { disableValidation: true }));
    expect(err.serviceError).toMatchObject({ _errorCode: 'ServiceError' });
  });
});

describe('PublishToIoTCore / SubscribeToIoTCore', () => {
  it('an allowed publish reaches the cloud record, with text payloads as UTF-8', async () => {
    await client.publishToIoTCore({ topicName: 'defender-edge/gw1/heartbeat', qos: QOS1, payload: '{"alive":true}' });
    expect(records()).toEqual([expect.objectContaining({ topic: 'defender-edge/gw1/heartbeat', qos: 1, payload: '{"alive":true}' })]);
  });

  it('refuses a topic outside accessControl with UnauthorizedError "Not Authorized"', async () => {
    const err = await rpcFailure(client.publishToIoTCore({ topicName: 'other/topic', qos: QOS0, payload: 'x' }));
    expect(err.type).toBe(RpcErrorType.ServiceError);
    expect(err.serviceError).toEqual({
      message: 'Not Authorized',
      _service: 'aws.greengrass#GreengrassCoreIPC',
      _message: 'Not Authorized',
      _errorCode: 'UnauthorizedError',
    });
    const sub = client.subscribeToIoTCore({ topicName: 'other/#', qos: QOS0 });
    expect((await rpcFailure(sub.activate())).serviceError?._errorCode).toBe('UnauthorizedError');
    expect(records()).toEqual([]);
  });

  it('answers argument errors like the nucleus (InvalidArgumentsError is outside the JS error set)', async () => {
    const err = await rpcFailure(
      client.publishToIoTCore({ topicName: 'defender-edge/x', payload: 'x' } as never, { disableValidation: true }),
    );
    expect(err.type).toBe(RpcErrorType.InternalError);
    expect(err.description).toMatch(/Unexpected response shape received: 'aws.greengrass#InvalidArgumentsError'/);
  });

  it('refuses payloads over 128 KiB with a ServiceError', async () => {
    const err = await rpcFailure(client.publishToIoTCore({ topicName: 'defender-edge/big', qos: QOS1, payload: Buffer.alloc(131_073) }));
    expect(err.serviceError?.message).toBe(
      'Publish to topic defender-edge/big failed: The publishing message size 131073 bytes exceeds the configured limit of 131072 bytes',
    );
  });

  it('delivers cloud messages and own-topic echoes to subscribers, binary intact', async () => {
    const got: string[] = [];
    const sub = client.subscribeToIoTCore({ topicName: 'defender-edge/+/cmd', qos: QOS1 });
    sub.on('message', (m) => got.push(`${m.message?.topicName}:${Buffer.from(m.message!.payload as Buffer).toString('hex')}`));
    await sub.activate();
    expect(emu.cloudPublish('defender-edge/gw1/cmd', Buffer.from([0, 1, 2]))).toBe(1);
    await client.publishToIoTCore({ topicName: 'defender-edge/gw1/cmd', qos: QOS0, payload: Buffer.from([0xff]) });
    await until(() => got.length === 2, 5000, 'two messages');
    expect(got).toEqual(['defender-edge/gw1/cmd:000102', 'defender-edge/gw1/cmd:ff']);
    expect(records()[0]).toMatchObject({ payload: '/w==', payloadEncoding: 'base64' });
  });

  it('the Device Defender endpoint answers JSON reports on accepted/rejected', async () => {
    const replies: unknown[] = [];
    const sub = client.subscribeToIoTCore({ topicName: '$aws/things/gw1/defender/metrics/json/+', qos: QOS1 });
    sub.on('message', (m) =>
      replies.push({ topic: m.message?.topicName, body: JSON.parse(Buffer.from(m.message!.payload as Buffer).toString()) }),
    );
    await sub.activate();
    const topic = '$aws/things/gw1/defender/metrics/json';
    await client.publishToIoTCore({
      topicName: topic,
      qos: QOS1,
      payload: JSON.stringify({ header: { report_id: 1, version: '1.0' }, metrics: {} }),
    });
    await client.publishToIoTCore({ topicName: topic, qos: QOS1, payload: '{not json' });
    await until(() => replies.length === 2);
    expect(replies[0]).toEqual({
      topic: `${topic}/accepted`,
      body: { thingName: 'gw1', reportId: 1, status: 'ACCEPTED', timestamp: expect.any(Number) },
    });
    expect(replies[1]).toMatchObject({
      topic: `${topic}/rejected`,
      body: { status: 'REJECTED', statusDetails: { ErrorCode: 'InvalidPayload' } },
    });
  });

  it('CBOR reports are answered in CBOR, through a plugged-in validator', async () => {
    await emu.stop();
    await startEmulator({
      reportValidator: (_t, p) =>
        (decodeCbor(p) as { hed?: { rid?: number } }).hed?.rid === 2
          ? { accepted: true }
          : { accepted: false, errorCode: 'Custom', errorMessage: 'rid must be 2' },
    });
    client = await connect();
    const replies: Record<string, unknown>[] = [];
    const sub = client.subscribeToIoTCore({ topicName: '$aws/things/gw1/defender/metrics/cbor/+', qos: QOS1 });
    sub.on('message', (m) => replies.push(decodeCbor(Buffer.from(m.message!.payload as Buffer)) as Record<string, unknown>));
    await sub.activate();
    for (const rid of [2, 3]) {
      await client.publishToIoTCore({
        topicName: '$aws/things/gw1/defender/metrics/cbor',
        qos: QOS1,
        payload: Buffer.from(encodeCbor({ hed: { rid, v: '1.0' } })),
      });
    }
    await until(() => replies.length === 2);
    expect(replies.map((r) => [r.reportId, r.status])).toEqual([
      [2, 'ACCEPTED'],
      [3, 'REJECTED'],
    ]);
    expect(replies[1]!.statusDetails).toEqual({ ErrorCode: 'Custom', ErrorMessage: 'rid must be 2' });
  });
});

describe('offline spooling', () => {
  it('refuses QoS 0, spools QoS 1 and delivers it in order when back online', async () => {
    emu.setOnline(false);
    const err = await rpcFailure(client.publishToIoTCore({ topicName: 'defender-edge/q0', qos: QOS0, payload: 'x' }));
    expect(err.serviceError?.message).toBe('Publish to topic defender-edge/q0 failed: Device is offline. Dropping QoS 0 message.');
    for (let i = 0; i < 20; i++) await client.publishToIoTCore({ topicName: 'defender-edge/q1', qos: QOS1, payload: `m${i}` });
    expect(emu.status()).toMatchObject({ online: false, spoolDepth: 20, recordsWritten: 0 });
    expect(records()).toEqual([]);
    emu.setOnline(true);
    expect(records().map((r) => r.payload)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    expect(emu.status()).toMatchObject({ online: true, spoolDepth: 0, recordsWritten: 20 });
  });

  it('a full spool refuses QoS 1 with the nucleus message', async () => {
    await emu.stop();
    await startEmulator({ offline: true, spoolMaxBytes: 10 });
    client = await connect();
    await client.publishToIoTCore({ topicName: 'defender-edge/a', qos: QOS1, payload: '12345678' });
    const err = await rpcFailure(client.publishToIoTCore({ topicName: 'defender-edge/a', qos: QOS1, payload: '123' }));
    expect(err.serviceError?.message).toMatch(/Message spool is full/);
  });
});

describe('local pub/sub', () => {
  it('delivers JSON and binary messages; a wildcard subscription skips its own messages by default', async () => {
    const got: string[] = [];
    const exact = client.subscribeToTopic({ topic: 'downstream/reports' });
    exact.on('message', (m) =>
      got.push(`exact:${JSON.stringify(m.jsonMessage?.message ?? Buffer.from(m.binaryMessage!.message as Buffer).toString('hex'))}`),
    );
    await exact.activate();
    const wild = client.subscribeToTopic({ topic: 'downstream/*' });
    wild.on('message', () => got.push('wild'));
    await wild.activate();
    await client.publishToTopic({ topic: 'downstream/reports', publishMessage: { jsonMessage: { message: { a: 1 } } } });
    await client.publishToTopic({ topic: 'downstream/reports', publishMessage: { binaryMessage: { message: Buffer.from([7]) } } });
    await until(() => got.length === 2);
    expect(got).toEqual(['exact:{"a":1}', 'exact:"07"']);
  });

  it('publishLocal injects from outside and subscribeLocal observes component publishes', async () => {
    const got: unknown[] = [];
    const sub = client.subscribeToTopic({ topic: 'downstream/+/report' });
    sub.on('message', (m) => got.push([m.jsonMessage?.context?.topic, m.jsonMessage?.message]));
    await sub.activate();
    // `+` is literal for pubsub policies but a wildcard in the subscription itself.
    const err = await rpcFailure(client.subscribeToTopic({ topic: 'elsewhere/+' }).activate());
    expect(err.serviceError?.message).toBe(
      `Principal ${ME} is not authorized to perform aws.greengrass.ipc.pubsub:aws.greengrass#SubscribeToTopic on resource elsewhere/+`,
    );
    expect(emu.publishLocal('downstream/dev1/report', { rid: 1 }, 'mqtt-bridge')).toBe(1);
    const observed: unknown[] = [];
    emu.subscribeLocal('defender-edge/#', (topic, m) => observed.push([topic, m.kind === 'json' ? m.value : null]));
    await client.publishToTopic({ topic: 'defender-edge/violations', publishMessage: { jsonMessage: { message: { v: 1 } } } });
    await until(() => got.length === 1 && observed.length === 1);
    expect(got).toEqual([['downstream/dev1/report', { rid: 1 }]]);
    expect(observed).toEqual([['defender-edge/violations', { v: 1 }]]);
  });

  it('another identity is limited by its own accessControl', async () => {
    const token = emu.addComponent('com.example.Other', {
      'aws.greengrass.ipc.pubsub': {
        'o:1': { policyDescription: 'x', operations: ['aws.greengrass#PublishToTopic'], resources: ['downstream/reports'] },
      },
    });
    const other = await connect(token);
    const got: unknown[] = [];
    const sub = client.subscribeToTopic({ topic: 'downstream/reports' });
    sub.on('message', (m) => got.push(m.jsonMessage?.message));
    await sub.activate();
    await other.publishToTopic({ topic: 'downstream/reports', publishMessage: { jsonMessage: { message: { text: 'hi' } } } });
    const err = await rpcFailure(
      other.publishToTopic({ topic: 'defender-edge/x', publishMessage: { jsonMessage: { message: { no: 1 } } } }),
    );
    expect(err.serviceError?._errorCode).toBe('UnauthorizedError');
    expect(
      (await rpcFailure(other.publishToIoTCore({ topicName: 'defender-edge/x', qos: QOS0, payload: 'x' }))).serviceError?.message,
    ).toBe('Not Authorized');
    await until(() => got.length === 1);
    expect(got).toEqual([{ text: 'hi' }]);
  });
});

describe('Java nucleus details', () => {
  it('SubscribeToIoTCore does not answer while the core is offline; it does once the connection is up', async () => {
    emu.setOnline(false);
    const got: string[] = [];
    const sub = client.subscribeToIoTCore({ topicName: 'defender-edge/+/cmd', qos: QOS1 });
    sub.on('message', (m) => got.push(m.message!.topicName!));
    let answered = false;
    const activated = sub.activate().then(() => {
      answered = true;
    });
    // A later request on the same connection is answered: the subscription is what waits.
    expect((await client.getConfiguration({ keyPath: ['logLevel'] })).value).toEqual({ logLevel: 'info' });
    expect(answered).toBe(false);
    expect(emu.cloudPublish('defender-edge/gw1/cmd', 'lost while offline')).toBe(0);
    emu.setOnline(true);
    await activated;
    expect(emu.cloudPublish('defender-edge/gw1/cmd', 'x')).toBe(1);
    await until(() => got.length === 1);
    // One still waiting when its stream closes leaves nothing behind.
    emu.setOnline(false);
    const waiting = client.subscribeToIoTCore({ topicName: 'defender-edge/+/other', qos: QOS0 });
    void waiting.activate().catch(() => undefined);
    await until(() => emu.status().openStreams === 2);
    await waiting.close();
    await until(() => emu.status().openStreams === 1, 5000, 'the waiting stream to close');
    emu.setOnline(true);
    expect(emu.cloudPublish('defender-edge/gw1/other', 'x')).toBe(0);
  });

  it('pub/sub checks authorization first: an empty topic is "Resource cannot be empty", a wildcard topic unauthorized', async () => {
    const empty = await rpcFailure(client.publishToTopic({ topic: '', publishMessage: { jsonMessage: { message: {} } } }));
    expect(empty.serviceError).toMatchObject({ message: 'Resource cannot be empty', _errorCode: 'UnauthorizedError' });
    const emptySub = await rpcFailure(client.subscribeToTopic({ topic: '' }).activate());
    expect(emptySub.serviceError).toMatchObject({ message: 'Resource cannot be empty', _errorCode: 'UnauthorizedError' });
    // Not covered by the policy: refused as unauthorized before the wildcard check.
    const wild = await rpcFailure(client.publishToTopic({ topic: 'other/+', publishMessage: { jsonMessage: { message: {} } } }));
    expect(wild.serviceError?._errorCode).toBe('UnauthorizedError');
    // Covered (downstream/*): then the wildcard check (InvalidArgumentsError, outside the JS error set).
    const covered = await rpcFailure(client.publishToTopic({ topic: 'downstream/+', publishMessage: { jsonMessage: { message: {} } } }));
    expect(covered.description).toMatch(/Unexpected response shape received: 'aws.greengrass#InvalidArgumentsError'/);
  });

  it('a jsonMessage must be a JSON object: anything else cannot be read (unmodeled InternalServerError)', async () => {
    const err = await rpcFailure(
      client.publishToTopic({ topic: 'downstream/reports', publishMessage: { jsonMessage: { message: 'text' } } }),
    );
    expect(err.type).toBe(RpcErrorType.InternalError);
    expect(err.description).toMatch(/Plain text payload is: 'InternalServerError'/);
  });

  it('GetConfiguration: "Key not found" without resourceType/resourceName', async () => {
    const err = await rpcFailure(client.getConfiguration({ keyPath: ['nope'] }));
    expect(err.serviceError).toEqual({
      message: 'Key not found',
      _service: 'aws.greengrass#GreengrassCoreIPC',
      _message: 'Key not found',
      _errorCode: 'ResourceNotFoundError',
    });
  });

  it('local pub/sub matches like its SubscriptionTrie: `a/#` not `a`, wildcards also `$` topics', async () => {
    const got: string[] = [];
    const sub = client.subscribeToTopic({ topic: 'downstream/#', receiveMode: 'RECEIVE_ALL_MESSAGES' as never });
    sub.on('message', (m) => got.push(m.jsonMessage!.context!.topic!));
    await sub.activate();
    expect(emu.publishLocal('downstream', {})).toBe(0);
    expect(emu.publishLocal('downstream/a/b', {})).toBe(1);
    const all: string[] = [];
    emu.subscribeLocal('+/things/#', (t) => all.push(t));
    expect(emu.publishLocal('$aws/things/d1/defender/metrics/json', {})).toBe(1);
    await until(() => got.length === 1);
    expect(got).toEqual(['downstream/a/b']);
    expect(all).toEqual(['$aws/things/d1/defender/metrics/json']);
  });
});

describe('configuration', () => {
  it('GetConfiguration: whole, subtree, leaf as {leaf: value}, missing key, other component', async () => {
    const whole = await client.getConfiguration({ keyPath: [] });
    expect(whole.componentName).toBe(ME);
    expect(whole.value).toMatchObject({ logLevel: 'info', reporting: { intervalSeconds: 300, format: 'json' } });
    expect((await client.getConfiguration({ keyPath: ['reporting'] })).value).toEqual({ intervalSeconds: 300, format: 'json' });
    expect((await client.getConfiguration({ keyPath: ['reporting', 'format'] })).value).toEqual({ format: 'json' });
    const missing = await rpcFailure(client.getConfiguration({ keyPath: ['nope'] }));
    expect(missing.serviceError).toMatchObject({ message: 'Key not found', _errorCode: 'ResourceNotFoundError' });
    emu.addComponent('com.example.Other', undefined);
    await emu.changeConfig({ k: 5 }, 'com.example.Other');
    expect((await client.getConfiguration({ componentName: 'com.example.Other', keyPath: ['k'] })).value).toEqual({ k: 5 });
  });

  it('UpdateConfiguration notifies subscribers of the changed path; accessControl cannot be changed', async () => {
    const events: unknown[] = [];
    const sub = client.subscribeToConfigurationUpdate({ keyPath: ['reporting'] });
    sub.on('message', (e) => events.push(e.configurationUpdateEvent));
    await sub.activate();
    await client.updateConfiguration({ keyPath: ['reporting'], timestamp: new Date(), valueToMerge: { intervalSeconds: 600 } });
    await client.updateConfiguration({ keyPath: [], timestamp: new Date(), valueToMerge: { logLevel: 'debug' } });
    await until(() => events.length === 1);
    expect(events).toEqual([{ componentName: ME, keyPath: ['reporting', 'intervalSeconds'] }]);
    expect(emu.configOf()?.reporting).toEqual({ intervalSeconds: 600, format: 'json' });
    const err = await rpcFailure(client.updateConfiguration({ keyPath: ['accessControl'], timestamp: new Date(), valueToMerge: {} }));
    expect(err.serviceError?._errorCode).toBe('InvalidArgumentsError');
    const stale = await rpcFailure(client.updateConfiguration({ keyPath: [], timestamp: new Date(0), valueToMerge: { x: 1 } }));
    expect(stale.serviceError?._errorCode).toBe('FailedUpdateConditionCheckError');
    expect((await rpcFailure(client.subscribeToConfigurationUpdate({ keyPath: ['absent'] }).activate())).serviceError?.message).toBe(
      'Key not found',
    );
  });

  it('a rejecting validator blocks the change; an accepting one lets it through and subscribers hear of it', async () => {
    const updates: unknown[] = [];
    const cfg = client.subscribeToConfigurationUpdate({ keyPath: [] });
    cfg.on('message', (e) => updates.push(e.configurationUpdateEvent?.keyPath));
    await cfg.activate();
    const validations: { deploymentId: string; configuration: Record<string, unknown> }[] = [];
    const val = client.subscribeToValidateConfigurationUpdates({});
    val.on('message', (e) => {
      const v = e.validateConfigurationUpdateEvent!;
      validations.push({ deploymentId: v.deploymentId!, configuration: v.configuration as Record<string, unknown> });
      const ok = ((v.configuration as { reporting?: { intervalSeconds?: number } }).reporting?.intervalSeconds ?? 0) >= 300;
      void client.sendConfigurationValidityReport({
        configurationValidityReport: {
          deploymentId: v.deploymentId!,
          status: (ok ? 'ACCEPTED' : 'REJECTED') as never,
          message: ok ? undefined : 'reporting.intervalSeconds: must be >= 300',
        },
      });
    });
    await val.activate();

    const rejected = await emu.changeConfig({ reporting: { intervalSeconds: 10 } });
    expect(rejected).toEqual({ applied: false, reason: 'reporting.intervalSeconds: must be >= 300' });
    expect(emu.configOf()?.reporting).toEqual({ intervalSeconds: 300, format: 'json' });
    expect(validations[0]!.configuration.reporting).toEqual({ intervalSeconds: 10, format: 'json' });

    // An IPC UpdateConfiguration is not validated: the nucleus asks validators during deployments only.
    await client.updateConfiguration({ keyPath: ['reporting'], timestamp: new Date(), valueToMerge: { intervalSeconds: 1 } });
    expect(emu.configOf()?.reporting).toEqual({ intervalSeconds: 1, format: 'json' });
    expect(validations).toHaveLength(1);
    await until(() => updates.length === 1);

    const accepted = await emu.changeConfig({ reporting: { intervalSeconds: 900 } });
    expect(accepted).toEqual({ applied: true, changed: [['reporting', 'intervalSeconds']] });
    await until(() => updates.length === 2);
    expect(updates).toEqual([
      ['reporting', 'intervalSeconds'],
      ['reporting', 'intervalSeconds'],
    ]);
    expect(validations).toHaveLength(2);
    // Nothing changes: nothing to validate.
    expect(await emu.changeConfig({ reporting: { intervalSeconds: 900 } })).toEqual({ applied: true, changed: [] });
    expect(validations).toHaveLength(2);

    const late = await rpcFailure(
      client.sendConfigurationValidityReport({
        configurationValidityReport: { deploymentId: validations[0]!.deploymentId, status: 'ACCEPTED' as never },
      }),
    );
    expect(late.serviceError?.message).toBe('Validation request either timed out or was never made');
  });

  it('an unanswered validation times out and refuses the change', async () => {
    await emu.stop();
    await startEmulator({ validationTimeoutMs: 200 });
    client = await connect();
    const val = client.subscribeToValidateConfigurationUpdates({});
    await val.activate();
    expect(await emu.changeConfig({ logLevel: 'debug' })).toEqual({ applied: false, reason: 'validation timed out' });
  });

  it('one validation listener per component: a second subscription gets no events, closing either removes it', async () => {
    const first: string[] = [];
    const second: string[] = [];
    const answer = (list: string[]) => (e: greengrasscoreipc.model.ValidateConfigurationUpdateEvents) => {
      const id = e.validateConfigurationUpdateEvent!.deploymentId!;
      list.push(id);
      void client.sendConfigurationValidityReport({ configurationValidityReport: { deploymentId: id, status: 'ACCEPTED' as never } });
    };
    const a = client.subscribeToValidateConfigurationUpdates({});
    a.on('message', answer(first));
    await a.activate();
    const b = client.subscribeToValidateConfigurationUpdates({});
    b.on('message', answer(second));
    await b.activate(); // answered, but the first listener stays the component's
    expect(await emu.changeConfig({ logLevel: 'debug' })).toMatchObject({ applied: true });
    expect([first.length, second.length]).toEqual([1, 0]);
    await b.close(); // closing the second one removes the component's listener
    await until(() => emu.status().openStreams === 1, 5000, 'the server to see the close');
    expect(await emu.changeConfig({ logLevel: 'warn' })).toMatchObject({ applied: true });
    expect([first.length, second.length]).toEqual([1, 0]);
    const report = await rpcFailure(
      client.sendConfigurationValidityReport(
        { configurationValidityReport: { status: 'ACCEPTED' as never } as never },
        { disableValidation: true },
      ),
    );
    expect(report.serviceError?.message).toBe('Cannot accept configuration validity report, the deployment ID provided was null');
  });
});

describe('deployments', () => {
  /** The fixture recipe's ComponentVersion: deploying it again changes only the configuration. */
  const SAME = '0.1.0';
  const doc = (version: string, merge?: unknown, reset?: string[]) => ({
    components: {
      [ME]: {
        componentVersion: version,
        configurationUpdate: { ...(merge ? { merge: JSON.stringify(merge) } : {}), ...(reset ? { reset } : {}) },
      },
    },
  });

  async function validator(verdict: (c: Record<string, unknown>) => string | null): Promise<string[]> {
    const seen: string[] = [];
    const val = client.subscribeToValidateConfigurationUpdates({});
    val.on('message', (e) => {
      const v = e.validateConfigurationUpdateEvent!;
      seen.push(v.deploymentId!);
      const problem = verdict(v.configuration as Record<string, unknown>);
      void client.sendConfigurationValidityReport({
        configurationValidityReport: {
          deploymentId: v.deploymentId!,
          status: (problem ? 'REJECTED' : 'ACCEPTED') as never,
          ...(problem ? { message: problem } : {}),
        },
      });
    });
    await val.activate();
    return seen;
  }

  it('a configuration-only deployment is validated; a rejected one changes nothing and says why', async () => {
    const asked = await validator((c) => ((c.logLevel as string) === 'silly' ? 'logLevel: must be a pino level' : null));
    expect(emu.versionOf()).toBe(SAME);
    const bad = await emu.deploy(doc(SAME, { logLevel: 'silly' }));
    expect(bad).toMatchObject({
      ok: false,
      errors: [
        `components.${ME}: Components reported that their to-be-deployed configuration is invalid { name = ${ME}, message = logLevel: must be a pino level }`,
      ],
    });
    expect(emu.configOf()?.logLevel).toBe('info');
    const good = await emu.deploy(doc(SAME, { logLevel: 'debug' }));
    expect(good).toMatchObject({ ok: true, components: { [ME]: { version: SAME, changed: [['logLevel']], validated: true } } });
    expect(asked).toHaveLength(2);
    expect(emu.status().deployments).toMatchObject({ applied: 1, failed: 1 });
  });

  it('a deployment that changes the version is not validated (the component must check at start)', async () => {
    const asked = await validator(() => 'everything is refused');
    const r = await emu.deploy(doc('1.1.0', { logLevel: 'debug' }));
    expect(r).toMatchObject({ ok: true, components: { [ME]: { version: '1.1.0', validated: false } } });
    expect(r.ok && r.warnings).toEqual([`components.${ME}: version 1.1.0 replaces the running one (a real core restarts the component)`]);
    expect(asked).toEqual([]);
    expect(emu.versionOf()).toBe('1.1.0');
    expect(emu.configOf()?.logLevel).toBe('debug');
  });

  it('reset goes back to the recipe default (or removes), then merge; malformed documents name the field', async () => {
    await emu.deploy(doc(SAME, { logLevel: 'debug', extra: { a: 1 } }));
    const r = await emu.deploy(doc(SAME, { reporting: { format: 'cbor' } }, ['/logLevel', '/extra']));
    expect(r.ok).toBe(true);
    expect(emu.configOf()).toMatchObject({ logLevel: 'info', reporting: { intervalSeconds: 300, format: 'cbor' } });
    expect(emu.configOf()).not.toHaveProperty('extra');
    const malformed = await emu.deploy({
      components: { [ME]: { componentVersion: '1.0.0', configurationUpdate: { merge: '{"logLevel":' } } },
    });
    expect(malformed).toMatchObject({
      ok: false,
      errors: [expect.stringMatching(new RegExp(`^components\\.${ME.replace(/\./g, '\\.')}\\.configurationUpdate\\.merge: invalid JSON`))],
    });
    expect(await emu.deploy('not json')).toMatchObject({ ok: false, errors: [expect.stringMatching(/^deployment: invalid JSON/)] });
  });

  it('the validation timeout of the deployment policy applies', async () => {
    const val = client.subscribeToValidateConfigurationUpdates({});
    await val.activate(); // never answers
    const r = await emu.deploy({
      ...doc(SAME, { logLevel: 'debug' }),
      deploymentPolicies: { configurationValidationPolicy: { timeoutInSeconds: 1 } },
    });
    expect(r).toMatchObject({
      ok: false,
      errors: [`components.${ME}: Error while waiting for validation report for one or more components: no report within 1000 ms`],
    });
  });

  it('a deployed component that is new gets an identity with its own accessControl', async () => {
    const r = await emu.deploy({
      components: {
        'com.example.Reader': {
          componentVersion: '2.0.0',
          configurationUpdate: {
            merge: JSON.stringify({
              accessControl: {
                'aws.greengrass.ipc.pubsub': { 'r:1': { policyDescription: 'x', operations: ['*'], resources: ['downstream/*'] } },
              },
            }),
          },
        },
      },
    });
    expect(r.ok).toBe(true);
    const token = r.ok ? r.tokens['com.example.Reader']! : '';
    const reader = await connect(token);
    await reader.publishToTopic({ topic: 'downstream/x', publishMessage: { jsonMessage: { message: {} } } });
    expect(
      (await rpcFailure(reader.publishToTopic({ topic: 'defender-edge/x', publishMessage: { jsonMessage: { message: {} } } }))).serviceError
        ?._errorCode,
    ).toBe('UnauthorizedError');
  });
});

describe('streams and unknown operations', () => {
  it('client-side close unsubscribes on the server', async () => {
    const sub = client.subscribeToIoTCore({ topicName: 'defender-edge/#', qos: QOS0 });
    await sub.activate();
    expect(emu.status().openStreams).toBe(1);
    expect(emu.cloudPublish('defender-edge/a', 'x')).toBe(1);
    await sub.close();
    await until(() => emu.status().openStreams === 0, 5000, 'server-side unsubscribe');
    expect(emu.cloudPublish('defender-edge/a', 'x')).toBe(0);
  });

  it('server-side close ends the client stream', async () => {
    const sub = client.subscribeToTopic({ topic: 'downstream/reports' });
    let ended = false;
    sub.on('ended', () => {
      ended = true;
    });
    sub.on('streamError', () => undefined); // the SDK also reports the empty close message as a stream error
    await sub.activate();
    expect(emu.closeStreams({ operation: 'SubscribeToTopic' })).toBe(1);
    await until(() => ended, 5000, 'ended');
    expect(emu.publishLocal('downstream/reports', {})).toBe(0);
    // the connection itself is fine
    expect((await client.getConfiguration({ keyPath: ['logLevel'] })).value).toEqual({ logLevel: 'info' });
  });

  it('an operation of the model without a handler gets the nucleus ServiceError', async () => {
    const err = await rpcFailure(client.getThingShadow({ thingName: 'gw1' }));
    expect(err.serviceError?.message).toBe('Operation aws.greengrass#GetThingShadow is not supported by Greengrass');
  });
});
