// Memory and CPU of another process, from /proc (https://docs.kernel.org/filesystems/proc.html):
// RSS and its anonymous part from status, PSS from smaps_rollup, CPU from stat — the process itself (and
// by thread: the JavaScript thread, V8's and libuv's helpers, aws-crt's event loop),
// the children it has reaped (cutime/cstime: short-lived `nft`, `ip`) and the children still running
// (the dedge-sockdiag helper).
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: clock ticks per second of /proc/PID/stat times (100 on every Linux architecture we ship). */
const TICKS_PER_SECOND = 100;

export interface MemoryReading {
  rssMiB: number;
  anonMiB: number;
  pssMiB: number;
}

function kbField(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} field`);
  return Number(m[1]) / 1024;
}

export function memoryOf(pid: number): MemoryReading {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return { rssMiB: kbField(status, 'VmRSS'), anonMiB: kbField(status, 'RssAnon'), pssMiB: kbField(rollup, 'Pss') };
}

function statFields(pid: number): string[] {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ');
}

/** Pids whose parent is `pid`. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (Number(statFields(Number(name))[1]) === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export interface CpuReading {
  /** the process's own user + system time, seconds */
  self: number;
  /** the same by thread name (digits dropped: `AwsEventLoop 1` and `2` together), seconds */
  threads: Map<string, number>;
  /** reaped children plus running children, seconds */
  children: number;
  /** wall clock, ms */
  at: number;
}

export function cpuOf(pid: number): CpuReading {
  const f = statFields(pid);
  // fields after the comm: state=0 ppid=1 … utime=11 stime=12 cutime=13 cstime=14
  const self = (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
  let children = (Number(f[13]) + Number(f[14])) / TICKS_PER_SECOND;
  for (const child of childrenOf(pid)) {
    try {
      const c = statFields(child);
      children += (Number(c[11]) + Number(c[12])) / TICKS_PER_SECOND;
    } catch {
      // exited between the listing and the read; its time is in cutime at the next reading
    }
  }
  return { self, threads: threadsOf(pid), children, at: Date.now() };
}

/** CPU seconds of a process's threads, grouped by thread name (/proc/PID/task/TID/stat). */
function threadsOf(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = s
        .slice(s.indexOf('(') + 1, s.lastIndexOf(')'))
        .replace(/[\d\s]+$/, '')
        .trim();
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** Percent of one core over the interval between two readings. */
export function cpuPercent(
  a: CpuReading,
  b: CpuReading,
): { self: number; children: number; total: number; threads: Record<string, number> } {
  const seconds = (b.at - a.at) / 1000;
  const self = ((b.self - a.self) / seconds) * 100;
  const children = ((b.children - a.children) / seconds) * 100;
  // a thread that ended between the readings is missing from b: its time is still in `self`
  const threads: Record<string, number> = {};
  for (const [name, t] of b.threads) threads[name] = ((t - (a.threads.get(name) ?? 0)) / seconds) * 100;
  return { self, children, total: self + children, threads };
}
