// The interface's dead man's switch. A link set down has no kernel timeout (unlike an nft element), so
// if the agent stops and does not come back — killed for good, the component BROKEN, a deployment that
// removed it — the downstream network would stay cut. Each interface-down therefore starts a small
// detached process of this same program that outlives the agent: at the action's deadline (plus a grace
// period, so the agent's own revert normally comes first) it reads the persisted enforcement state, and
// unless an interface-down for that interface is still in force there, sets the link up and exits.
//
// The persisted state is the source of truth, so a watchdog left over from an earlier run never undoes a
// newer action: it waits for that one's deadline instead. A revert by the agent stops its own watchdog.
// A watchdog whose state folder disappeared (a test cleaned up) exits untouched. It runs outside the
// agent's process tree (started through a launcher that exits), because the nucleus stops a component by
// killing the tree; a nucleus whose service stop kills the whole cgroup takes it too, and then the
// agent's next start restores or expires the action from the same state.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { selfCommand } from '../selfCommand.ts';
import type { CommandRunner } from '../system/commandRunner.ts';
import { validateNetnsName } from '../system/netnsName.ts';
import type { EnforcementState } from './activeStore.ts';
import { loadEnforcementState } from './activeStore.ts';
import { validateInterfaceName } from './targetValidation.ts';

/** After the deadline, how long the watchdog leaves the agent to revert by itself. */
export const WATCHDOG_GRACE_MS = 2000;

/** The hidden subcommand that runs a watchdog (src/main.ts). */
export const WATCHDOG_COMMAND = '_link-watchdog';

export type WatchdogDecision = { kind: 'wait'; untilMs: number } | { kind: 'restore' };

/**
 * What the watchdog of `ifname` does at `nowMs`, given the persisted state (undefined: unreadable or
 * missing, which restores: connectivity wins when in doubt).
 */
export function watchdogDecision(state: EnforcementState | undefined, ifname: string, nowMs: number): WatchdogDecision {
  let latest = -Infinity;
  for (const a of state?.actions ?? []) {
    if (a.type === 'interface-down' && a.backend === 'link' && a.target.kind === 'interface' && a.target.ifname === ifname)
      latest = Math.max(latest, a.expiresAt);
  }
  return latest > nowMs ? { kind: 'wait', untilMs: latest + WATCHDOG_GRACE_MS } : { kind: 'restore' };
}

export interface WatchdogRun {
  statePath: string;
  ifname: string;
  /** first wake-up, ms since the epoch */
  atMs: number;
  runner: CommandRunner;
  now?: () => number;
  /** how often it checks that its state folder still exists while it waits */
  pollMs?: number;
}

/** The watchdog process's body; resolves with what it did. */
export async function runWatchdog(o: WatchdogRun): Promise<'restored' | 'state-gone'> {
  const now = o.now ?? Date.now;
  const pollMs = o.pollMs ?? 1000;
  let at = o.atMs;
  for (;;) {
    while (now() < at) {
      if (!existsSync(dirname(o.statePath))) return 'state-gone';
      await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(1, at - now()))));
    }
    if (!existsSync(dirname(o.statePath))) return 'state-gone';
    // Unreadable entries are left out by the loader: what cannot be read cannot keep the link down.
    const state = existsSync(o.statePath) ? loadEnforcementState(o.statePath).state : undefined;
    const d = watchdogDecision(state, o.ifname, now());
    if (d.kind === 'wait') {
      at = d.untilMs;
      continue;
    }
    await o.runner.run('ip', ['link', 'set', 'dev', o.ifname, 'up']);
    return 'restored';
  }
}

export interface WatchdogHandle {
  /** the agent reverted by itself: the watchdog is not needed any more */
  stop(): void;
}

/**
 * Start the watchdog of an interface the agent just set down. It is started through a short-lived
 * launcher (`--detach`) so that it is not the agent's child: the nucleus stops a component by killing
 * its process tree, and a watchdog in that tree would die with the agent it is there to outlive.
 */
export function startWatchdog(o: { statePath: string; ifname: string; deadlineMs: number; netns: string | undefined }): WatchdogHandle {
  const args = watchdogArgs(o);
  const cmd = selfCommand([...args, '--detach']);
  const launcher = spawn(cmd.file, cmd.args, { stdio: ['ignore', 'pipe', 'ignore'] });
  let pid: number | undefined;
  let stopped = false;
  let out = '';
  launcher.on('error', () => {
    /* a watchdog that cannot start leaves the agent's own timers in charge */
  });
  launcher.stdout!.setEncoding('utf8');
  launcher.stdout!.on('data', (chunk: string) => {
    out += chunk;
    const m = /^(\d+)\n/.exec(out);
    if (!m || pid !== undefined) return;
    pid = Number(m[1]);
    if (stopped) stopWatchdog(pid, args);
  });
  launcher.unref();
  return {
    stop: () => {
      stopped = true;
      if (pid !== undefined) stopWatchdog(pid, args);
    },
  };
}

/** The watchdog's own arguments (after the program), as its command line shows them. */
function watchdogArgs(o: { statePath: string; ifname: string; deadlineMs: number; netns: string | undefined }): string[] {
  const ifname = validateInterfaceName(o.ifname, 'target.ifname');
  const args = [
    WATCHDOG_COMMAND,
    '--state',
    resolve(o.statePath),
    '--ifname',
    ifname,
    '--at-ms',
    String(Math.round(o.deadlineMs + WATCHDOG_GRACE_MS)),
  ];
  if (o.netns !== undefined) args.push('--netns', validateNetnsName(o.netns));
  return args;
}

/** SIGTERM to the watchdog we launched, after checking that the pid still runs exactly that command. */
function stopWatchdog(pid: number, args: readonly string[]): void {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!args.every((a, i) => cmdline.at(-args.length - 1 + i) === a)) return; // gone, or the pid was reused
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

/** `_link-watchdog … --detach`: start the real watchdog outside our process tree, print its pid, exit. */
export function launchDetached(watchdogArgv: readonly string[]): number | undefined {
  const cmd = selfCommand([WATCHDOG_COMMAND, ...watchdogArgv]);
  const child = spawn(cmd.file, cmd.args, { detached: true, stdio: 'ignore' });
  child.unref();
  return child.pid;
}
