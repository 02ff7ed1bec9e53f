// GreengrassIpcClient (the layer the agent uses) against the emulator: typed operations, handler and
// validator safety, resubscription after a server-side close, refusal handling.

import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GreengrassEmulator } from '../../src/ipc/emulator/emulator.ts';
import { GreengrassIpcClient } from '../../src/ipc/ipcClient.ts';
import { IpcError } from '../../src/ipc/ipcError.ts';
import type { LocalMessage } from '../../src/ipc/ipcTypes.ts';
import { tempDir } from '../support/ipc.ts';
import { until } from '../support/until.ts';

const TOKEN = 'CLIENTTEST000001';
let tmp: ReturnType<typeof tempDir>;
let emu: GreengrassEmulator;
let ipc: GreengrassIpcClient;
const extra: GreengrassIpcClient[] = [];

beforeEach(async () => {
  tmp = tempDir();
  emu = new GreengrassEmulator({
    socketPath: join(tmp.dir, 'ipc.sock'),
    token: TOKEN,
    thingName: 'gw1',
    overrides: { reporting: { intervalSeconds: 300 } },
  });
  await emu.start();
  ipc = new GreengrassIpcClient({ socketPath: emu.socketPath, authToken: TOKEN, backoff: { initialMs: 20, maxMs: 200 } });
  ipc.start();
  await ipc.whenConnected(5000);
});

afterEach(async () => {
  await ipc.stop();
  for (const c of extra.splice(0)) await c.stop();
  await emu.stop();
  tmp.cleanup();
});

describe('GreengrassIpcClient operations', () => {
  it('reads the whole configuration, reports RUNNING, publishes QoS 1 and gets the Defender reply', async () => {
    expect(await ipc.getConfiguration()).toMatchObject({ reporting: { intervalSeconds: 300 }, accessControl: expect.any(Object) });
    expect(await ipc.getConfiguration(['reporting', 'intervalSeconds'])).toEqual({ intervalSeconds: 300 });
    await ipc.updateState('RUNNING');
    expect(emu.componentState()).toBe('RUNNING');
    const replies: unknown[] = [];
    const sub = ipc.subscribeToIoTCore('$aws/things/gw1/defender/metrics/json/+', 1, (m) => {
      replies.push([m.topic, JSON.parse(m.payload.toString()).status]);
    });
    await until(() => sub.status === 'active');
    await ipc.publishToIoTCore(
      '$aws/things/gw1/defender/metrics/json',
      JSON.stringify({ header: { report_id: 1, version: '1.0' }, metrics: {} }),
      1,
    );
    await until(() => replies.length === 1);
    expect(replies).toEqual([['$aws/things/gw1/defender/metrics/json/accepted', 'ACCEPTED']]);
    expect(ipc.counters()).toMatchObject({ connects: 1, calls: 4, callFailures: 0, messagesReceived: 1 });
  });

  it('local pub/sub in both directions, JSON and binary', async () => {
    const got: LocalMessage[] = [];
    const sub = ipc.subscribeToTopic('downstream/+/report', (m) => {
      got.push(m);
    });
    await until(() => sub.status === 'active');
    emu.publishLocal('downstream/dev1/report', { rid: 1 });
    emu.publishLocal('downstream/dev2/report', Buffer.from([1, 2]));
    const seen: unknown[] = [];
    emu.subscribeLocal('defender-edge/violations', (_t, m) => seen.push(m.kind === 'json' ? m.value : m.value.toString('hex')));
    await ipc.publishToTopic('defender-edge/violations', { v: 1 });
    await ipc.publishToTopic('defender-edge/violations', Buffer.from([9]));
    await until(() => got.length === 2 && seen.length === 2);
    expect(got).toEqual([
      { topic: 'downstream/dev1/report', kind: 'json', value: { rid: 1 } },
      { topic: 'downstream/dev2/report', kind: 'binary', value: Buffer.from([1, 2]) },
    ]);
    expect(seen).toEqual([{ v: 1 }, '09']);
  });

  it('service errors come back as IpcError with the error code; refused subscriptions are reported', async () => {
    const err = await ipc.publishToIoTCore('not/allowed', 'x', 0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpcError);
    expect(err).toMatchObject({
      kind: 'service',
      errorCode: 'UnauthorizedError',
      operation: 'PublishToIoTCore',
      message: 'PublishToIoTCore: Not Authorized',
    });
    const reported: string[] = [];
    ipc.on('subscriptionError', (d, e) => reported.push(`${d}: ${e.errorCode}`));
    const sub = ipc.subscribeToIoTCore('not/allowed', 0, () => undefined);
    await until(() => sub.status === 'failed');
    expect(sub.lastError).toMatch(/Not Authorized/);
    expect(reported[0]).toBe('SubscribeToIoTCore not/allowed: UnauthorizedError');
    await sub.close();
    expect(sub.status).toBe('closed');
    expect(ipc.counters().callFailures).toBe(1);
  });

  it('a throwing or rejecting handler is counted and logged; delivery goes on', async () => {
    let n = 0;
    const sub = ipc.subscribeToIoTCore('defender-edge/#', 0, async (m) => {
      n++;
      if (m.payload.toString() === 'throw') throw new Error('handler bug');
      if (m.payload.toString() === 'reject') await Promise.reject(new Error('async handler bug'));
    });
    await until(() => sub.status === 'active');
    for (const p of ['throw', 'reject', 'fine']) emu.cloudPublish('defender-edge/x', p);
    await until(() => n === 3 && ipc.counters().handlerErrors === 2);
    expect(ipc.isConnected()).toBe(true);
  });

  it('configuration validation: verdicts are sent back; a throwing validator rejects', async () => {
    const updates: string[][] = [];
    ipc.subscribeToConfigurationUpdate([], (u) => {
      updates.push(u.keyPath);
    });
    const val = ipc.subscribeToValidateConfigurationUpdates((r) => {
      const interval = (r.configuration.reporting as { intervalSeconds: number }).intervalSeconds;
      if (interval === 13) throw new Error('unlucky');
      return interval >= 300 ? { accepted: true } : { accepted: false, message: 'reporting.intervalSeconds: must be >= 300' };
    });
    await until(() => val.status === 'active' && emu.status().openStreams === 2);
    expect(await emu.changeConfig({ reporting: { intervalSeconds: 5 } })).toEqual({
      applied: false,
      reason: 'reporting.intervalSeconds: must be >= 300',
    });
    expect(await emu.changeConfig({ reporting: { intervalSeconds: 13 } })).toEqual({ applied: false, reason: 'validator failed: unlucky' });
    expect(await emu.changeConfig({ reporting: { intervalSeconds: 600 } })).toMatchObject({ applied: true });
    await until(() => updates.length === 1);
    expect(updates).toEqual([['reporting', 'intervalSeconds']]);
    expect(ipc.counters()).toMatchObject({ validationReports: 3, handlerErrors: 1 });
  });

  it('re-subscribes when the nucleus closes a stream', async () => {
    const got: string[] = [];
    const sub = ipc.subscribeToIoTCore('defender-edge/cmd', 1, (m) => {
      got.push(m.payload.toString());
    });
    await until(() => sub.status === 'active');
    expect(emu.closeStreams()).toBe(1);
    await until(() => ipc.counters().streamsEnded === 1 && sub.status === 'active' && emu.status().openStreams === 1, 5000, 'resubscribed');
    expect(emu.cloudPublish('defender-edge/cmd', 'after')).toBe(1);
    await until(() => got.length === 1);
    expect(got).toEqual(['after']);
  });
});

describe('GreengrassIpcClient without a nucleus', () => {
  it('calls fail fast with not-connected; a bad token keeps retrying with backoff and never connects', async () => {
    const lonely = new GreengrassIpcClient({
      socketPath: join(tmp.dir, 'nobody.sock'),
      authToken: TOKEN,
      backoff: { initialMs: 10, maxMs: 50 },
    });
    extra.push(lonely);
    lonely.start();
    await expect(lonely.updateState('RUNNING')).rejects.toMatchObject({ kind: 'not-connected' });
    const badToken = new GreengrassIpcClient({ socketPath: emu.socketPath, authToken: 'WRONG', backoff: { initialMs: 10, maxMs: 50 } });
    extra.push(badToken);
    badToken.start();
    await expect(badToken.whenConnected(300)).rejects.toMatchObject({ kind: 'timeout' });
    await until(() => badToken.counters().connectFailures >= 2 && lonely.counters().connectFailures >= 2);
    expect(badToken.isConnected()).toBe(false);
    await badToken.stop();
    await expect(badToken.whenConnected()).rejects.toMatchObject({ kind: 'stopped' });
  });
});
