// Per-process deltas → family deltas (processFamilies.ts): every process's traffic counts for its family's
// head. A live process climbs its live parents; a process that is gone (exited between two readings, the
// fork-per-send child) counts for the family of its parent — the one /proc showed while it lived, else the
// one the kernel recorded at fork — provided that parent is alive and older than it (a parent number
// reused by a younger process is not its parent). A process whose family is gone with it keeps its last
// delta under its own name when it was seen alive; otherwise nothing can be named and its traffic is
// unattributed, and said so (never dropped silently).
import { addTraffic, type CounterDeltas, processKey, ZERO_TRAFFIC } from './processCounters.ts';
import { type FamilyNode, familyHead, type ProcessDirectory, refOf } from './processFamilies.ts';
import type { ProcessRef, TrafficDelta } from './sample.ts';

export interface FamilyShare {
  head: ProcessRef;
  /** the head was seen alive this round (a gone head can be named, not acted on) */
  alive: boolean;
  delta: TrafficDelta;
}

export interface FamilyDeltas {
  /** by head, `pid:startTime` */
  families: Map<string, FamilyShare>;
  /** traffic no live or known process could be named for */
  unattributed: TrafficDelta;
}

/** /proc start times are in clock ticks; USER_HZ is 100 on Linux (proc(5): sysconf(_SC_CLK_TCK)). */
const NS_PER_TICK = 10_000_000;
const KNOWN_LIMIT = 50_000;

/** Was `node` started no later than a process first counted at `firstSeenNs` (CLOCK_MONOTONIC)? One tick of slack. */
function olderThan(node: FamilyNode, firstSeenNs: bigint): boolean {
  return BigInt(node.startTime) * BigInt(NS_PER_TICK) <= firstSeenNs + BigInt(NS_PER_TICK);
}

export function familyKey(ref: Pick<ProcessRef, 'pid' | 'startTime'>): string {
  return `${ref.pid}:${ref.startTime ?? ''}`;
}

/**
 * How long a live process's family head is trusted without looking at /proc again. A (tgid, first seen)
 * pair names one process for as long as it lives, and heads change only when a parent exits or a process
 * execs into a boundary: re-checked once a sample, a poll costs no /proc read per busy process.
 */
const HEAD_TTL_MS = 1000;

export class FamilyAttribution {
  private readonly dir: ProcessDirectory;
  /** processes seen alive, by (tgid, first seen): their node at the time, for when they are gone */
  private readonly seen = new Map<string, FamilyNode>();
  /** live processes' family heads, by (tgid, first seen), and when they were looked up */
  private readonly heads = new Map<string, { head: FamilyNode; at: number }>();

  constructor(directory: ProcessDirectory) {
    this.dir = directory;
  }

  /** Call once per reading, after directory.beginRound(); `now` ages the cached heads. */
  attribute(d: CounterDeltas, now = Number.POSITIVE_INFINITY): FamilyDeltas {
    const families = new Map<string, FamilyShare>();
    const unattributed: TrafficDelta = { ...ZERO_TRAFFIC };
    const add = (head: FamilyNode, alive: boolean, delta: TrafficDelta): void => {
      const key = familyKey(head);
      let share = families.get(key);
      if (share === undefined) {
        share = { head: refOf(head), alive, delta: { ...ZERO_TRAFFIC } };
        families.set(key, share);
      }
      addTraffic(share.delta, delta);
    };
    if (this.seen.size > KNOWN_LIMIT) this.seen.clear();
    if (this.heads.size > KNOWN_LIMIT) this.heads.clear();
    for (const { process: p, delta } of d.processes) {
      const key = processKey(p);
      const cached = p.exited ? undefined : this.heads.get(key);
      if (cached !== undefined && now - cached.at < HEAD_TTL_MS) {
        add(cached.head, true, delta);
        continue;
      }
      this.heads.delete(key);
      const live = p.exited ? undefined : this.dir.get(p.tgid);
      if (live !== undefined && olderThan(live, p.firstSeenNs)) {
        if (!this.seen.has(key)) this.seen.set(key, live);
        const head = familyHead(live, this.dir.get);
        if (Number.isFinite(now)) this.heads.set(key, { head, at: now });
        add(head, true, delta);
        continue;
      }
      // Gone: its parent's family, else its own name if we knew it, else nobody.
      const was = this.seen.get(key);
      if (p.exited) this.seen.delete(key);
      const parentPid = was?.ppid ?? p.ppid;
      const parent = was?.boundary || parentPid <= 0 ? undefined : this.dir.get(parentPid);
      if (parent !== undefined && !parent.boundary && olderThan(parent, p.firstSeenNs)) add(familyHead(parent, this.dir.get), true, delta);
      else if (was !== undefined) add(was, false, delta);
      else addTraffic(unattributed, delta);
    }
    return { families, unattributed };
  }
}
