// The local Detect evaluator: pure logic, no I/O, no clock — every datapoint carries its time and
// expire() takes `nowMs`. Per-thing state comes from a ThingStates source (memory for the CLI and tests,
// the bounded threshold cache in the agent). Semantics and choices: docs/localrules.md.
import { createHash } from 'node:crypto';
import type { MetricValue, Offender, ViolationEvent } from './contracts.ts';
import { type CompiledCriterion, compareNumbers, judgeListValue, numericValue, type Verdict } from './criterion.ts';
import type { CompiledBehavior, CompiledProfile } from './profile.ts';
import { SlidingSum } from './slidingWindow.ts';
import { History, type HistoryOptions } from './statistics.ts';
import { type BehaviorState, newThingState, remapThingState, subjectKey, type ThingState } from './thingState.ts';
import { newCounters, step, type Transition } from './violationState.ts';

/** One measurement of one metric for one subject, at time t. */
export interface Datapoint {
  /** ms since the epoch: the end of the interval the value covers */
  t: number;
  /** the thing the datapoint belongs to: the gateway's thing for host and process datapoints */
  thing: string;
  metric: string;
  value: MetricValue;
  /** who a violation would be about */
  subject: Offender;
  /** length of the interval a delta value covers (ms), when known */
  intervalMs?: number;
}

/**
 * What a violation was judged on, for `defender-edge explain`: the behavior's window at the moment it went
 * in-alarm (or the violating datapoints counted towards consecutiveDatapointsToAlarm).
 */
export interface ViolationEvidence {
  /** `window-sum`: the points are deltas summed over windowMs and the sum is compared; `each`: each value is compared */
  judged: 'window-sum' | 'each';
  windowMs?: number;
  /** [t ms since the epoch, value], oldest first */
  points: Array<[number, number]>;
  /** when the window held more points than kept: how many datapoints each kept point sums up (at most) */
  mergedBy?: number;
  consecutiveDatapointsToAlarm: number;
}

/** Evidence kept per violation: enough for a terminal chart, bounded whatever the window and interval. */
export const MAX_EVIDENCE_POINTS = 300;

export interface EvaluatorOptions {
  /** config violations.invalidateAfterSeconds × 1000: a thing silent this long has its alarms invalidated */
  invalidateAfterMs: number;
  /** a process not seen this long is forgotten (its alarms invalidated); processes come and go far more than things */
  processIdleMs: number;
  statistics: HistoryOptions;
}

/** Where per-thing state lives. Implementations: MemoryThingStates (below), ThresholdCache (thresholdCache.ts). */
export interface ThingStates {
  get(thing: string): ThingState | undefined;
  /** hand back a state after changing it (lets a cache re-measure and mark it dirty) */
  put(state: ThingState): void;
  delete(thing: string): void;
  /** states expire() must look at: every state held in memory, plus those elsewhere with an active alarm last seen before `cutoffMs` */
  expiryCandidates(cutoffMs: number): Iterable<ThingState>;
}

/** Unbounded, in memory: for the CLI, tests and small fleets. */
export class MemoryThingStates implements ThingStates {
  private readonly map = new Map<string, ThingState>();
  get(thing: string): ThingState | undefined {
    return this.map.get(thing);
  }
  put(state: ThingState): void {
    this.map.set(state.thing, state);
  }
  delete(thing: string): void {
    this.map.delete(thing);
  }
  expiryCandidates(): Iterable<ThingState> {
    return [...this.map.values()];
  }
  get size(): number {
    return this.map.size;
  }
}

export const defaultEvaluatorOptions = (): EvaluatorOptions => ({
  invalidateAfterMs: 172_800_000,
  processIdleMs: 3_600_000,
  statistics: { windowMs: 86_400_000, maxSamples: 288, minSamples: 12 },
});

/** violationId: [a-zA-Z0-9-]{1,128} (API `ViolationEvent`), stable for the life of one violation and derived, not random. */
function violationIdFor(thing: string, key: string, subject: string, t: number): string {
  return createHash('sha256').update(`${thing}\u0000${key}\u0000${subject}\u0000${t}`).digest('hex').slice(0, 32);
}

export class Evaluator {
  private profile: CompiledProfile;
  private readonly options: EvaluatorOptions;
  private readonly states: ThingStates;
  /** datapoint×behavior evaluations performed (for metrics and the benchmark) */
  evaluations = 0;

  constructor(profile: CompiledProfile, states: ThingStates, options: EvaluatorOptions = defaultEvaluatorOptions()) {
    this.profile = profile;
    this.states = states;
    this.options = options;
  }

  /**
   * A new configuration: states of unchanged behaviors carry over (re-indexed lazily on next use); states
   * of changed or removed behaviors are dropped without events — like the service, a deleted behavior
   * simply stops producing violations (troubleshooting guide).
   */
  setProfile(profile: CompiledProfile): void {
    this.profile = profile;
  }

  /** Evaluate datapoints in order; returns the events their state changes produce. */
  evaluate(points: readonly Datapoint[]): ViolationEvent[] {
    const events: ViolationEvent[] = [];
    let state: ThingState | undefined;
    for (const p of points) {
      if (state === undefined || state.thing !== p.thing) {
        if (state !== undefined) this.states.put(state);
        state = this.stateFor(p.thing, p.t);
      }
      if (p.t > state.lastSeenMs) state.lastSeenMs = p.t;
      const behaviors = this.profile.byMetric.get(p.metric);
      if (behaviors === undefined) continue;
      const sKey = subjectKey(p.subject);
      let subject = state.subjects.get(sKey);
      for (const b of behaviors) {
        if (!this.inScope(b, p)) continue;
        if (subject === undefined) {
          subject = { offender: p.subject, lastSeenMs: p.t, behaviors: new Array(this.profile.behaviors.length) };
          state.subjects.set(sKey, subject);
        }
        subject.lastSeenMs = p.t;
        subject.offender = p.subject;
        let bs = subject.behaviors[b.index];
        if (bs === undefined) {
          bs = newCounters();
          subject.behaviors[b.index] = bs;
        }
        this.evaluations++;
        const event = this.evaluateOne(b, bs, p, sKey);
        if (event !== undefined) events.push(event);
      }
    }
    if (state !== undefined) this.states.put(state);
    return events;
  }

  private stateFor(thing: string, t: number): ThingState {
    const s = this.states.get(thing);
    if (s === undefined) return newThingState(thing, this.profile.keys, t);
    remapThingState(s, this.profile.keys);
    return s;
  }

  private inScope(b: CompiledBehavior, p: Datapoint): boolean {
    switch (p.subject.kind) {
      case 'host':
        return b.host || b.things.has(p.thing);
      case 'process':
        return b.processes;
      case 'device':
        return b.devices || b.things.has(p.thing);
    }
  }

  private evaluateOne(b: CompiledBehavior, bs: BehaviorState, p: Datapoint, sKey: string): ViolationEvent | undefined {
    const override = b.overrides.size > 0 ? b.overrides.get(p.thing) : undefined;
    const criterion: CompiledCriterion = override?.criterion ?? b.criterion;
    let verdict: Verdict;
    let value: MetricValue = p.value;
    let threshold: MetricValue | undefined = override?.value ?? b.behavior.criteria.value;

    if (criterion.kind === 'numeric' || criterion.kind === 'statistical') {
      let x = numericValue(p.value);
      if (x === undefined) return undefined;
      let partial = false;
      if (b.windowMs > 0) {
        bs.window ??= new SlidingSum(b.windowMs);
        x = bs.window.add(p.t, x, p.intervalMs);
        value = 'count' in p.value ? { count: x } : { number: x };
        // A lower bound ("at least N per 300 s") cannot be judged before 300 s of data exist.
        partial = !bs.window.coversFullWindow(p.t);
      }
      if (criterion.kind === 'numeric') {
        verdict = b.lowerBound && partial ? 'skip' : compareNumbers(criterion.op, x, criterion.threshold) ? 'normal' : 'violating';
        const toAlarm = b.behavior.criteria.consecutiveDatapointsToAlarm ?? 1;
        if (b.windowMs === 0 && toAlarm > 1) {
          if (verdict === 'violating' && !bs.inAlarm) {
            bs.recent ??= [];
            bs.recent.push([p.t, x]);
            if (bs.recent.length > toAlarm) bs.recent.shift();
          } else if (verdict === 'normal') delete bs.recent;
        }
      } else {
        bs.history ??= new History();
        const th = bs.history.threshold(b.behavior.criteria.statisticalThreshold!.statistic, this.options.statistics);
        verdict = th === undefined || partial ? 'skip' : compareNumbers(criterion.op, x, th) ? 'normal' : 'violating';
        if (th !== undefined) threshold = 'count' in p.value ? { count: th } : { number: th };
        // The baseline learns from full windows only, after this datapoint was judged against it.
        if (!partial) bs.history.record(p.t, x, this.options.statistics);
      }
    } else {
      verdict = judgeListValue(criterion, p.value);
    }

    const c = b.behavior.criteria;
    const activeId = bs.violationId; // step() forgets it on clear; the cleared event still carries it
    const transition: Transition = step(bs, verdict, c.consecutiveDatapointsToAlarm, c.consecutiveDatapointsToClear);
    if (transition === undefined) return undefined;
    let violationId = activeId;
    if (transition === 'in-alarm') {
      violationId = violationIdFor(p.thing, b.key, sKey, p.t);
      bs.violationId = violationId;
    }
    const event: ViolationEvent = {
      violationId: violationId ?? violationIdFor(p.thing, b.key, sKey, p.t),
      thingName: p.thing,
      behavior: b.behavior.name,
      metric: b.behavior.metric,
      event: transition,
      value,
      comparisonOperator: c.comparisonOperator,
      t: p.t,
      offender: p.subject,
      action: b.behavior.edge.action,
      suppressAlerts: b.behavior.suppressAlerts,
    };
    if (threshold !== undefined) event.threshold = threshold;
    return event;
  }

  /**
   * What an `in-alarm` event was judged on, read from the state right after evaluate() returned it (the
   * window still holds exactly the datapoints that crossed the threshold). Undefined for list metrics and
   * for state that is gone.
   */
  evidenceFor(ev: ViolationEvent): ViolationEvidence | undefined {
    const state = this.states.get(ev.thingName);
    if (state === undefined) return undefined;
    remapThingState(state, this.profile.keys);
    const b = this.profile.behaviors.find((x) => x.behavior.name === ev.behavior && x.behavior.metric === ev.metric);
    const bs = b === undefined ? undefined : state.subjects.get(subjectKey(ev.offender))?.behaviors[b.index];
    if (b === undefined) return undefined;
    const consecutiveDatapointsToAlarm = b.behavior.criteria.consecutiveDatapointsToAlarm ?? 1;
    if (bs?.window !== undefined) {
      const j = bs.window.toJSON();
      const raw = j.t.map((t, i): [number, number] => [t, j.v[i]!]);
      const mergedBy = Math.ceil(raw.length / MAX_EVIDENCE_POINTS);
      const points: Array<[number, number]> = [];
      // Summing neighbours keeps every running total at a kept point exact (the chart's bars stay true).
      for (let i = 0; i < raw.length; i += mergedBy) {
        const chunk = raw.slice(i, i + mergedBy);
        points.push([chunk.at(-1)![0], chunk.reduce((a, [, v]) => a + v, 0)]);
      }
      return { judged: 'window-sum', windowMs: b.windowMs, points, consecutiveDatapointsToAlarm, ...(mergedBy > 1 ? { mergedBy } : {}) };
    }
    const x = ev.value === undefined ? undefined : numericValue(ev.value);
    if (bs?.recent !== undefined && bs.recent.length > 0) return { judged: 'each', points: [...bs.recent], consecutiveDatapointsToAlarm };
    if (x === undefined) return undefined;
    return { judged: 'each', points: [[ev.t, x]], consecutiveDatapointsToAlarm };
  }

  /**
   * Invalidate and forget what went silent ("alarm-invalidated", docs/localrules.md#violations): a thing with no datapoint for
   * invalidateAfterMs, and a process not seen for processIdleMs. Returns one `alarm-invalidated` per
   * active alarm; state without an alarm is dropped silently.
   */
  expire(nowMs: number): ViolationEvent[] {
    const events: ViolationEvent[] = [];
    const thingCutoff = nowMs - this.options.invalidateAfterMs;
    const processCutoff = nowMs - this.options.processIdleMs;
    for (const s of this.states.expiryCandidates(thingCutoff)) {
      remapThingState(s, this.profile.keys);
      if (s.lastSeenMs < thingCutoff) {
        for (const [key, sub] of s.subjects) this.invalidateSubject(s, key, sub.offender, sub.behaviors, nowMs, events);
        this.states.delete(s.thing);
        continue;
      }
      let changed = false;
      for (const [key, sub] of s.subjects) {
        const cutoff = sub.offender.kind === 'process' ? processCutoff : thingCutoff;
        if (sub.lastSeenMs >= cutoff) continue;
        this.invalidateSubject(s, key, sub.offender, sub.behaviors, nowMs, events);
        s.subjects.delete(key);
        changed = true;
      }
      if (changed) this.states.put(s);
    }
    return events;
  }

  private invalidateSubject(
    s: ThingState,
    key: string,
    offender: Offender,
    behaviors: (BehaviorState | undefined)[],
    nowMs: number,
    events: ViolationEvent[],
  ): void {
    behaviors.forEach((bs, i) => {
      if (!bs?.inAlarm) return;
      const b = this.profile.behaviors[i]!;
      events.push({
        violationId: bs.violationId ?? violationIdFor(s.thing, b.key, key, nowMs),
        thingName: s.thing,
        behavior: b.behavior.name,
        metric: b.behavior.metric,
        event: 'alarm-invalidated',
        comparisonOperator: b.behavior.criteria.comparisonOperator,
        t: nowMs,
        offender,
        action: b.behavior.edge.action,
        suppressAlerts: b.behavior.suppressAlerts,
      });
      bs.inAlarm = false;
      delete bs.violationId;
    });
  }
}
