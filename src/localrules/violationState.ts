// The violation state machine of one (thing, behavior[, process]) — API `BehaviorCriteria`,
// docs/localrules.md#violations: `in-alarm` after consecutiveDatapointsToAlarm violating datapoints; while in
// alarm, `alarm-cleared` after consecutiveDatapointsToClear normal ones; one active violation at a time. Pure.
import type { Verdict } from './criterion.ts';

export interface ViolationCounters {
  inAlarm: boolean;
  /** consecutive violating datapoints while not in alarm */
  violating: number;
  /** consecutive normal datapoints while in alarm */
  normal: number;
  /** id of the active violation (set at in-alarm) */
  violationId?: string;
}

export type Transition = 'in-alarm' | 'alarm-cleared' | undefined;

export function newCounters(): ViolationCounters {
  return { inAlarm: false, violating: 0, normal: 0 };
}

/** Apply one datapoint's verdict; returns the transition it causes, if any. */
export function step(s: ViolationCounters, verdict: Verdict, toAlarm: number, toClear: number): Transition {
  if (verdict === 'skip') return undefined;
  if (!s.inAlarm) {
    if (verdict === 'violating') {
      s.violating++;
      if (s.violating >= toAlarm) {
        s.inAlarm = true;
        s.violating = 0;
        s.normal = 0;
        return 'in-alarm';
      }
    } else s.violating = 0;
    return undefined;
  }
  if (verdict === 'violating') {
    s.normal = 0;
    return undefined;
  }
  s.normal++;
  // An empty port/address list clears at once (troubleshooting guide: "the violation is cleared"), whatever
  // consecutiveDatapointsToClear says (the documentation does not say; our reading is in docs/localrules.md).
  if (verdict === 'empty' || s.normal >= toClear) {
    s.inAlarm = false;
    s.normal = 0;
    s.violating = 0;
    delete s.violationId;
    return 'alarm-cleared';
  }
  return undefined;
}
