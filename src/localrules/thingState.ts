// Everything the evaluator remembers about one thing: per subject (the thing itself, or one of its
// processes) and per behavior, the violation counters, the sliding window and the statistical history.
// This is the unit the threshold cache holds in memory, evicts and persists (thresholdCache.ts).

import { isPlainObject } from '../plainObject.ts';
import type { Offender } from './contracts.ts';
import { SlidingSum, type SlidingSumJson } from './slidingWindow.ts';
import { History, type HistoryJson } from './statistics.ts';
import type { ViolationCounters } from './violationState.ts';

export interface BehaviorState extends ViolationCounters {
  window?: SlidingSum;
  history?: History;
  /**
   * The violating datapoints [t, value] counted towards consecutiveDatapointsToAlarm (> 1) of a behavior
   * without a window, for `explain`. Memory only: not persisted, not in the size estimate (≤ 10 pairs).
   */
  recent?: Array<[number, number]>;
}

export interface SubjectState {
  offender: Offender;
  lastSeenMs: number;
  /** indexed like ThingState.keys */
  behaviors: (BehaviorState | undefined)[];
}

export interface ThingState {
  thing: string;
  lastSeenMs: number;
  /** behavior keys (profile.ts behaviorKey) the `behaviors` arrays are indexed by */
  keys: readonly string[];
  /** 'thing' for the thing itself (host or device), `p:<pid>:<startTime>` for a process */
  subjects: Map<string, SubjectState>;
  /** a copy may exist in the persisted store (set by the threshold cache) */
  onDisk?: boolean;
}

export function newThingState(thing: string, keys: readonly string[], nowMs: number): ThingState {
  return { thing, lastSeenMs: nowMs, keys, subjects: new Map() };
}

export function subjectKey(o: Offender): string {
  return o.kind === 'process' ? `p:${o.pid}:${o.startTime ?? ''}` : 'thing';
}

/** Re-index a state built for other behavior keys (a new configuration); state of changed behaviors is dropped. */
export function remapThingState(s: ThingState, keys: readonly string[]): void {
  if (s.keys === keys) return;
  const oldIndex = new Map(s.keys.map((k, i) => [k, i]));
  for (const sub of s.subjects.values()) {
    sub.behaviors = keys.map((k) => {
      const i = oldIndex.get(k);
      return i === undefined ? undefined : sub.behaviors[i];
    });
  }
  s.keys = keys;
}

export function hasActiveAlarm(s: ThingState): boolean {
  for (const sub of s.subjects.values()) for (const b of sub.behaviors) if (b?.inAlarm) return true;
  return false;
}

/**
 * Whether the state holds anything a fresh state would not: an alarm or pending count, a baseline, or a
 * window with traffic in it. A thing that only ever sent zeros needs no file.
 */
export function isWorthPersisting(s: ThingState): boolean {
  for (const sub of s.subjects.values()) {
    for (const b of sub.behaviors) {
      if (b === undefined) continue;
      if (b.inAlarm || b.violating > 0 || b.normal > 0) return true;
      if ((b.history?.length ?? 0) > 0 || (b.window !== undefined && b.window.sum !== 0)) return true;
    }
  }
  return false;
}

/**
 * A byte count for lru-cache's maxSize: object headers, arrays of doubles, strings. Calibrated against
 * retained V8 heap in bench/localrules.bench.ts (measured ~6.6 KiB per thing with 20 behaviors, this
 * estimate gives ~7.9 KiB: it errs on the safe side).
 */
export function estimateBytes(s: ThingState): number {
  let n = 160 + s.thing.length * 2;
  for (const sub of s.subjects.values()) {
    n += 300 + sub.behaviors.length * 8;
    for (const b of sub.behaviors) {
      if (b === undefined) continue;
      n += 180;
      if (b.window) n += 260 + b.window.length * 16;
      if (b.history) n += 260 + b.history.length * 16;
    }
  }
  return n;
}

interface BehaviorJson {
  a: boolean;
  vi: number;
  no: number;
  id?: string;
  w?: SlidingSumJson;
  h?: HistoryJson;
}

export interface ThingStateJson {
  thing: string;
  lastSeenMs: number;
  keys: string[];
  subjects: { key: string; offender: Offender; lastSeenMs: number; behaviors: Record<string, BehaviorJson> }[];
}

export function thingStateToJson(s: ThingState): ThingStateJson {
  return {
    thing: s.thing,
    lastSeenMs: s.lastSeenMs,
    keys: [...s.keys],
    subjects: [...s.subjects].map(([key, sub]) => {
      const behaviors: Record<string, BehaviorJson> = {};
      sub.behaviors.forEach((b, i) => {
        if (b === undefined) return;
        const j: BehaviorJson = { a: b.inAlarm, vi: b.violating, no: b.normal };
        if (b.violationId !== undefined) j.id = b.violationId;
        if (b.window) j.w = b.window.toJSON();
        if (b.history) j.h = b.history.toJSON();
        behaviors[s.keys[i]!] = j;
      });
      return { key, offender: sub.offender, lastSeenMs: sub.lastSeenMs, behaviors };
    }),
  };
}

const numArray = (x: unknown): boolean => Array.isArray(x) && x.every((n) => typeof n === 'number');

/** Shape check for a persisted state (readJsonFile quarantines what fails it). */
export function thingStateJsonProblem(x: unknown): string | null {
  if (!isPlainObject(x)) return 'not an object';
  if (typeof x.thing !== 'string' || typeof x.lastSeenMs !== 'number' || !Array.isArray(x.keys) || !Array.isArray(x.subjects))
    return 'missing thing/lastSeenMs/keys/subjects';
  for (const sub of x.subjects as unknown[]) {
    if (
      !isPlainObject(sub) ||
      typeof sub.key !== 'string' ||
      !isPlainObject(sub.offender) ||
      typeof sub.lastSeenMs !== 'number' ||
      !isPlainObject(sub.behaviors)
    )
      return 'bad subject';
    for (const b of Object.values(sub.behaviors)) {
      if (!isPlainObject(b) || typeof b.a !== 'boolean' || typeof b.vi !== 'number' || typeof b.no !== 'number')
        return 'bad behavior state';
      if (b.w !== undefined && (!isPlainObject(b.w) || typeof b.w.d !== 'number' || !numArray(b.w.t) || !numArray(b.w.v)))
        return 'bad window';
      if (b.h !== undefined && (!isPlainObject(b.h) || !numArray(b.h.b) || !numArray(b.h.v))) return 'bad history';
    }
  }
  return null;
}

/** Rebuild a state from JSON (already shape-checked), indexed by the current profile's `keys`. */
export function thingStateFromJson(j: ThingStateJson, keys: readonly string[]): ThingState {
  const s = newThingState(j.thing, keys, j.lastSeenMs);
  for (const sub of j.subjects) {
    s.subjects.set(sub.key, {
      offender: sub.offender,
      lastSeenMs: sub.lastSeenMs,
      behaviors: keys.map((k) => {
        const b = sub.behaviors[k];
        if (b === undefined) return undefined;
        const out: BehaviorState = { inAlarm: b.a, violating: b.vi, normal: b.no };
        if (b.id !== undefined) out.violationId = b.id;
        if (b.w) out.window = SlidingSum.fromJSON(b.w);
        if (b.h) out.history = History.fromJSON(b.h);
        return out;
      }),
    });
  }
  return s;
}
