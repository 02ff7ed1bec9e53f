// Subscription retries of the IPC client (real SDK, real socket): bounded, re-armed only by a new connection
// or, for SubscribeToIoTCore, by a PublishToIoTCore the core accepted; a subscribe the nucleus holds (the
// Java nucleus while the core is offline) is waited for, not cancelled and asked again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { GreengrassEmulator, type GreengrassEmulatorOptions } from '../../src/ipc/emulator/emulator.ts';
import { GreengrassIpcClient } from '../../src/ipc/ipcClient.ts';
import { until } from '../support/until.ts';

const RECIPE = fileURLToPath(new URL('../../recipe.yaml', import.meta.url));
const TOKEN = 'RETRYTESTTOKEN01';
const TOPIC = '$aws/things/Gw/defender/metrics/+/rejected';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(options: Partial<GreengrassEmulatorOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'dedge-retry-'));
  const socketPath = join(dir, 'ipc.sock');
  // Nucleus lite unless a test says otherwise; the core's cloud connection starts down.
  const make = () => new GreengrassEmulator({ nucleus: 'lite', socketPath, recipe: RECIPE, token: TOKEN, offline: true, ...options });
  let nucleus = make();
  await nucleus.start();
  const ipc = new GreengrassIpcClient({
    socketPath,
    authToken: TOKEN,
    backoff: { initialMs: 20, maxMs: 100 },
    callTimeoutMs: 300,
    maxSubscribeAttempts: 3,
    rearmMinIntervalMs: 60_000,
  });
  const gaveUp: string[] = [];
  ipc.on('subscriptionGaveUp', (d, e) => gaveUp.push(`${d}: ${e.message}`));
  ipc.start();
  await ipc.whenConnected(5000);
  cleanups.push(async () => {
    await ipc.stop();
    await nucleus.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    ipc,
    gaveUp,
    nucleus: () => nucleus,
    /** the nucleus goes away and comes back (a new connection) */
    restart: async () => {
      await nucleus.stop();
      nucleus = make();
      await nucleus.start();
    },
  };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('subscription retries', () => {
  it('a refused subscription is tried maxSubscribeAttempts times, then given up (said once) until a publish shows the cloud is back', async () => {
    const { ipc, gaveUp, nucleus } = await rig();
    const sub = ipc.subscribeToIoTCore(TOPIC, 1, () => undefined);
    await until(() => sub.gaveUp, 5000, 'giving up');
    await settle(500);
    expect(nucleus().requestCount('SubscribeToIoTCore')).toBe(3);
    expect(sub.status).toBe('failed');
    expect(sub.lastError).toBe(`SubscribeToIoTCore ${TOPIC}: Failed to bind the subscription.`);
    expect(gaveUp).toEqual([`SubscribeToIoTCore ${TOPIC}: SubscribeToIoTCore ${TOPIC}: Failed to bind the subscription.`]);
    expect(ipc.counters().subscriptionsGivenUp).toBe(1);

    // A refused publish is no sign of the cloud; an accepted one re-arms (once per interval).
    await expect(ipc.publishToIoTCore('defender-edge/Gw/violations', '{}', 1)).rejects.toThrow(/Failed to publish/);
    expect(nucleus().requestCount('SubscribeToIoTCore')).toBe(3);
    nucleus().setOnline(true);
    await ipc.publishToIoTCore('defender-edge/Gw/violations', '{}', 1);
    await until(() => sub.status === 'active', 5000, 'active after the re-arm');
    expect(nucleus().requestCount('SubscribeToIoTCore')).toBe(4);
  });

  it('a new connection re-arms a subscription that gave up', async () => {
    const { ipc, nucleus, restart } = await rig();
    const sub = ipc.subscribeToIoTCore(TOPIC, 1, () => undefined);
    await until(() => sub.gaveUp, 5000, 'giving up');
    await restart();
    nucleus().setOnline(true);
    await until(() => sub.status === 'active', 10_000, 'active on the new connection');
    expect(sub.gaveUp).toBe(false);
    expect(nucleus().requestCount('SubscribeToIoTCore')).toBe(1);
  });

  it('a subscribe the Java nucleus holds while the core is offline is waited for past the call timeout, with one request in flight', async () => {
    const { ipc, nucleus } = await rig({ nucleus: 'classic' });
    const sub = ipc.subscribeToIoTCore(TOPIC, 1, () => undefined);
    await until(() => sub.lastError?.includes('still waiting'), 5000, 'the call timeout passing');
    await settle(1000); // more than three call timeouts
    expect(nucleus().requestCount('SubscribeToIoTCore')).toBe(1);
    expect(nucleus().status().openStreams).toBe(1); // that one request, still unanswered
    expect(sub.status).toBe('pending');
    nucleus().setOnline(true); // the nucleus answers it once connected
    await until(() => sub.status === 'active', 5000, 'active once answered');
    expect(sub.lastError).toBeUndefined();
  });

  it('other subscriptions are still cancelled at the call timeout and retried a bounded number of times', async () => {
    const { ipc, nucleus } = await rig({ hold: (op) => op === 'SubscribeToTopic' });
    const sub = ipc.subscribeToTopic('defender-edge/health', () => undefined);
    await until(() => sub.gaveUp, 10_000, 'giving up');
    expect(sub.lastError).toMatch(/no answer within 300 ms/);
    await settle(500);
    expect(nucleus().requestCount('SubscribeToTopic')).toBe(3);
    expect(nucleus().heldCount()).toBe(0); // every timed-out request was cancelled, none piles up
  });
});
