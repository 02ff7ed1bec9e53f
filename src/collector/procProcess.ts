// Parsers for per-process /proc files (proc(5)). Pure.

export interface ProcStat {
  pid: number;
  comm: string;
  /** field 22, clock ticks since boot: with pid, names a process across pid reuse */
  startTime: number;
}

/**
 * /proc/PID/stat: `pid (comm) state ppid …`. comm may itself hold spaces and ')' — it ends at the LAST
 * ')' of the line.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  const startTime = Number(rest[22 - 3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(startTime)) return undefined;
  return { pid, comm: text.slice(open + 1, close), startTime };
}

/**
 * /proc/PID/cgroup: the cgroup v2 line is `0::/path`. On a hybrid v1/v2 host the v2 hierarchy may be
 * empty ("/") while v1 controllers hold the real placement; we still report the v2 path (what a
 * cgroup-v2 freeze acts on) and fall back to the first named hierarchy only when there is no v2 line.
 */
export function parseProcCgroup(text: string): string | undefined {
  let fallback: string | undefined;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const path = line.slice(second + 1);
    if (line.slice(0, first) === '0' && second === first + 1) return path;
    fallback ??= path;
  }
  return fallback;
}

/** `socket:[12345]` (readlink of /proc/PID/fd/N) → 12345; anything else → 0. */
export function socketInodeOfLink(link: string): number {
  if (!link.startsWith('socket:[') || !link.endsWith(']')) return 0;
  const n = Number(link.slice(8, -1));
  return Number.isInteger(n) && n > 0 ? n : 0;
}
