import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// The client layer survives the nucleus going away: the emulator runs as a child process, is killed
// with SIGKILL (stale socket file left behind) and restarted; the client reconnects with backoff and
// re-establishes every subscription.
import { afterEach, describe, expect, it } from 'vitest';
import { GreengrassIpcClient } from '../../src/ipc/ipcClient.ts';
import { type EmulatorProcess, killEmulator, spawnEmulator, tempDir } from '../support/ipc.ts';
import { until } from '../support/until.ts';

const TOKEN = 'RECONNECTTEST001';
const procs: EmulatorProcess[] = [];
const cleanups: (() => void)[] = [];
let ipc: GreengrassIpcClient | undefined;

afterEach(async () => {
  await ipc?.stop();
  for (const p of procs.splice(0)) await killEmulator(p);
  for (const c of cleanups.splice(0)) c();
});

describe('reconnect', () => {
  it('reconnects after the emulator is killed and restarted, and resubscribes everything', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const socket = join(tmp.dir, 'ipc.sock');
    // An explicit recipe: the emulator would otherwise pick up the project's own recipe.yaml from the cwd.
    const args = [
      '--socket',
      socket,
      '--token',
      TOKEN,
      '--thing',
      'gw1',
      '--recipe',
      fileURLToPath(new URL('../fixtures/recipe.test-component.yaml', import.meta.url)),
    ];
    const first = spawnEmulator(args);
    procs.push(first);
    await first.ready;

    ipc = new GreengrassIpcClient({ socketPath: socket, authToken: TOKEN, backoff: { initialMs: 20, maxMs: 300 } });
    const events: string[] = [];
    ipc.on('connected', () => events.push('connected'));
    ipc.on('disconnected', () => events.push('disconnected'));
    const cloud: string[] = [];
    const local: unknown[] = [];
    const subs = [
      ipc.subscribeToIoTCore('defender-edge/gw1/cmd', 1, (m) => {
        cloud.push(m.payload.toString());
      }),
      ipc.subscribeToTopic('downstream/reports', (m) => {
        local.push(m.kind === 'json' ? m.value : null);
      }),
    ];
    ipc.start();
    await ipc.whenConnected(5000);
    await until(() => subs.every((s) => s.status === 'active'), 5000, 'subscriptions');
    expect(await first.send('cloud-publish defender-edge/gw1/cmd {"n":1}')).toEqual({ ok: true, delivered: 1 });
    // "delivered" means queued for the client's socket (the emulator writes once per event-loop turn): wait for
    // the message to arrive before killing the emulator, or the kill can take it with it.
    await until(() => cloud.length === 1, 5000, 'first message');

    first.child.kill('SIGKILL');
    await first.exited;
    await until(() => events.includes('disconnected'), 5000, 'disconnected event');
    expect(ipc.isConnected()).toBe(false);
    await expect(ipc.publishToIoTCore('defender-edge/gw1/heartbeat', 'x', 1)).rejects.toMatchObject({ kind: 'not-connected' });
    // let a few reconnect attempts fail against the dead (stale) socket
    await until(() => ipc!.counters().connectFailures >= 2, 5000, 'failed attempts');

    const second = spawnEmulator(args);
    procs.push(second);
    await second.ready;
    await ipc.whenConnected(10_000);
    await until(() => subs.every((s) => s.status === 'active'), 5000, 'resubscribed');
    expect(await second.send('cloud-publish defender-edge/gw1/cmd {"n":2}')).toEqual({ ok: true, delivered: 1 });
    expect(await second.send('local-publish downstream/reports {"dev":"d1"}')).toEqual({ ok: true, delivered: 1 });
    await until(() => cloud.length === 2 && local.length === 1, 5000, 'messages after restart');
    expect(cloud).toEqual(['{"n":1}', '{"n":2}']);
    expect(local).toEqual([{ dev: 'd1' }]);
    await ipc.publishToIoTCore('defender-edge/gw1/heartbeat', 'back', 1);
    expect(await second.send('status')).toMatchObject({ clients: 1, recordsWritten: 1 });
    expect(events).toEqual(['connected', 'disconnected', 'connected']);
    expect(ipc.counters()).toMatchObject({ connects: 2, disconnects: 1 });
  });
});
