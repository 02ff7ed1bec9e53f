// Fault test, disk full: the agent's state directory is a small tmpfs this test mounts (and
// unmounts). With the disk full the agent says so clearly (outbox diskError ENOSPC, persisted state not
// written), keeps reporting, and keeps ENFORCING: a downstream device's violation still blocks its
// address in a real nft table inside a network namespace the test created. When space returns, the
// outbox writes its held messages to disk again and enforcement state is persisted again.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.ts';
import type { ActionRecord } from '../../src/enforce/actionModel.ts';
import { GreengrassEmulator } from '../../src/ipc/emulator/emulator.ts';
import { silentLogger } from '../../src/log.ts';
import { createNetns, deleteNetns, inNs, nftRuleset } from '../support/netns.ts';
import { requires, root } from '../support/requirements.ts';
import { uniqueId } from '../support/uniqueId.ts';
import { until } from '../support/until.ts';

const RECIPE = fileURLToPath(new URL('../../recipe.yaml', import.meta.url));
const TOKEN = 'DISKFULLTESTTOKN';
const GW = 'GatewayThing';
const id = uniqueId();
const table = `${id}_t`;

let work: string;
let mnt: string;
let mounted = false;
/** one namespace of our own: the agent's collector and nft run in it (a device address needs no route to be blocked) */
let ns: string | undefined;
const DEV1 = '192.0.2.10';
const DEV2 = '192.0.2.11';
let emulator: GreengrassEmulator | undefined;
let agent: Agent | undefined;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'dedge-full-'));
  mnt = join(work, 'state');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', `${id}fs`, mnt]);
  mounted = true;
  createNetns(`${id}g`);
  ns = `${id}g`;
});

afterAll(async () => {
  await agent?.stop();
  await emulator?.stop();
  if (ns) {
    try {
      inNs(ns, 'nft', ['delete', 'table', 'inet', table]);
    } catch {
      /* not created */
    }
    deleteNetns(ns);
  }
  if (mounted) {
    try {
      execFileSync('umount', [mnt]);
    } catch {
      execFileSync('umount', ['-l', mnt]);
    }
  }
  rmSync(work, { recursive: true, force: true });
});

/** Fill the filesystem until it refuses (ENOSPC); returns the filler files. */
function fillDisk(dir: string): string[] {
  const files: string[] = [];
  for (const size of [256 * 1024, 16 * 1024, 1024, 64]) {
    for (let i = 0; ; i++) {
      const f = join(dir, `filler-${size}-${i}`);
      try {
        writeFileSync(f, Buffer.alloc(size, 1));
        files.push(f);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        try {
          unlinkSync(f);
        } catch {
          /* never created */
        }
        break;
      }
    }
  }
  return files;
}

const report = (rid: number, ports: number[]) =>
  Buffer.from(
    JSON.stringify({
      header: { report_id: rid, version: '1.0' },
      metrics: { listening_tcp_ports: { ports: ports.map((port) => ({ port })), total: ports.length } },
    }),
  );

describe('disk full', requires(root), () => {
  it('says so, keeps reporting and enforcing, and recovers when space returns', async () => {
    const record = join(work, 'cloud.jsonl');
    emulator = new GreengrassEmulator({
      socketPath: join(work, 'ipc.sock'),
      recipe: RECIPE,
      token: TOKEN,
      thingName: GW,
      recordFile: record,
      overrides: {
        stateDir: join(mnt, 'agent'),
        sampling: { intervalMs: 200 },
        heartbeat: { enabled: false },
        collector: { perProcess: false, customMetrics: false, tcpBytes: false },
        enforcement: { mode: 'enforce', nftTable: table },
        downstream: {
          devices: [
            { thingName: 'Dev1', addresses: [DEV1] },
            { thingName: 'Dev2', addresses: [DEV2] },
          ],
        },
        behaviors: [
          {
            name: 'noSsh',
            metric: 'aws:listening-tcp-ports',
            criteria: { comparisonOperator: 'not-in-port-set', value: { ports: [22] } },
            edge: { scope: { devices: true }, action: { type: 'address-block', ttlSeconds: 120 } },
          },
        ],
      },
    });
    await emulator.start();
    agent = new Agent({
      socketPath: join(work, 'ipc.sock'),
      authToken: TOKEN,
      thingName: GW,
      bootstrapStateDir: join(mnt, 'boot'),
      logger: silentLogger(),
      reportIntervalOverrideSeconds: 1,
      connectWaitMs: 30_000,
      netns: ns!,
    });
    const actions: ActionRecord[] = [];
    agent.on('action', (r) => actions.push(r));
    await agent.start();
    const hostReports = () =>
      existsSync(record)
        ? readFileSync(record, 'utf8')
            .split('\n')
            .filter((l) => l.includes(`"$aws/things/${GW}/defender/metrics/json"`)).length
        : 0;
    await until(() => hostReports() > 0, 20_000, 'a report before the disk fills');
    await until(() => emulator!.status().openStreams > 3, 5000, 'subscriptions');

    // The disk fills up.
    const fillers = fillDisk(mnt);
    expect(fillers.length).toBeGreaterThan(0);
    const reportsAtFull = hostReports();

    // Clear error, and reports still reach the cloud (held in memory while the disk refuses).
    await until(() => agent!.snapshot().outbox.diskError, 10_000, 'the outbox disk error');
    expect(agent.snapshot().outbox.diskError).toMatch(/ENOSPC/);
    await until(() => hostReports() > reportsAtFull + 1, 10_000, 'reports while the disk is full');

    // Enforcement goes on: Dev1 opens port 22 → its address is blocked in the kernel. (The agent frees
    // space itself now and then — an outbox segment deleted, a file renamed over — so fill up again first.)
    fillers.push(...fillDisk(mnt));
    emulator.publishLocal('$aws/things/Dev1/defender/metrics/json', report(9001, [22]));
    const applied = await until(
      () => actions.find((a) => a.outcome === 'applied' && a.violation.thingName === 'Dev1'),
      10_000,
      'the block on Dev1',
    );
    expect(applied.dryRun).toBe(false);
    expect(nftRuleset(ns!)).toContain(DEV1);
    const statePath = join(mnt, 'agent', 'enforcement', 'active.json');

    // Space returns: the outbox writes to disk again, and the next enforcement change persists everything.
    for (const f of new Set(fillers)) rmSync(f, { force: true });
    emulator.setOnline(false); // so something must be held: on disk this time
    await until(
      () => agent!.snapshot().outbox.depth > 0 && agent!.snapshot().outbox.diskError === undefined,
      10_000,
      'the outbox writing to disk again',
    );
    expect(readdirSync(join(mnt, 'agent', 'outbox')).some((f) => f.startsWith('seg-'))).toBe(true);
    emulator.publishLocal('$aws/things/Dev2/defender/metrics/json', report(9002, [22]));
    await until(() => actions.find((a) => a.outcome === 'applied' && a.violation.thingName === 'Dev2'), 10_000, 'the block on Dev2');
    await until(() => existsSync(statePath) && readFileSync(statePath, 'utf8').includes(DEV2), 5000, 'the state persisted again');
    const persisted = readFileSync(statePath, 'utf8');
    expect(persisted).toContain(DEV1);
    expect(persisted).toContain(DEV2);
    expect(nftRuleset(ns!)).toContain(DEV1);
    emulator.setOnline(true);
    await until(() => agent!.snapshot().outbox.depth === 0, 20_000, 'the held messages delivered');
  }, 90_000);
});
