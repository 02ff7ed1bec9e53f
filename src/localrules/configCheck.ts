// The behaviors part of configuration validation: plugged into validateConfig(raw, [behaviorsCheck]) so a
// configuration update with a bad behavior is refused with `behaviors[i].field: message` errors.
import type { ComponentConfig } from '../config/schema.ts';
import type { ConfigCheck } from '../config/validate.ts';
import { type Behavior, parseBehaviors } from './behaviors.ts';
import type { EvaluatorOptions } from './evaluator.ts';

export const behaviorsCheck: ConfigCheck = (config: ComponentConfig) => {
  const r = parseBehaviors(config.behaviors, 'behaviors');
  return r.ok ? [] : r.errors;
};

/** The typed behaviors of an already validated configuration (behaviorsCheck passed). */
export function behaviorsOf(config: ComponentConfig): Behavior[] {
  const r = parseBehaviors(config.behaviors, 'behaviors');
  if (!r.ok) throw new Error(`behaviors were not validated: ${r.errors.join('; ')}`);
  return r.value;
}

/** Evaluator options from the validated configuration. */
export function evaluatorOptionsOf(config: ComponentConfig): EvaluatorOptions {
  const longestWindowMs = Math.max(0, ...behaviorsOf(config).map((b) => (b.criteria.durationSeconds ?? 0) * 1000));
  return {
    invalidateAfterMs: config.violations.invalidateAfterSeconds * 1000,
    // A process must be remembered at least as long as its longest window, and for a minute at least.
    processIdleMs: Math.max(60_000, longestWindowMs, config.sampling.intervalMs * 10),
    statistics: {
      windowMs: config.statistics.windowSeconds * 1000,
      maxSamples: config.statistics.maxSamples,
      minSamples: config.statistics.minSamples,
    },
  };
}
