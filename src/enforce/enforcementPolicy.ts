// Pure policy: rate limiting, escalation of repeat offenders (fail2ban bantime.increment habit),
// ttl arithmetic and the keys that say "same target" / "same offender". No I/O; time is an argument.
import type { Offender } from '../localrules/contracts.ts';
import type { ActionTarget, EnforceActionType } from './actionModel.ts';

/** Sliding-window limiter: at most `max` actions in any `windowMs` (enforcement.maxActionsPerMinute). */
export class RateLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  #stamps: number[] = [];

  constructor(max: number, windowMs = 60_000) {
    this.#max = max;
    this.#windowMs = windowMs;
  }

  /** Takes a slot if one is free at `now`; false = refuse (and the refusal is audited by the caller). */
  tryTake(now: number): boolean {
    this.#stamps = this.#stamps.filter((s) => s > now - this.#windowMs);
    if (this.#stamps.length >= this.#max) return false;
    this.#stamps.push(now);
    return true;
  }
}

/** ttl × factor^level, capped by maxTtl (both in seconds); result in ms. */
export function escalatedTtlMs(baseSeconds: number, factor: number, level: number, maxSeconds: number): number {
  const seconds = Math.min(baseSeconds * factor ** level, maxSeconds);
  return Math.round(Math.max(1, seconds) * 1000);
}

export interface OffenceEntry {
  count: number;
  lastAt: number;
}

/**
 * How often an offender was acted on. An offender with no action for `forgetAfterMs` starts again at
 * level 0 (decision: forgetAfter = maxTtlSeconds, i.e. a clean period as long as the longest ban).
 * Bounded: the oldest entries go first.
 */
export class OffenceBook {
  readonly #entries = new Map<string, OffenceEntry>();
  readonly #forgetAfterMs: number;
  readonly #maxEntries: number;

  constructor(forgetAfterMs: number, maxEntries = 10_000, initial: Record<string, OffenceEntry> = {}) {
    this.#forgetAfterMs = forgetAfterMs;
    this.#maxEntries = maxEntries;
    for (const [k, v] of Object.entries(initial).sort((a, b) => a[1].lastAt - b[1].lastAt)) this.#entries.set(k, v);
  }

  /** The escalation level for the next action on `key`: how many earlier actions still count. */
  level(key: string, now: number): number {
    const e = this.#entries.get(key);
    if (e === undefined || now - e.lastAt > this.#forgetAfterMs) return 0;
    return e.count;
  }

  record(key: string, now: number): void {
    const count = this.level(key, now) + 1;
    this.#entries.delete(key); // re-insert so Map order stays oldest-first
    this.#entries.set(key, { count, lastAt: now });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  toJSON(): Record<string, OffenceEntry> {
    return Object.fromEntries(this.#entries);
  }
}

/**
 * Who counts as "the same offender" for escalation: a process by its program (a restarted rogue agent
 * gets a new pid but is the same repeat offender), a device by thing name, otherwise the target itself.
 */
export function offenceKey(offender: Offender, target: ActionTarget): string {
  // Program + name + cgroup: interpreters share one exe (every Python script is /usr/bin/python3), so the
  // exe alone would make unrelated scripts repeat offenders of each other; a restarted copy of the same
  // program in the same service still is one.
  if (offender.kind === 'process') return `process:${offender.exe ?? ''}|${offender.comm}|${offender.cgroup ?? ''}`;
  if (offender.kind === 'device') return `device:${offender.thingName}`;
  return targetKey(target);
}

/** Identity of a target for "already active" checks. */
export function targetKey(target: ActionTarget): string {
  switch (target.kind) {
    case 'process':
      return `process:${target.pid}:${target.startTime}`;
    case 'addresses':
      return `addresses:${[...target.addresses].sort().join(',')}`;
    case 'interface':
      return `interface:${target.ifname}`;
  }
}

export function activeKey(type: EnforceActionType, target: ActionTarget): string {
  return `${type}|${targetKey(target)}`;
}

/** setTimeout fires at once for delays above 2^31-1 ms (~24.8 days); longer ttls are re-armed. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
