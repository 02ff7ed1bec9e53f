// Process families (docs/traffic.md#families): per-process traffic is judged per FAMILY — a process and
// every process it started, cut at boundaries — so a program that hands its sending to short-lived
// children (a new child per send, a shell loop around curl) is still one offender, and stopping it stops
// the children too. A family is named by its head: the highest ancestor-or-self whose parent is a boundary.
//
// Boundaries are processes whose children are separate programs, never rolled up into them: PID 1 and a
// parent outside our pid namespace (ppid 0), kernel threads, the agent and its ancestors (the nucleus's
// runner), the Greengrass nucleus, enforcement.protectedProcesses — exactly what the enforcement rails
// refuse to act on (rails.ts checkProtectedProcess), so a protected process never becomes an offender
// through its children — and daemons that start unrelated programs per job, login or connection
// (FAMILY_LAUNCHERS). A boundary's own traffic is its own (a family of one).
//
// Why not cgroups: on a gateway the Greengrass components commonly share the nucleus's cgroup, and a test
// or a login session holds everything in one; the process tree is what says who started whom.
import { checkProtectedProcess } from '../enforce/rails.ts';
import { type ProcessInfo, readProcessInfo, readProcStat } from '../system/procfs.ts';
import type { ProcessRef } from './sample.ts';

/** Daemons that start unrelated programs (cron jobs, logins, containers, activated services): their children head their own families. */
export const FAMILY_LAUNCHERS: ReadonlySet<string> = new Set([
  'systemd', // PID 1 and the per-user managers
  'cron',
  'crond',
  'anacron',
  'atd',
  'sshd',
  'sshd-session',
  'login',
  'inetd',
  'xinetd',
  'dbus-daemon',
  'containerd-shim', // comm is cut to 15 characters: containerd-shim-runc-v2 reads so
  'conmon',
]);

export interface FamilyBoundaryContext {
  selfPid: number;
  selfAncestors: ReadonlySet<number>;
  protectedProcesses: Iterable<string>;
}

/** The boundary predicate: the rails' untouchable processes plus the launchers. */
export function familyBoundary(ctx: FamilyBoundaryContext): (info: ProcessInfo) => boolean {
  const rails = { agentPid: ctx.selfPid, agentAncestors: ctx.selfAncestors, protectedProcesses: new Set(ctx.protectedProcesses) };
  return (info) => checkProtectedProcess(info, rails) !== null || FAMILY_LAUNCHERS.has(info.comm);
}

export interface FamilyNode extends ProcessRef {
  startTime: number;
  ppid: number;
  /** its children head their own families */
  boundary: boolean;
}

export type ProcessLookup = (pid: number) => FamilyNode | undefined;

/** The head of a live process's family: climb while the parent is a live non-boundary process. Pure. */
export function familyHead(node: FamilyNode, lookup: ProcessLookup, maxDepth = 64): FamilyNode {
  let current = node;
  if (current.boundary) return current;
  for (let i = 0; i < maxDepth; i++) {
    const parent = current.ppid > 0 ? lookup(current.ppid) : undefined;
    if (parent === undefined || parent.boundary) return current;
    current = parent;
  }
  return current;
}

const KNOWN_LIMIT = 20_000;

/**
 * Live processes by pid, from /proc, for family heads: one stat read per process per round (memoized
 * within a round — a poll or a sample), the rest (exe, cgroup, cmdline, the boundary verdict) read once
 * per (pid, start time, comm) and kept.
 */
export class ProcessDirectory {
  private readonly procRoot: string;
  private readonly isBoundary: (info: ProcessInfo) => boolean;
  private readonly round = new Map<number, FamilyNode | null>();
  private readonly known = new Map<number, FamilyNode>();
  /** /proc reads in the current round (the cost driver; benchmarks and tests look) */
  reads = 0;

  constructor(o: { procRoot?: string; isBoundary: (info: ProcessInfo) => boolean }) {
    this.procRoot = o.procRoot ?? '/proc';
    this.isBoundary = o.isBoundary;
  }

  /** A new round: processes may have exited, been reparented or exec'd since the last. */
  beginRound(): void {
    this.round.clear();
    this.reads = 0;
    if (this.known.size > KNOWN_LIMIT) this.known.clear();
  }

  /** The live process at pid now (zombies are not alive), or undefined. */
  get = (pid: number): FamilyNode | undefined => {
    const memo = this.round.get(pid);
    if (memo !== undefined) return memo ?? undefined;
    this.reads++;
    const stat = readProcStat(pid, this.procRoot);
    let node: FamilyNode | undefined;
    if (stat !== undefined && stat.state !== 'Z' && stat.state !== 'X') {
      const cached = this.known.get(pid);
      if (cached !== undefined && cached.startTime === stat.startTime && cached.comm === stat.comm) {
        cached.ppid = stat.ppid;
        node = cached;
      } else {
        const info = readProcessInfo(pid, this.procRoot);
        if (info !== null && info.startTime === stat.startTime) {
          node = { pid, comm: info.comm, startTime: info.startTime, ppid: info.ppid, boundary: this.isBoundary(info) };
          if (info.exe !== undefined) node.exe = info.exe;
          if (info.cgroup !== undefined) node.cgroup = info.cgroup;
          this.known.set(pid, node);
        }
      }
    }
    this.round.set(pid, node ?? null);
    return node;
  };

  /** The family head of the live process at pid, or undefined when it is gone. */
  headOf(pid: number): FamilyNode | undefined {
    const node = this.get(pid);
    return node === undefined ? undefined : familyHead(node, this.get);
  }
}

/** A family head as the collector's samples name processes. */
export function refOf(node: FamilyNode): ProcessRef {
  const ref: ProcessRef = { pid: node.pid, comm: node.comm, startTime: node.startTime };
  if (node.exe !== undefined) ref.exe = node.exe;
  if (node.cgroup !== undefined) ref.cgroup = node.cgroup;
  return ref;
}
