// Socket inode → owning process, by walking /proc/PID/fd (the kernel has no reverse index). A full walk
// readlinks every descriptor of every process — ~40 ms for 2,000 sockets on the reference machine — so
// this resolver only walks when an inode it does not know appears, visits processes that recently owned
// sockets first, trusts descriptors it has already read, and stops as soon as every new inode is found.
// Only when that fails does it do the full walk. Inodes no process holds (kernel sockets, other pid
// namespaces) are remembered and retried rarely. Known limit: a socket passed to another process over a
// unix socket keeps its first owner until its first owner exits.
import { readdirSync, readlinkSync } from 'node:fs';
import { readProcCgroup, readProcStat, socketInodeOfLink } from '../system/procfs.ts';
import type { ProcessRef } from './sample.ts';

interface KnownProcess extends ProcessRef {
  /** fd number → socket inode (0 = not a socket) as last read */
  fds: Map<string, number>;
}

export interface SocketOwnersOptions {
  procRoot?: string;
  /** retry an inode no process held after this long */
  orphanRetryMs?: number;
}

export interface OwnerStats {
  /** readlink calls in the last resolve() — the cost driver */
  readlinks: number;
  fullWalk: boolean;
}

export class SocketOwners {
  private readonly procRoot: string;
  private readonly orphanRetryMs: number;
  private readonly owners = new Map<number, number>();
  private readonly processes = new Map<number, KnownProcess>();
  private readonly orphans = new Map<number, number>();
  lastStats: OwnerStats = { readlinks: 0, fullWalk: false };

  constructor(options: SocketOwnersOptions = {}) {
    this.procRoot = options.procRoot ?? '/proc';
    this.orphanRetryMs = options.orphanRetryMs ?? 60_000;
  }

  /** Owners of the given live inodes (inode 0 and unknown owners are absent from the result). */
  resolve(liveInodes: ReadonlySet<number>, now: number): Map<number, ProcessRef> {
    this.lastStats = { readlinks: 0, fullWalk: false };
    for (const inode of this.owners.keys()) if (!liveInodes.has(inode)) this.owners.delete(inode);
    for (const inode of this.orphans.keys()) if (!liveInodes.has(inode)) this.orphans.delete(inode);

    // A known owner that exited or whose pid now names another process loses its sockets.
    const owningPids = new Set(this.owners.values());
    for (const pid of owningPids) this.refreshProcess(pid);

    const unknown = new Set<number>();
    for (const inode of liveInodes) {
      if (inode === 0 || this.owners.has(inode)) continue;
      const since = this.orphans.get(inode);
      if (since !== undefined && now - since < this.orphanRetryMs) continue;
      unknown.add(inode);
    }
    if (unknown.size > 0) this.search(unknown, now);

    // One ProcessRef per process, shared by all its sockets (a process may hold thousands).
    const result = new Map<number, ProcessRef>();
    const refs = new Map<number, ProcessRef>();
    for (const [inode, pid] of this.owners) {
      let ref = refs.get(pid);
      if (ref === undefined) {
        const p = this.processes.get(pid);
        if (!p) continue;
        ref = { pid: p.pid, comm: p.comm, exe: p.exe, cgroup: p.cgroup, startTime: p.startTime };
        refs.set(pid, ref);
      }
      result.set(inode, ref);
    }
    return result;
  }

  private search(unknown: Set<number>, now: number): void {
    const pids = this.listPids();
    const livePids = new Set(pids);
    for (const pid of this.processes.keys()) if (!livePids.has(pid)) this.forget(pid);
    // Processes that own sockets already are the likeliest owners of new ones (accept(), reconnects).
    const hot = new Set(this.owners.values());
    const ordered = [...pids.filter((p) => hot.has(p)), ...pids.filter((p) => !hot.has(p))];
    for (const pid of ordered) {
      if (unknown.size === 0) return;
      this.scan(pid, unknown, hot.has(pid) ? 'sockets-only' : 'all');
    }
    if (unknown.size === 0) return;
    // A descriptor trusted as "not a socket" may have been closed and reused for a new socket.
    this.lastStats.fullWalk = true;
    for (const pid of ordered) {
      if (unknown.size === 0) return;
      this.scan(pid, unknown, 'none');
    }
    for (const inode of unknown) this.orphans.set(inode, now);
  }

  /**
   * Read /proc/PID/fd and readlink descriptors not trusted from cache. `trust`: 'all' = any cached fd,
   * 'sockets-only' = cached fds that still name a live known socket, 'none' = re-read everything.
   */
  private scan(pid: number, unknown: Set<number>, trust: 'all' | 'sockets-only' | 'none'): void {
    let fdNames: string[];
    try {
      fdNames = readdirSync(`${this.procRoot}/${pid}/fd`);
    } catch {
      return; // exited, or not ours to read (EACCES without root): nothing to attribute
    }
    let proc = this.processes.get(pid);
    const fds = new Map<string, number>();
    const found: number[] = [];
    for (const fd of fdNames) {
      const cached = proc?.fds.get(fd);
      // A cached socket fd is trusted only while its inode is still alive and ours; a cached non-socket
      // fd only in 'all' mode (the full walk re-reads it, see search()).
      const liveSocket = cached !== undefined && cached !== 0 && this.owners.get(cached) === pid;
      const trusted = trust === 'none' ? false : trust === 'all' ? cached === 0 || liveSocket : liveSocket;
      let inode: number;
      if (trusted) {
        inode = cached!;
      } else {
        this.lastStats.readlinks++;
        try {
          inode = socketInodeOfLink(readlinkSync(`${this.procRoot}/${pid}/fd/${fd}`));
        } catch {
          continue;
        }
      }
      fds.set(fd, inode);
      if (inode !== 0 && unknown.has(inode)) found.push(inode);
    }
    if (!proc) {
      const info = this.readProcess(pid);
      if (!info) return;
      proc = { ...info, fds };
      this.processes.set(pid, proc);
    } else {
      proc.fds = fds;
    }
    for (const inode of found) {
      unknown.delete(inode);
      this.owners.set(inode, pid);
      this.orphans.delete(inode);
    }
  }

  private refreshProcess(pid: number): void {
    const known = this.processes.get(pid);
    const stat = readProcStat(pid, this.procRoot);
    if (!known || !stat || stat.startTime !== known.startTime) {
      this.forget(pid);
      return;
    }
    if (stat.comm !== known.comm) {
      // execve() keeps pid and start time but changes the program: re-read what names it.
      const info = this.readProcess(pid);
      if (info) Object.assign(known, info);
    }
  }

  private forget(pid: number): void {
    this.processes.delete(pid);
    for (const [inode, owner] of this.owners) if (owner === pid) this.owners.delete(inode);
  }

  private listPids(): number[] {
    const pids: number[] = [];
    for (const name of readdirSync(this.procRoot)) {
      const c = name.charCodeAt(0);
      if (c >= 48 && c <= 57) pids.push(Number(name));
    }
    return pids;
  }

  private readProcess(pid: number): ProcessRef | undefined {
    const stat = readProcStat(pid, this.procRoot);
    if (!stat) return undefined;
    const ref: ProcessRef = { pid, comm: stat.comm, startTime: stat.startTime };
    try {
      ref.exe = readlinkSync(`${this.procRoot}/${pid}/exe`);
    } catch {
      // kernel threads and other users' processes without root have no readable exe
    }
    // Unreadable: the process exited between reads. No v2 line (a cgroup v1 host): the first hierarchy.
    const cg = readProcCgroup(pid, this.procRoot);
    const cgroup = cg?.v2 ?? cg?.v1;
    if (cgroup !== undefined) ref.cgroup = cgroup;
    return ref;
  }
}
