// The /proc and cgroup v2 readers the collector and enforcement share (proc(5), cgroups(7)): per-process
// stat and cgroup files, fd links, the boot id, the cgroup2 mount, a cgroup's members and whether it is
// frozen. The parsers are pure; the readers are synchronous on purpose: each read is a few µs, and the
// process backend must signal within the same tick it decided in.
import { type Dirent, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export interface ProcStat {
  pid: number;
  comm: string;
  /** single-letter state (R, S, D, T, t, Z, …) */
  state: string;
  ppid: number;
  /** kernel flags (PF_*) */
  flags: number;
  /** user and system CPU time, clock ticks; cutime/cstime: of its waited-for children */
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  /** field 22, clock ticks since boot: with pid, names one process across pid reuse */
  startTime: number;
}

/**
 * /proc/PID/stat: `pid (comm) state ppid …`. comm may itself hold spaces and ')' — it ends at the LAST
 * ')' of the line; field N after it is rest[N - 3].
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 2).split(' ');
  const state = rest[3 - 3];
  const ppid = Number(rest[4 - 3]);
  const flags = Number(rest[9 - 3]);
  const utime = Number(rest[14 - 3]);
  const stime = Number(rest[15 - 3]);
  const cutime = Number(rest[16 - 3]);
  const cstime = Number(rest[17 - 3]);
  const startTime = Number(rest[22 - 3]);
  const counts = [ppid, utime, stime, cutime, cstime, startTime];
  if (!Number.isInteger(pid) || pid <= 0 || state === undefined || state === '' || !Number.isFinite(flags)) return undefined;
  if (!counts.every((n) => Number.isInteger(n))) return undefined;
  return { pid, comm: text.slice(open + 1, close), state, ppid, flags, utime, stime, cutime, cstime, startTime };
}

/** /proc/PID/stat of one process; undefined when it does not exist (any more). */
export function readProcStat(pid: number, procRoot = '/proc'): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`${procRoot}/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Has the process ended? (gone, or a zombie waiting for its parent to reap it) */
export function hasExited(pid: number, startTime: number, procRoot = '/proc'): boolean {
  const stat = readProcStat(pid, procRoot);
  return stat === undefined || stat.startTime !== startTime || stat.state === 'Z' || stat.state === 'X';
}

/**
 * /proc/PID/cgroup: the cgroup v2 line is `0::/path` (what a cgroup-v2 freeze acts on). On a hybrid
 * v1/v2 host the v2 hierarchy may be empty ("/") while v1 controllers hold the real placement; `v1` is
 * the first named hierarchy's path, for display when there is no v2 line at all.
 */
export function parseProcCgroup(text: string): { v2?: string; v1?: string } {
  const out: { v2?: string; v1?: string } = {};
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const path = line.slice(second + 1);
    if (line.slice(0, first) === '0' && second === first + 1) {
      out.v2 ??= path;
    } else out.v1 ??= path;
  }
  return out;
}

/** /proc/PID/cgroup of one process, parsed; undefined when unreadable (gone, or no permission). */
export function readProcCgroup(pid: number, procRoot = '/proc'): { v2?: string; v1?: string } | undefined {
  try {
    return parseProcCgroup(readFileSync(`${procRoot}/${pid}/cgroup`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** `socket:[12345]` (readlink of /proc/PID/fd/N) → 12345; anything else → 0. */
export function socketInodeOfLink(link: string): number {
  if (!link.startsWith('socket:[') || !link.endsWith(']')) return 0;
  const n = Number(link.slice(8, -1));
  return Number.isInteger(n) && n > 0 ? n : 0;
}

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

/** Everything the enforcement rails look at; null when the process does not exist (any more). */
export function readProcessInfo(pid: number, procRoot = '/proc'): ProcessInfo | null {
  const stat = readProcStat(pid, procRoot);
  if (stat === undefined) return null;
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
  const cgroup = readProcCgroup(pid, procRoot)?.v2;
  if (cgroup !== undefined) info.cgroup = cgroup;
  return info;
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

/** This boot's id (proc(5) /proc/sys/kernel/random/boot_id); undefined where it cannot be read. */
export function readBootId(path = '/proc/sys/kernel/random/boot_id'): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
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

/**
 * Whether a cgroup v2 directory is frozen: its cgroup.events says "frozen 1" once every process of the
 * subtree is (Documentation/admin-guide/cgroup-v2.rst); undefined when the cgroup does not exist (any more).
 */
export function readCgroupFrozen(dir: string): boolean | undefined {
  try {
    return /^frozen 1$/m.test(readFileSync(join(dir, 'cgroup.events'), 'utf8'));
  } catch {
    return undefined;
  }
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
    let entries: Dirent[];
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
