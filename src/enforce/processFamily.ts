// The family a process action acts on (docs/traffic.md#families): the offender and every live descendant —
// a rogue that hands its sending to children is stopped with them — except descendants a rail protects,
// whose whole subtree is left alone (a protected process stays protected whatever its parent did, and its
// children are never acted on through it). Threads go with their process (a signal is process-wide).
// Children come from /proc/PID/task/TID/children (proc(5), CONFIG_PROC_CHILDREN), else from a scan of
// every /proc/PID/stat by parent.
import { readdirSync, readFileSync } from 'node:fs';
import { type ProcessInfo, readProcessInfo, readProcStat } from '../system/procfs.ts';

export interface FamilyMember {
  pid: number;
  startTime: number;
  comm: string;
}

const MAX_MEMBERS = 4096;

function childrenFiles(pid: number, procRoot: string): number[] | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`${procRoot}/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tids) {
    let text: string;
    try {
      text = readFileSync(`${procRoot}/${pid}/task/${tid}/children`, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && tid === String(pid)) return undefined; // no CONFIG_PROC_CHILDREN
      continue;
    }
    for (const n of text.split(' ')) if (n.trim() !== '') out.push(Number(n));
  }
  return out;
}

/** parent → children of every live process, from /proc/PID/stat (the fallback: one read per process). */
function childrenByScan(procRoot: string): Map<number, number[]> {
  const map = new Map<number, number[]>();
  for (const name of readdirSync(procRoot)) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const stat = readProcStat(Number(name), procRoot);
    if (stat === undefined) continue;
    const list = map.get(stat.ppid);
    if (list) list.push(stat.pid);
    else map.set(stat.ppid, [stat.pid]);
  }
  return map;
}

/**
 * Live descendants of `root` that `mayAct` allows, parents before children; a refused descendant's
 * subtree is skipped and reported. Zombies and processes that vanish meanwhile are left out.
 */
export function familyOf(
  root: number,
  mayAct: (info: ProcessInfo) => boolean,
  procRoot = '/proc',
): { members: FamilyMember[]; spared: FamilyMember[] } {
  const members: FamilyMember[] = [];
  const spared: FamilyMember[] = [];
  let scan: Map<number, number[]> | undefined;
  const childrenOf = (pid: number): number[] => {
    if (scan === undefined) {
      const direct = childrenFiles(pid, procRoot);
      if (direct !== undefined) return direct;
      scan = childrenByScan(procRoot);
    }
    return scan.get(pid) ?? [];
  };
  const seen = new Set<number>([root]);
  const queue = [root];
  while (queue.length > 0 && members.length < MAX_MEMBERS) {
    for (const child of childrenOf(queue.shift()!)) {
      if (seen.has(child)) continue;
      seen.add(child);
      const info = readProcessInfo(child, procRoot);
      if (info === null || info.state === 'Z' || info.state === 'X') continue;
      const member = { pid: child, startTime: info.startTime, comm: info.comm };
      if (!mayAct(info)) {
        spared.push(member);
        continue;
      }
      members.push(member);
      queue.push(child);
    }
  }
  return { members, spared };
}
