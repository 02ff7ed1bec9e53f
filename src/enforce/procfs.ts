// What enforcement reads from /proc and the cgroup v2 tree: a process's identity (for the rails and for
// pid-reuse protection) and the members of a cgroup (for the freeze guard). Synchronous on purpose: each
// read is a few µs and the process backend must signal within the same tick it decided in.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export interface ProcessInfo {
  pid: number;
  comm: string;
  /** /proc/PID/exe target; absent for kernel threads or when unreadable */
  exe?: string;
  /** argv joined with spaces (NULs replaced) */
  cmdline: string;
  ppid: number;
  /** single-letter state (R, S, D, T, t, Z, …) */
  state: string;
  /** /proc/PID/stat field 22, clock ticks since boot: with pid, names one process across pid reuse */
  startTime: number;
  kernelThread: boolean;
  /** cgroup v2 path (`0::` line), when present */
  cgroup?: string;
}

const PF_KTHREAD = 0x00200000;

/** Parse /proc/PID/stat; comm may hold spaces and parentheses, so split after the last `)`. */
export function parseStat(text: string): { comm: string; state: string; ppid: number; flags: number; startTime: number } | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const rest = text.slice(close + 2).split(' ');
  const state = rest[0];
  const ppid = Number(rest[1]);
  const flags = Number(rest[6]);
  const startTime = Number(rest[19]);
  if (state === undefined || !Number.isInteger(ppid) || !Number.isFinite(flags) || !Number.isInteger(startTime)) return null;
  return { comm: text.slice(open + 1, close), state, ppid, flags, startTime };
}

/** Stat fields only (cheap): used for the identity check right before a signal. */
export function readStat(pid: number, procRoot = '/proc'): ReturnType<typeof parseStat> {
  try {
    return parseStat(readFileSync(`${procRoot}/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** Everything the rails look at; null when the process does not exist (any more). */
export function readProcessInfo(pid: number, procRoot = '/proc'): ProcessInfo | null {
  const stat = readStat(pid, procRoot);
  if (stat === null) return null;
  const info: ProcessInfo = {
    pid,
    comm: stat.comm,
    cmdline: '',
    ppid: stat.ppid,
    state: stat.state,
    startTime: stat.startTime,
    kernelThread: (stat.flags & PF_KTHREAD) !== 0,
  };
  try {
    info.cmdline = readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
  } catch {
    /* gone or unreadable: the rails treat missing data conservatively */
  }
  try {
    info.exe = readlinkSync(`${procRoot}/${pid}/exe`);
  } catch {
    /* kernel thread, zombie, or no permission */
  }
  try {
    const line = readFileSync(`${procRoot}/${pid}/cgroup`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    if (line !== undefined) info.cgroup = line.slice(3);
  } catch {
    /* no cgroup v2 */
  }
  return info;
}

/** Has the process ended? (gone, or a zombie waiting for its parent to reap it) */
export function hasExited(pid: number, startTime: number, procRoot = '/proc'): boolean {
  const stat = readStat(pid, procRoot);
  return stat === null || stat.startTime !== startTime || stat.state === 'Z' || stat.state === 'X';
}

/** pid, its parent, grandparent … up to (excluding) 0. Bounded so a corrupt /proc cannot loop. */
export function readAncestry(pid: number, procRoot = '/proc'): ProcessInfo[] {
  const chain: ProcessInfo[] = [];
  let current = pid;
  for (let i = 0; i < 256 && current > 0; i++) {
    const info = readProcessInfo(current, procRoot);
    if (info === null) break;
    chain.push(info);
    current = info.ppid;
  }
  return chain;
}

/** Where cgroup2 is mounted (`/sys/fs/cgroup` on unified hosts, `/sys/fs/cgroup/unified` on hybrid ones). */
export function findCgroup2Mount(mountinfoPath = '/proc/self/mountinfo'): string | null {
  let text: string;
  try {
    text = readFileSync(mountinfoPath, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    // mountinfo: id parent maj:min root mountpoint options [optional…] - fstype source superopts
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fstype = line.slice(sep + 3).split(' ')[0];
    if (fstype !== 'cgroup2') continue;
    const fields = line.slice(0, sep).split(' ');
    const root = fields[3];
    const mountPoint = fields[4];
    if (root === '/' && mountPoint !== undefined) return mountPoint.replace(/\\040/g, ' ');
  }
  return null;
}

/** Every pid in a cgroup and all its descendants (what cgroup.freeze would freeze). */
export function listCgroupSubtreePids(dir: string, limit = 100_000): number[] {
  const pids: number[] = [];
  const walk = (d: string, depth: number): void => {
    if (depth > 64 || pids.length >= limit) return;
    try {
      for (const line of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) {
        if (line !== '') pids.push(Number(line));
      }
    } catch {
      /* removed while we looked */
    }
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(d, e.name), depth + 1);
  };
  walk(dir, 0);
  return pids;
}
