// Reconnect delays: capped exponential backoff with jitter. Pure: randomness is an argument.

export interface BackoffPolicy {
  /** Delay before the second attempt (the first retry), ms. */
  initialMs: number;
  /** Upper bound of any delay, ms. */
  maxMs: number;
  /** Growth per failed attempt. */
  factor: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 30_000, factor: 2 };

/**
 * Delay after `failures` consecutive failures (1 = first failure). "Equal jitter": half the capped
 * exponential step is fixed and half random, so clients that lost the nucleus together do not
 * reconnect in lockstep, yet never retry at once in a hot loop. `random` returns [0, 1).
 */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number): number {
  const n = Math.max(1, Math.floor(failures));
  const step = Math.min(policy.maxMs, policy.initialMs * policy.factor ** (n - 1));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(step / 2 + (step / 2) * r);
}

/** Problems with a policy as `path: message` strings (empty when valid). */
export function backoffPolicyProblems(p: BackoffPolicy): string[] {
  const out: string[] = [];
  if (!(Number.isFinite(p.initialMs) && p.initialMs > 0)) out.push('backoff.initialMs: must be a positive number');
  if (!(Number.isFinite(p.maxMs) && p.maxMs >= p.initialMs)) out.push('backoff.maxMs: must be a number ≥ initialMs');
  if (!(Number.isFinite(p.factor) && p.factor >= 1)) out.push('backoff.factor: must be a number ≥ 1');
  return out;
}
