// The per-thing threshold cache: windows, statistical baselines (history → resolved percentile) and
// violation counters of each thing, in an lru-cache bounded by count AND estimated bytes
// (config thresholdCache.maxThings / maxBytes). An evicted thing is written to a KeyedJsonStore and read
// back on its next datapoint, so memory stays bounded with 100,000 things coming and going and a restart
// resumes with every thing's baseline. Implements the evaluator's ThingStates.
import { LRUCache } from 'lru-cache';
import type { Logger } from '../log.ts';
import { KeyedJsonStore } from '../store/keyedJsonStore.ts';
import type { ThingStates } from './evaluator.ts';
import {
  estimateBytes,
  hasActiveAlarm,
  isWorthPersisting,
  type ThingState,
  type ThingStateJson,
  thingStateFromJson,
  thingStateJsonProblem,
  thingStateToJson,
} from './thingState.ts';

export interface ThresholdCacheOptions {
  dir: string;
  maxThings: number;
  maxBytes: number;
  /** current behavior keys (CompiledProfile.keys), to index states read from disk */
  keys: () => readonly string[];
  logger: Logger;
}

export interface ThresholdCacheStats {
  things: number;
  bytes: number;
  hits: number;
  misses: number;
  loads: number;
  evictions: number;
  writes: number;
  corrupt: number;
  writeErrors: number;
}

export class ThresholdCache implements ThingStates {
  private readonly cache: LRUCache<string, ThingState>;
  private readonly store: KeyedJsonStore<ThingStateJson>;
  private readonly options: ThresholdCacheOptions;
  /** things changed since they were last written */
  private readonly dirty = new Set<string>();
  /** evicted things with an active alarm → last seen: expire() must still invalidate them */
  private readonly evictedAlarms = new Map<string, number>();
  private readonly counters = { hits: 0, misses: 0, loads: 0, evictions: 0, writes: 0, corrupt: 0, writeErrors: 0 };

  constructor(options: ThresholdCacheOptions) {
    this.options = options;
    // No fsync per thing: with 100,000 things churning that would be 100,000 disk flushes; losing the
    // latest write of a thing on power loss only restarts its windows (flush() at shutdown is the same).
    this.store = new KeyedJsonStore<ThingStateJson>(options.dir, thingStateJsonProblem, { fsync: false });
    this.cache = new LRUCache<string, ThingState>({
      max: options.maxThings,
      maxSize: options.maxBytes,
      sizeCalculation: (s) => Math.min(estimateBytes(s), options.maxBytes),
      // Only evictions write: a `set` of the same object or an explicit delete must not.
      dispose: (state, thing, reason) => {
        if (reason !== 'evict') return;
        this.counters.evictions++;
        if (this.dirty.has(thing)) this.write(state);
        if (hasActiveAlarm(state)) this.evictedAlarms.set(thing, state.lastSeenMs);
      },
    });
  }

  private write(state: ThingState): void {
    try {
      if (isWorthPersisting(state)) {
        this.store.put(state.thing, thingStateToJson(state));
        state.onDisk = true;
        this.counters.writes++;
      } else if (state.onDisk) {
        // An older copy (say, with an alarm since cleared) must not come back.
        this.store.delete(state.thing);
        state.onDisk = false;
      }
      this.dirty.delete(state.thing);
    } catch (err) {
      // A full or read-only disk degrades to "forget on eviction"; evaluation must go on.
      this.counters.writeErrors++;
      this.options.logger.warn({ err, thing: state.thing }, 'threshold cache: cannot persist thing state');
    }
  }

  get(thing: string): ThingState | undefined {
    const hit = this.cache.get(thing);
    if (hit !== undefined) {
      this.counters.hits++;
      return hit;
    }
    this.counters.misses++;
    const r = this.store.get(thing);
    if (r.kind === 'ok') {
      this.counters.loads++;
      this.evictedAlarms.delete(thing);
      const s = thingStateFromJson(r.value, this.options.keys());
      s.onDisk = true;
      this.cache.set(thing, s);
      return s;
    }
    if (r.kind === 'corrupt') {
      this.counters.corrupt++;
      this.options.logger.warn(
        { thing, reason: r.error, quarantinedTo: r.quarantinedTo },
        'threshold cache: corrupt thing state quarantined; starting fresh',
      );
    }
    return undefined;
  }

  put(state: ThingState): void {
    this.dirty.add(state.thing);
    this.evictedAlarms.delete(state.thing);
    // set() again re-measures the state (windows and histories grow) and makes it most recently used.
    this.cache.set(state.thing, state);
    if (!this.cache.has(state.thing)) {
      // Bigger than maxBytes on its own: lru-cache refuses it; keep it on disk instead.
      this.write(state);
    }
  }

  delete(thing: string): void {
    this.cache.delete(thing);
    this.dirty.delete(thing);
    this.evictedAlarms.delete(thing);
    try {
      this.store.delete(thing);
    } catch (err) {
      this.options.logger.warn({ err, thing }, 'threshold cache: cannot delete thing state');
    }
  }

  *expiryCandidates(cutoffMs: number): Iterable<ThingState> {
    yield* [...this.cache.values()];
    for (const [thing, lastSeen] of [...this.evictedAlarms]) {
      if (lastSeen > cutoffMs) continue;
      const s = this.get(thing);
      if (s === undefined) this.evictedAlarms.delete(thing);
      else yield s;
    }
  }

  /**
   * Write one thing now, if changed: after an alarm transition (in-alarm, cleared, invalidated), so that
   * neither a restart nor a SIGKILL raises an ongoing alarm again under a new violation id. Transitions
   * are rare, so this is one atomic write of one thing's state now and then.
   */
  persist(thing: string): void {
    const s = this.cache.peek(thing);
    if (s !== undefined && this.dirty.has(thing)) this.write(s);
  }

  /** Write every changed thing (periodically and on shutdown), so a restart resumes where we were. */
  flush(): number {
    let n = 0;
    for (const thing of [...this.dirty]) {
      const s = this.cache.peek(thing);
      if (s === undefined) {
        this.dirty.delete(thing);
        continue;
      }
      this.write(s);
      n++;
    }
    return n;
  }

  /** Forget persisted things not written since `olderThanMs` (the agent calls this with now - invalidateAfter). */
  sweep(olderThanMs: number): number {
    return this.store.sweep(olderThanMs);
  }

  stats(): ThresholdCacheStats {
    return { things: this.cache.size, bytes: this.cache.calculatedSize, ...this.counters };
  }
}
