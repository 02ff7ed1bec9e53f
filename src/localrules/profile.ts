// A validated behaviors array compiled for evaluation: criteria pre-built (port/CIDR sets, numbers),
// behaviors indexed by metric, scope flags resolved. Built once per configuration, shared read-only.
import { createHash } from 'node:crypto';
import type { Behavior } from './behaviors.ts';
import type { MetricValue } from './contracts.ts';
import { type CompiledCriterion, compileCriterion } from './criterion.ts';

export interface CompiledBehavior {
  index: number;
  behavior: Behavior;
  /** name + hash of metric and criteria: state survives a new configuration only if the rule is unchanged */
  key: string;
  criterion: CompiledCriterion;
  /** edge.thingOverrides, compiled */
  overrides: Map<string, { criterion: CompiledCriterion; value: MetricValue }>;
  /** sliding window length for a delta metric with durationSeconds; 0 = each datapoint on its own */
  windowMs: number;
  /** greater-than(-equals): a lower bound, which a partially filled window must not trip */
  lowerBound: boolean;
  host: boolean;
  processes: boolean;
  devices: boolean;
  things: Set<string>;
}

export interface CompiledProfile {
  behaviors: CompiledBehavior[];
  byMetric: Map<string, CompiledBehavior[]>;
  keys: readonly string[];
}

export function behaviorKey(b: Behavior): string {
  const h = createHash('sha256')
    .update(JSON.stringify([b.metric, b.criteria]))
    .digest('hex')
    .slice(0, 12);
  return `${b.name}#${h}`;
}

export function compileProfile(behaviors: readonly Behavior[]): CompiledProfile {
  const compiled = behaviors.map((behavior, index): CompiledBehavior => {
    const c = behavior.criteria;
    const overrides = new Map<string, { criterion: CompiledCriterion; value: MetricValue }>();
    for (const [thing, value] of Object.entries(behavior.edge.thingOverrides)) {
      overrides.set(thing, { criterion: compileCriterion(c.comparisonOperator, value), value });
    }
    const windowed = behavior.metricInfo.timing === 'delta' && c.durationSeconds !== undefined;
    return {
      index,
      behavior,
      key: behaviorKey(behavior),
      criterion: compileCriterion(c.comparisonOperator, c.value),
      overrides,
      windowMs: windowed ? c.durationSeconds! * 1000 : 0,
      lowerBound: c.comparisonOperator === 'greater-than' || c.comparisonOperator === 'greater-than-equals',
      host: behavior.edge.scope.host,
      processes: behavior.edge.scope.processes,
      devices: behavior.edge.scope.devices,
      things: new Set(behavior.edge.scope.things),
    };
  });
  const byMetric = new Map<string, CompiledBehavior[]>();
  for (const b of compiled) {
    const list = byMetric.get(b.behavior.metric);
    if (list) list.push(b);
    else byMetric.set(b.behavior.metric, [b]);
  }
  return { behaviors: compiled, byMetric, keys: compiled.map((b) => b.key) };
}
