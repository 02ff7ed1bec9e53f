// Judging one datapoint value against one behavior's criterion (docs/localrules.md). A behavior describes
// NORMAL ("you are specifying how you expect your device to behave normally", Device Defender troubleshooting
// guide): the datapoint violates when the criterion is false.

import { CidrSet } from './cidrSet.ts';
import type { MetricValue } from './contracts.ts';
import type { ComparisonOperator } from './metrics.ts';

/**
 * - `violating` / `normal`: counts toward consecutiveDatapointsToAlarm / …ToClear.
 * - `empty`: an empty port or address list — "always considered in conformity … If the corresponding
 *   behavior was in violation, the violation is cleared" (troubleshooting guide): it clears at once.
 * - `skip`: the value does not fit this behavior (another container); not a datapoint for it.
 */
export type Verdict = 'normal' | 'violating' | 'empty' | 'skip';

export type CompiledCriterion =
  | { kind: 'numeric'; op: ComparisonOperator; threshold: number }
  | { kind: 'statistical'; op: ComparisonOperator }
  | { kind: 'ports'; allow: boolean; set: Set<number> }
  | { kind: 'cidrs'; allow: boolean; set: CidrSet }
  | { kind: 'numbers'; allow: boolean; set: Set<number> }
  | { kind: 'strings'; allow: boolean; set: Set<string> };

/** Compile a validated operator + value (or statistical threshold when value is undefined). */
export function compileCriterion(op: ComparisonOperator, value: MetricValue | undefined): CompiledCriterion {
  if (value === undefined) return { kind: 'statistical', op };
  // in-*: allow-list (every element must be in the set); not-in-*: deny-list (none may be).
  const allow = op === 'in-port-set' || op === 'in-cidr-set' || op === 'in-set';
  if ('count' in value) return { kind: 'numeric', op, threshold: value.count };
  if ('number' in value) return { kind: 'numeric', op, threshold: value.number };
  if ('ports' in value) return { kind: 'ports', allow, set: new Set(value.ports) };
  if ('cidrs' in value) return { kind: 'cidrs', allow, set: new CidrSet(value.cidrs) };
  if ('numbers' in value) return { kind: 'numbers', allow, set: new Set(value.numbers) };
  return { kind: 'strings', allow, set: new Set(value.strings) };
}

/** value OP threshold, i.e. "normal". */
export function compareNumbers(op: ComparisonOperator, value: number, threshold: number): boolean {
  switch (op) {
    case 'less-than':
      return value < threshold;
    case 'less-than-equals':
      return value <= threshold;
    case 'greater-than':
      return value > threshold;
    case 'greater-than-equals':
      return value >= threshold;
    default:
      return false;
  }
}

/** The numeric reading of a count/number value; undefined for lists. */
export function numericValue(v: MetricValue): number | undefined {
  if ('count' in v) return v.count;
  if ('number' in v) return v.number;
  return undefined;
}

function judgeList<T>(elements: readonly T[], allow: boolean, has: (e: T) => boolean): Verdict {
  if (elements.length === 0) return 'empty';
  for (const e of elements) {
    if (has(e) !== allow) return 'violating';
  }
  return 'normal';
}

/**
 * Judge a list value. For in-set / not-in-set on number-list and string-list custom metrics the service
 * documents nothing beyond their names (API `BehaviorCriteria`); we give them the same allow-list / deny-list meaning as ports and CIDRs
 * (docs/localrules.md "in-set and not-in-set"), numbers compared by numeric equality.
 */
export function judgeListValue(c: CompiledCriterion, v: MetricValue): Verdict {
  switch (c.kind) {
    case 'ports':
      return 'ports' in v ? judgeList(v.ports, c.allow, (p) => c.set.has(p)) : 'skip';
    case 'cidrs':
      return 'cidrs' in v ? judgeList(v.cidrs, c.allow, (a) => c.set.has(a)) : 'skip';
    case 'numbers':
      return 'numbers' in v ? judgeList(v.numbers, c.allow, (n) => c.set.has(n)) : 'skip';
    case 'strings':
      return 'strings' in v ? judgeList(v.strings, c.allow, (s) => c.set.has(s)) : 'skip';
    default:
      return 'skip';
  }
}
