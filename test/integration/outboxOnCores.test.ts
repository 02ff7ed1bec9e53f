// The outbox over the real IPC client against the two ways a core treats PublishToIoTCore while its cloud
// connection is down: nucleus lite refuses it (no spooler), a nucleus that does not answer holds it. Either
// way nothing is lost, the messages wait on disk, the calls in flight stay bounded, and everything arrives
// in order once the core is online.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { GreengrassEmulator, type GreengrassEmulatorOptions } from '../../src/ipc/emulator/emulator.ts';
import { GreengrassIpcClient } from '../../src/ipc/ipcClient.ts';
import { Outbox } from '../../src/ipc/outbox.ts';
import { silentLogger } from '../../src/log.ts';
import { until } from '../support/until.ts';

const RECIPE = fileURLToPath(new URL('../../recipe.yaml', import.meta.url));
const TOKEN = 'OUTBOXTESTTOKEN1';
const N = 60;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(options: Partial<GreengrassEmulatorOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'dedge-obc-'));
  const record = join(dir, 'cloud.jsonl');
  const nucleus = new GreengrassEmulator({
    nucleus: 'lite',
    socketPath: join(dir, 'ipc.sock'),
    recipe: RECIPE,
    token: TOKEN,
    recordFile: record,
    offline: true,
    ...options,
  });
  await nucleus.start();
  const ipc = new GreengrassIpcClient({ socketPath: join(dir, 'ipc.sock'), authToken: TOKEN, callTimeoutMs: 300 });
  ipc.start();
  await ipc.whenConnected(5000);
  const outbox = new Outbox({
    dir: join(dir, 'outbox'),
    maxEntries: 1000,
    maxBytes: 1 << 20,
    publish: (topic, payload, qos) => ipc.publishToIoTCore(topic, payload, qos),
    logger: silentLogger(),
    initialBackoffMs: 20,
    maxBackoffMs: 200,
    replayBytes: 0,
  });
  cleanups.push(async () => {
    outbox.stop();
    await ipc.stop();
    await nucleus.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const cloud = (): number[] =>
    existsSync(record)
      ? readFileSync(record, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => Number(/^defender-edge\/Gw\/violations\/(\d+)$/.exec((JSON.parse(l) as { topic: string }).topic)?.[1]))
      : [];
  const fill = () => {
    for (let n = 1; n <= N; n++)
      outbox.enqueue({ kind: 'violation', topic: `defender-edge/Gw/violations/${n}`, payload: JSON.stringify({ n }), encoding: 'utf8' });
  };
  return { nucleus, outbox, cloud, fill };
}

// The recipe's accessControl names `defender-edge/+/violations`; these tests publish one level deeper.
const wideOpen = {
  accessControl: {
    'aws.greengrass.ipc.mqttproxy': {
      'test:publish': { operations: ['aws.greengrass#PublishToIoTCore'], resources: ['defender-edge/#'] },
    },
  },
};

describe('outbox on the cores', () => {
  it('nucleus lite refuses publishes while offline: kept on disk, retried with backoff until accepted, in order', async () => {
    const { nucleus, outbox, cloud, fill } = await rig({ overrides: wideOpen });
    outbox.start();
    fill();
    await until(() => outbox.stats().failures >= 3, 10_000, 'refusals');
    const asked = nucleus.requestCount('PublishToIoTCore');
    expect(outbox.stats()).toMatchObject({ depth: N, rejected: 0, droppedTotal: 0 });
    expect(asked).toBeLessThan(3 * 32); // after the first refusal, one at a time
    nucleus.setOnline(true);
    await until(() => outbox.stats().depth === 0, 20_000, 'drained');
    expect(cloud()).toEqual(Array.from({ length: N }, (_, i) => i + 1));
  });

  it('a nucleus that holds publishes: each call ends at the call timeout, at most 32 are ever in flight, then one', async () => {
    let holding = true;
    const { nucleus, outbox, cloud, fill } = await rig({
      overrides: wideOpen,
      offline: false,
      hold: (op) => holding && op === 'PublishToIoTCore',
    });
    outbox.start();
    fill();
    let maxHeld = 0;
    await until(
      () => {
        maxHeld = Math.max(maxHeld, nucleus.heldCount());
        return outbox.stats().failures >= 3;
      },
      15_000,
      'timeouts',
      5,
    );
    expect(maxHeld).toBeLessThanOrEqual(32);
    expect(nucleus.heldCount()).toBeLessThanOrEqual(1); // timed-out calls are cancelled, not left to pile up
    holding = false;
    await until(() => outbox.stats().depth === 0, 20_000, 'drained');
    expect(cloud()).toEqual(Array.from({ length: N }, (_, i) => i + 1));
  });
});
