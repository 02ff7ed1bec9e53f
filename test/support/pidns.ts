// Private pid namespaces for tests that stop processes (or run an enforcing agent): `unshare --pid --fork
// --mount-proc --kill-child=SIGKILL PROGRAM`, optionally inside a network namespace. PROGRAM is the
// namespace's PID 1; when it ends — or unshare, our child, is killed — the kernel ends everything left in
// the namespace, so nothing a test started can outlive it, and whatever runs inside sees (and can act on)
// only the namespace's processes. PROGRAM can be a keeper (nsKeeper.ts) that starts others inside.
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { until } from './until.ts';

export interface PidNs {
  /** `unshare` (or `ip`, exec'd into it): our child */
  child: ChildProcess;
  /** host pid of the namespace's PID 1 (PROGRAM) */
  init: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM to PID 1 (a clean stop, if it handles it), SIGKILL to unshare after timeoutMs: the namespace ends */
  stop: (timeoutMs?: number) => Promise<void>;
}

/** children of a process as this (the host's) pid namespace numbers them */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    const tasks = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
    for (const n of tasks.trim().split(/\s+/)) if (n !== '') out.push(Number(n));
  } catch {
    // gone
  }
  return out;
}

export interface TreeProcess {
  pid: number;
  ppid: number;
  comm: string;
  state: string;
}

/** pid and every live descendant, parents first (host pids). */
export function processTree(pid: number): TreeProcess[] {
  const out: TreeProcess[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    } catch {
      continue;
    }
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.push({ pid: p, ppid: Number(rest[1]), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), state: rest[0]! });
    queue.push(...childrenOf(p));
  }
  return out;
}

export async function startInPidNs(
  argv: string[],
  o: { netns?: string; cwd?: string; env?: NodeJS.ProcessEnv; stdio?: SpawnOptions['stdio'] } = {},
): Promise<PidNs> {
  const unshare = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child=SIGKILL', ...argv];
  const [file, args] = o.netns === undefined ? [unshare[0]!, unshare.slice(1)] : ['ip', ['netns', 'exec', o.netns, ...unshare]];
  const child = spawn(file, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: o.stdio ?? ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  // `ip netns exec` execs unshare in place; unshare forks PROGRAM, the namespace's PID 1.
  const init = await until(() => childrenOf(child.pid!)[0], 10_000, 'PID 1 of the new pid namespace');
  return {
    child,
    init,
    exited,
    stop: async (timeoutMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(init, 'SIGTERM');
      } catch {
        // gone
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
