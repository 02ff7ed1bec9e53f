// The demo's cast as real child processes (src/demo/actors.ts), started from this same program
// (selfCommand.ts), each watched until it stops: exit seen by the parent, or — for a suspended process —
// state T in /proc/PID/stat. Only processes started here are ever signalled, by pid.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { selfCommand } from '../selfCommand.ts';
import { readProcStat } from '../system/procfs.ts';

export type ActorRole = 'rogue-agent' | 'tcp-streamer' | 'innocent' | 'device';

const COMMAND: Record<ActorRole, string> = {
  'rogue-agent': '_rogue-agent',
  'tcp-streamer': '_tcp-streamer',
  innocent: '_innocent',
  device: '_device',
};

export interface Actor {
  role: ActorRole;
  pid: number;
  child: ChildProcess;
  /** ms since the epoch */
  startedAt: number;
  /** when the parent saw it exit (ms since the epoch) */
  exitedAt?: number;
  exitCode?: number | null;
  exitSignal?: NodeJS.Signals | null;
  /** first moment it was seen stopped: exited, or state T (SIGSTOP) in /proc */
  stoppedAt?: number;
  stoppedHow?: 'exited' | 'suspended';
  /** JSON lines it printed (its announcements) */
  lines: Array<Record<string, unknown>>;
  /** its last stderr lines, for diagnostics */
  stderr: string[];
}

/** /proc/PID/stat state letter, or null when the process is gone. */
export function procState(pid: number): string | null {
  return readProcStat(pid)?.state ?? null;
}

export function isRunning(actor: Actor): boolean {
  if (actor.exitedAt !== undefined) return false;
  const state = procState(actor.pid);
  return state !== null && state !== 'Z' && state !== 'X' && state !== 'T' && state !== 't';
}

export interface SpawnOptions {
  /** how long to wait for its first announcement line before giving up */
  readyTimeoutMs?: number;
  /** poll /proc for state T every this many ms (only needed when the action is a SIGSTOP) */
  stopPollMs?: number;
  now?: () => number;
  /** called as soon as the pid is known, before it is ready (it may already be sending) */
  onSpawn?: (actor: Actor) => void;
  /** every JSON line it prints */
  onLine?: (actor: Actor, line: Record<string, unknown>) => void;
}

/** Start one actor and wait until it announces itself (connected/started); rejects if it dies first. */
export async function spawnActor(role: ActorRole, args: readonly string[], options: SpawnOptions = {}): Promise<Actor> {
  const now = options.now ?? Date.now;
  const cmd = selfCommand([COMMAND[role], ...args]);
  const child = spawn(cmd.file, cmd.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) {
    const err = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`${role}: could not start: ${err.message}`);
  }
  const actor: Actor = { role, pid: child.pid, child, startedAt: now(), lines: [], stderr: [] };
  options.onSpawn?.(actor);
  const stopped = (t: number, how: 'exited' | 'suspended') => {
    if (actor.stoppedAt !== undefined) return;
    actor.stoppedAt = t;
    actor.stoppedHow = how;
  };
  child.once('exit', (code, signal) => {
    actor.exitedAt = now();
    actor.exitCode = code;
    actor.exitSignal = signal;
    stopped(actor.exitedAt, 'exited');
  });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    actor.stderr.push(line);
    if (actor.stderr.length > 20) actor.stderr.shift();
  });
  if (options.stopPollMs !== undefined) {
    const timer = setInterval(() => {
      if (actor.exitedAt !== undefined) return clearInterval(timer);
      const state = procState(actor.pid);
      if (state === 'T' || state === 't' || state === null) {
        stopped(now(), state === null ? 'exited' : 'suspended');
        clearInterval(timer);
      }
    }, options.stopPollMs);
    timer.unref();
  }
  const ready = new Promise<void>((resolve, reject) => {
    const timeout = setTimeout(
      () =>
        reject(
          new Error(
            `${role} (pid ${actor.pid}) did not announce itself within ${options.readyTimeoutMs ?? 10_000} ms; stderr: ${actor.stderr.join(' | ')}`,
          ),
        ),
      options.readyTimeoutMs ?? 10_000,
    );
    child.once('exit', (code) => {
      clearTimeout(timeout);
      reject(new Error(`${role} (pid ${actor.pid}) exited with ${code} before it was ready; stderr: ${actor.stderr.join(' | ')}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let doc: unknown;
      try {
        doc = JSON.parse(line);
      } catch {
        return; // not an announcement
      }
      if (typeof doc !== 'object' || doc === null) return;
      actor.lines.push(doc as Record<string, unknown>);
      options.onLine?.(actor, doc as Record<string, unknown>);
      const d = doc as { connected?: unknown; started?: unknown };
      if (d.connected === true || d.started === true) {
        clearTimeout(timeout);
        resolve();
      }
    });
  });
  try {
    await ready;
  } catch (err) {
    await stopActor(actor);
    throw err;
  }
  return actor;
}

/** SIGCONT (it may be suspended), SIGTERM, then SIGKILL after graceMs. Resolves once it has exited. */
export async function stopActor(actor: Actor, graceMs = 2000): Promise<void> {
  if (actor.exitedAt !== undefined || actor.child.exitCode !== null || actor.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => actor.child.once('exit', () => resolve()));
  actor.child.kill('SIGCONT');
  actor.child.kill('SIGTERM');
  const timer = setTimeout(() => actor.child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
