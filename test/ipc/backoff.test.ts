import { describe, expect, it } from 'vitest';
import { backoffDelay, backoffPolicyProblems, DEFAULT_BACKOFF } from '../../src/ipc/backoff.ts';

const policy = { initialMs: 100, maxMs: 1000, factor: 2 };

describe('backoffDelay', () => {
  it('grows exponentially and is capped', () => {
    const top = (n: number) => backoffDelay(n, policy, () => 0.999999);
    expect([1, 2, 3, 4, 5, 10].map(top)).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
  it('jitter stays within [step/2, step]', () => {
    expect(backoffDelay(3, policy, () => 0)).toBe(200);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(300);
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(4, policy, Math.random);
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(800);
    }
  });
  it('treats nonsense attempt numbers and random values sanely', () => {
    expect(backoffDelay(0, policy, () => 2)).toBe(100);
    expect(backoffDelay(-3, policy, () => -1)).toBe(50);
  });
  it('validates a policy with path: message errors', () => {
    expect(backoffPolicyProblems(DEFAULT_BACKOFF)).toEqual([]);
    expect(backoffPolicyProblems({ initialMs: 0, maxMs: -1, factor: 0.5 })).toEqual([
      'backoff.initialMs: must be a positive number',
      'backoff.maxMs: must be a number ≥ initialMs',
      'backoff.factor: must be a number ≥ 1',
    ]);
  });
});
