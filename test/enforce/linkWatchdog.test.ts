import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActiveAction } from '../../src/enforce/actionModel.ts';
import { type EnforcementState, saveEnforcementState } from '../../src/enforce/activeStore.ts';
import { LinkBackend } from '../../src/enforce/linkBackend.ts';
import { runWatchdog, WATCHDOG_GRACE_MS, type WatchdogHandle, watchdogDecision } from '../../src/enforce/linkWatchdog.ts';
import { silentLogger } from '../../src/log.ts';
import type { CommandRunner } from '../../src/system/commandRunner.ts';

const action = (ifname: string, expiresAt: number, over: Partial<ActiveAction> = {}): ActiveAction => ({
  id: `a-${ifname}-${expiresAt}`,
  type: 'interface-down',
  target: { kind: 'interface', ifname },
  backend: 'link',
  appliedAt: expiresAt - 60_000,
  expiresAt,
  escalationLevel: 0,
  revertOnClear: false,
  offenceKey: `device:${ifname}`,
  violation: {
    violationId: 'v1',
    thingName: 'sensor-1',
    behavior: 'b',
    metric: 'aws:all-bytes-out',
    event: 'in-alarm',
    t: expiresAt - 60_000,
    offender: { kind: 'device', thingName: 'sensor-1', addresses: [] },
  },
  ...over,
});
const state = (...actions: ActiveAction[]): EnforcementState => ({ version: 1, actions, offences: {} });

function recordingRunner(): CommandRunner & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    netns: undefined,
    calls,
    run: async (program, args) => {
      calls.push([program, ...args]);
      return '';
    },
  };
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('interface watchdog decision', () => {
  it('restores when nothing keeps that interface down, waits for the latest action that does', () => {
    expect(watchdogDecision(undefined, 'eth1', 1000)).toEqual({ kind: 'restore' });
    expect(watchdogDecision(state(), 'eth1', 1000)).toEqual({ kind: 'restore' });
    expect(watchdogDecision(state(action('eth1', 900)), 'eth1', 1000)).toEqual({ kind: 'restore' });
    expect(watchdogDecision(state(action('eth1', 5000), action('eth1', 9000)), 'eth1', 1000)).toEqual({
      kind: 'wait',
      untilMs: 9000 + WATCHDOG_GRACE_MS,
    });
    // Other interfaces, other action types and dry-run records do not keep this one down.
    expect(
      watchdogDecision(
        state(
          action('eth2', 9000),
          action('eth1', 9000, { type: 'interface-quarantine', backend: 'nft' }),
          action('eth1', 9000, { backend: 'dry-run' }),
        ),
        'eth1',
        1000,
      ),
    ).toEqual({ kind: 'restore' });
  });
});

describe('runWatchdog', () => {
  it('wakes at its time, waits out a newer action found in the state file, then sets the link up once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dedge-wd-'));
    dirs.push(dir);
    const statePath = join(dir, 'active.json');
    const t0 = Date.now();
    saveEnforcementState(statePath, state(action('eth1', t0 + 150)));
    const runner = recordingRunner();
    const done = runWatchdog({ statePath, ifname: 'eth1', atMs: t0 + 20, runner, pollMs: 10 });
    await new Promise((r) => setTimeout(r, 100));
    expect(runner.calls).toEqual([]);
    expect(await done).toBe('restored');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150 + WATCHDOG_GRACE_MS - 5);
    expect(runner.calls).toEqual([['ip', 'link', 'set', 'dev', 'eth1', 'up']]);
  }, 10_000);

  it('exits without touching anything once its state folder is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dedge-wd-'));
    const runner = recordingRunner();
    const done = runWatchdog({ statePath: join(dir, 'active.json'), ifname: 'eth1', atMs: Date.now() + 60_000, runner, pollMs: 10 });
    rmSync(dir, { recursive: true, force: true });
    expect(await done).toBe('state-gone');
    expect(runner.calls).toEqual([]);
  });
});

describe('LinkBackend with a watchdog', () => {
  it('starts one per interface set down (a new one replaces the old), stops it on revert, keeps it on shutdown', async () => {
    const started: Array<{ ifname: string; deadlineMs: number; stopped: boolean }> = [];
    const backend = new LinkBackend({
      runner: recordingRunner(),
      logger: silentLogger(),
      now: () => 1_000_000,
      watchdog: (ifname, deadlineMs): WatchdogHandle => {
        const w = { ifname, deadlineMs, stopped: false };
        started.push(w);
        return {
          stop: () => {
            w.stopped = true;
          },
        };
      },
    });
    const req = { type: 'interface-down' as const, target: { kind: 'interface' as const, ifname: 'eth1' }, ttlMs: 30_000 };
    await backend.apply(req);
    expect(started).toEqual([{ ifname: 'eth1', deadlineMs: 1_030_000, stopped: false }]);
    await backend.apply({ ...req, ttlMs: 10_000 }); // restored after a restart with its remaining time
    expect(started.map((w) => w.stopped)).toEqual([true, false]);
    await backend.revert(req);
    expect(started.map((w) => w.stopped)).toEqual([true, true]);
    await backend.apply(req);
    await backend.shutdown();
    expect(started.at(-1)!.stopped).toBe(false);
  });
});
