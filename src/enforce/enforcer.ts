// The Enforcer: takes ViolationEvents, applies the behavior's action to the offender on `in-alarm`,
// reverts on `alarm-cleared` (when asked) and after the ttl, behind the rails, the rate limit and the
// escalation policy. State is persisted atomically after every change and restored on start; nothing
// here depends on IPC or the cloud, so no block is ever lifted because the cloud is unreachable.
import { randomUUID } from 'node:crypto';
import type { ComponentConfig } from '../config/schema.ts';
import type { ViolationEvent } from '../localrules/contracts.ts';
import type { Logger } from '../log.ts';
import { readAncestry } from '../system/procfs.ts';
import {
  type ActionRecord,
  type ActionTarget,
  type ActiveAction,
  type ApplyRequest,
  type BackendMetrics,
  type BackendName,
  ENFORCE_ACTION_TYPES,
  type EnforceActionType,
  type EnforcementBackend,
  type ViolationRef,
} from './actionModel.ts';
import { loadEnforcementState, saveEnforcementState } from './activeStore.ts';
import type { AuditLog } from './auditLog.ts';
import { activeKey, escalatedTtlMs, MAX_TIMER_MS, OffenceBook, offenceKey, RateLimiter, targetKey } from './enforcementPolicy.ts';
import type { HostFacts } from './hostFacts.ts';
import { ProcessIdentityError } from './processBackend.ts';
import { type ResolverDeps, recheckTarget, resolveTarget } from './targetResolver.ts';
import { parseCidr } from './targetValidation.ts';
import { checkViolationEvent } from './violationCheck.ts';

export type EnforcementConfig = ComponentConfig['enforcement'];

export type EnforcerBackends = Readonly<Record<BackendName, EnforcementBackend>>;

export interface EnforcerOptions {
  config: EnforcementConfig;
  backends: EnforcerBackends;
  hostFacts: HostFacts;
  /** the persisted active actions (JSON, written atomically) */
  statePath: string;
  audit: AuditLog;
  logger: Logger;
  /** every action record (applied, reverted, refused …) with its violation: the lead forwards these to the cloud */
  onAction?: (record: ActionRecord) => void;
  now?: () => number;
  /** the agent's pid for the rails (default: this process) */
  agentPid?: number;
  cgroupRoot: string | null;
  procRoot?: string;
  /** retry period for a revert that failed (e.g. `ip link set up` refused) */
  revertRetryMs?: number;
}

export interface EnforcerMetrics {
  events: number;
  invalidEvents: number;
  applied: number;
  /** dry-run: actions that passed every rail and would have been applied */
  'would-apply': number;
  restored: number;
  reverted: number;
  /** dry-run: simulated actions whose ttl ran out or whose alarm cleared */
  'would-revert': number;
  refused: number;
  rateLimited: number;
  skipped: number;
  failed: number;
  killed: number;
  active: number;
  backends: Record<BackendName, BackendMetrics>;
}

function violationRef(ev: ViolationEvent): ViolationRef {
  const ref: ViolationRef = {
    violationId: ev.violationId,
    thingName: ev.thingName,
    behavior: ev.behavior,
    metric: ev.metric,
    event: ev.event,
    t: ev.t,
    offender: ev.offender,
  };
  if (ev.value !== undefined) ref.value = ev.value;
  if (ev.threshold !== undefined) ref.threshold = ev.threshold;
  return ref;
}

/** The one place that picks the backend of a new action (a persisted one names its own). */
function backendNameFor(type: EnforceActionType, dryRun: boolean): BackendName {
  if (dryRun) return 'dry-run';
  if (type === 'address-block' || type === 'interface-quarantine') return 'nft';
  if (type === 'interface-down') return 'link';
  return 'process';
}

export class Enforcer {
  readonly backends: EnforcerBackends;
  readonly #o: EnforcerOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #limiter: RateLimiter;
  readonly #dryRunLimiter: RateLimiter;
  readonly #deps: ResolverDeps;
  #offences: OffenceBook;
  readonly #active = new Map<string, ActiveAction>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  /** process-terminate in progress (SIGTERM sent), by target key, until the backend reports the end */
  readonly #terminating = new Map<string, { id: string; violation: ViolationRef }>();
  #queue: Promise<unknown> = Promise.resolve();
  #stopped = false;
  readonly #m = {
    events: 0,
    invalidEvents: 0,
    applied: 0,
    'would-apply': 0,
    restored: 0,
    reverted: 0,
    'would-revert': 0,
    refused: 0,
    rateLimited: 0,
    skipped: 0,
    failed: 0,
    killed: 0,
  };

  constructor(options: EnforcerOptions) {
    this.#o = options;
    this.backends = options.backends;
    this.#log = options.logger;
    this.#now = options.now ?? Date.now;
    const c = options.config;
    this.#limiter = new RateLimiter(c.maxActionsPerMinute);
    this.#dryRunLimiter = new RateLimiter(c.maxActionsPerMinute);
    this.#offences = new OffenceBook(c.maxTtlSeconds * 1000);
    const agentPid = options.agentPid ?? process.pid;
    this.#deps = {
      hostFacts: options.hostFacts,
      processRails: {
        agentPid,
        agentAncestors: new Set(
          readAncestry(agentPid, options.procRoot)
            .slice(1)
            .map((p) => p.pid),
        ),
        protectedProcesses: new Set(c.protectedProcesses),
      },
      // Invalid CIDRs are rejected by checkEnforcementConfig before we get here; parse again to be total.
      neverBlock: c.neverBlockCidrs.flatMap((s, i) => {
        try {
          return [parseCidr(s, `enforcement.neverBlockCidrs[${i}]`)];
        } catch (err) {
          this.#log.error({ err }, 'ignoring an invalid never-block CIDR');
          return [];
        }
      }),
      allowDefaultRouteInterface: c.allowDefaultRouteInterface,
      cgroupRoot: options.cgroupRoot,
      ...(options.procRoot === undefined ? {} : { procRoot: options.procRoot }),
    };
  }

  /** Serialises decisions: "already active", the rate limit and the state file see one event at a time. */
  #enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #emit(fields: ActionRecord): ActionRecord {
    const record: ActionRecord = { recordId: randomUUID(), ...fields };
    this.#m[record.outcome]++;
    try {
      this.#o.audit.append(record);
    } catch (err) {
      // An audit write failure must not undo or block enforcement; it is logged loudly instead.
      this.#log.error({ err, record }, 'audit log write failed');
    }
    const level = record.outcome === 'failed' ? 'error' : record.outcome === 'refused' ? 'warn' : 'info';
    this.#log[level](
      {
        outcome: record.outcome,
        type: record.type,
        reason: record.reason,
        target: record.target,
        violationId: record.violation.violationId,
        dryRun: record.dryRun,
      },
      record.detail ?? record.outcome,
    );
    try {
      this.#o.onAction?.(record);
    } catch (err) {
      this.#log.error({ err }, 'onAction listener threw');
    }
    return record;
  }

  #persist(): void {
    try {
      saveEnforcementState(this.#o.statePath, { version: 1, actions: [...this.#active.values()], offences: this.#offences.toJSON() });
    } catch (err) {
      this.#log.error({ err, path: this.#o.statePath }, 'could not persist enforcement state');
    }
  }

  #request(a: ActiveAction, now: number): ApplyRequest {
    return { type: a.type, target: a.target, ttlMs: Math.max(1000, a.expiresAt - now) };
  }

  #schedule(a: ActiveAction): void {
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, a.expiresAt - this.#now()));
    const timer = setTimeout(() => {
      this.#timers.delete(a.id);
      void this.#enqueue(async () => {
        const current = this.#active.get(a.id);
        if (current === undefined || this.#stopped) return;
        if (this.#now() < current.expiresAt) return this.#schedule(current); // a long ttl re-armed in steps
        await this.#revert(current, 'expired', current.violation);
      });
    }, delay);
    timer.unref();
    this.#timers.set(a.id, timer);
  }

  #clearTimer(id: string): void {
    const t = this.#timers.get(id);
    if (t !== undefined) clearTimeout(t);
    this.#timers.delete(id);
  }

  async #revert(a: ActiveAction, reason: string, violation: ViolationRef): Promise<ActionRecord> {
    this.#clearTimer(a.id);
    const base = { type: a.type, dryRun: a.backend === 'dry-run', actionId: a.id, target: a.target, reason, violation };
    try {
      const detail = await this.backends[a.backend].revert(this.#request(a, this.#now()));
      this.#active.delete(a.id);
      this.#persist();
      // A simulated action was never in force: lifting it changes nothing either.
      return this.#emit({ t: this.#now(), outcome: base.dryRun ? 'would-revert' : 'reverted', detail, ...base });
    } catch (err) {
      // Keep it active and try again later: a failed `ip link set up` must not be forgotten.
      const retry = setTimeout(() => {
        void this.#enqueue(async () => {
          const current = this.#active.get(a.id);
          if (current !== undefined && !this.#stopped) await this.#revert(current, reason, violation);
        });
      }, this.#o.revertRetryMs ?? 60_000);
      retry.unref();
      this.#timers.set(a.id, retry);
      return this.#emit({ t: this.#now(), outcome: 'failed', detail: `revert failed, retrying: ${(err as Error).message}`, ...base });
    }
  }

  /** Restore persisted actions with their remaining time, after re-checking every rail. */
  start(): Promise<ActionRecord[]> {
    return this.#enqueue(async () => {
      const loaded = loadEnforcementState(this.#o.statePath);
      for (const reason of loaded.errors)
        this.#log.warn({ path: this.#o.statePath, reason }, 'enforcement state: left out what cannot be trusted');
      this.#offences = new OffenceBook(this.#o.config.maxTtlSeconds * 1000, 10_000, loaded.state.offences);
      const records: ActionRecord[] = [];
      for (const a of loaded.state.actions) {
        const now = this.#now();
        this.#active.set(a.id, a);
        if (now >= a.expiresAt) {
          records.push(await this.#revert(a, 'expired', a.violation));
          continue;
        }
        if (a.backend !== 'dry-run' && this.#o.config.mode === 'dry-run') {
          // Decision: switching to dry-run means "stop enforcing"; a real action left in force would surprise.
          records.push(await this.#revert(a, 'mode-dry-run', a.violation));
          continue;
        }
        if (a.backend === 'dry-run') {
          // Nothing was in force, so there is nothing to put back and nothing to report: the simulated action
          // only keeps its target "already active" and ends with a would-revert at its expiry.
          this.#schedule(a);
          continue;
        }
        let rail: Awaited<ReturnType<typeof recheckTarget>>;
        try {
          rail = await recheckTarget(a.type, a.target, this.#deps);
        } catch (err) {
          rail = { code: 'recheck-failed', detail: (err as Error).message };
        }
        if (rail !== null) {
          records.push(await this.#revert(a, `rail-on-restore:${rail.code}`, a.violation));
          continue;
        }
        const base = {
          type: a.type,
          dryRun: false,
          actionId: a.id,
          target: a.target,
          violation: a.violation,
          expiresAt: a.expiresAt,
          escalationLevel: a.escalationLevel,
        };
        try {
          const req = this.#request(a, now);
          const detail = await this.backends[a.backend].apply(req);
          this.#schedule(a);
          records.push(this.#emit({ t: this.#now(), outcome: 'restored', detail, ttlSeconds: req.ttlMs / 1000, ...base }));
        } catch (err) {
          this.#active.delete(a.id);
          const reason = err instanceof ProcessIdentityError ? err.code : 'backend-error';
          records.push(
            this.#emit({ t: this.#now(), outcome: 'failed', reason, detail: `restore failed: ${(err as Error).message}`, ...base }),
          );
        }
      }
      this.#persist();
      return records;
    });
  }

  /** Act on one violation event. Resolves with the records it produced (also audited and sent to onAction). */
  handle(ev: ViolationEvent): Promise<ActionRecord[]> {
    this.#m.events++;
    const problem = checkViolationEvent(ev);
    if (problem !== null) {
      this.#m.invalidEvents++;
      this.#log.warn({ problem }, 'ignoring an invalid violation event');
      return Promise.resolve([]);
    }
    return this.#enqueue(async () => {
      if (this.#stopped) return [];
      if (ev.event === 'in-alarm') return this.#onAlarm(ev);
      if (ev.event === 'alarm-cleared') return this.#onCleared(ev);
      // alarm-invalidated (no datapoints for long, docs/localrules.md#violations): silence is not innocence,
      // the action keeps running to its ttl.
      return [];
    });
  }

  async #onAlarm(ev: ViolationEvent): Promise<ActionRecord[]> {
    const spec = ev.action;
    if (spec === undefined || spec.type === 'none') return [];
    const type = spec.type;
    const violation = violationRef(ev);
    const dryRun = this.#o.config.mode === 'dry-run' || spec.dryRun === true;
    const refused = (reason: string, detail: string, extra: Partial<ActionRecord> = {}): ActionRecord =>
      this.#emit({ t: this.#now(), outcome: 'refused', type, dryRun, reason, detail, violation, ...extra });
    if (!ENFORCE_ACTION_TYPES.includes(type)) return [refused('unknown-action', `unknown action type ${JSON.stringify(type)}`)];
    for (const a of this.#active.values()) {
      if (a.violation.violationId === ev.violationId && a.type === type) return []; // a repeated in-alarm
    }
    let res: Awaited<ReturnType<typeof resolveTarget>>;
    try {
      res = await resolveTarget(type, ev, this.#deps);
    } catch (err) {
      return [
        this.#emit({ t: this.#now(), outcome: 'failed', type, dryRun, reason: 'host-facts', detail: (err as Error).message, violation }),
      ];
    }
    if (!res.ok) return [refused(res.refusal.code, res.refusal.detail)];
    const records: ActionRecord[] = [];
    if (res.partial !== undefined) records.push(refused(res.partial.code, res.partial.detail));
    const target = res.target;
    const key = activeKey(type, target);
    const existing = [...this.#active.values()].find((a) => activeKey(a.type, a.target) === key);
    if (existing !== undefined) {
      const state = existing.backend === 'dry-run' ? 'already simulated' : 'already in force';
      records.push(
        this.#emit({
          t: this.#now(),
          outcome: 'skipped',
          type,
          dryRun,
          target,
          reason: 'already-active',
          detail: `${state} as ${existing.id} until ${new Date(existing.expiresAt).toISOString()}`,
          violation,
        }),
      );
      return records;
    }
    const now = this.#now();
    // Simulated actions have their own budget: dry-run says "rate-limited" where enforcing would, but a
    // dry-run behavior never uses up the slots of the behaviors that act.
    if (!(dryRun ? this.#dryRunLimiter : this.#limiter).tryTake(now)) {
      this.#m.rateLimited++;
      records.push(refused('rate-limited', `more than ${this.#o.config.maxActionsPerMinute} actions in the last minute`, { target }));
      return records;
    }
    const c = this.#o.config;
    const oKey = offenceKey(ev.offender, target);
    const level = this.#offences.level(oKey, now);
    const base =
      spec.ttlSeconds !== undefined && Number.isFinite(spec.ttlSeconds) && spec.ttlSeconds > 0 ? spec.ttlSeconds : c.defaultTtlSeconds;
    const ttlMs = escalatedTtlMs(base, c.escalationFactor, level, c.maxTtlSeconds);
    const backend = this.backends[backendNameFor(type, dryRun)];
    let detail: string;
    try {
      detail = await backend.apply({ type, target, ttlMs });
    } catch (err) {
      const reason = err instanceof ProcessIdentityError ? err.code : 'backend-error';
      records.push(
        this.#emit({ t: this.#now(), outcome: 'failed', type, dryRun, target, reason, detail: (err as Error).message, violation }),
      );
      return records;
    }
    // Escalation counts actions taken: a dry-run offence leaves the repeat-offender level where it was, so
    // turning enforcement on later does not start with doubled ttls for what was only simulated.
    if (!dryRun) this.#offences.record(oKey, now);
    const id = randomUUID();
    const record: ActionRecord = {
      t: this.#now(),
      outcome: dryRun ? 'would-apply' : 'applied',
      type,
      dryRun,
      actionId: id,
      target,
      detail,
      escalationLevel: level,
      violation,
    };
    if (type === 'process-terminate') {
      if (!dryRun) this.#terminating.set(targetKey(target), { id, violation });
    } else {
      // terminate cannot be undone: nothing to keep active, only the offence count remembers it
      const a: ActiveAction = {
        id,
        type,
        target,
        backend: backend.name,
        appliedAt: now,
        expiresAt: now + ttlMs,
        escalationLevel: level,
        revertOnClear: spec.revertOnClear ?? c.revertOnClear,
        offenceKey: oKey,
        violation,
      };
      this.#active.set(id, a);
      this.#schedule(a);
      record.ttlSeconds = ttlMs / 1000;
      record.expiresAt = a.expiresAt;
    }
    this.#persist();
    records.push(this.#emit(record));
    return records;
  }

  async #onCleared(ev: ViolationEvent): Promise<ActionRecord[]> {
    const records: ActionRecord[] = [];
    for (const a of [...this.#active.values()]) {
      if (a.violation.violationId === ev.violationId && a.revertOnClear)
        records.push(await this.#revert(a, 'alarm-cleared', violationRef(ev)));
    }
    return records;
  }

  /**
   * The process backend's SIGTERM follow-up finished (wired in createEnforcer): `killed` when the
   * process ignored SIGTERM for stopGraceMs and got SIGKILL — audited with the violation that caused it.
   */
  terminateDone(target: ActionTarget, outcome: 'exited' | 'killed'): void {
    const key = targetKey(target);
    const pending = this.#terminating.get(key);
    this.#terminating.delete(key);
    if (outcome === 'killed' && pending !== undefined) {
      this.#emit({
        t: this.#now(),
        outcome: 'killed',
        type: 'process-terminate',
        dryRun: false,
        actionId: pending.id,
        target,
        detail: `SIGKILL after ${this.#o.config.stopGraceMs} ms`,
        violation: pending.violation,
      });
    }
  }

  active(): ActiveAction[] {
    return [...this.#active.values()];
  }

  metrics(): EnforcerMetrics {
    return {
      ...this.#m,
      active: this.#active.size,
      backends: {
        process: this.backends.process.metrics(),
        nft: this.backends.nft.metrics(),
        link: this.backends.link.metrics(),
        'dry-run': this.backends['dry-run'].metrics(),
      },
    };
  }

  /**
   * Stops timers and backends and persists the state. Never reverts: nft elements keep their kernel
   * timeouts, suspended processes stay suspended until the next start restores (or expires) them.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#queue;
    for (const id of [...this.#timers.keys()]) this.#clearTimer(id);
    const raced = (name: string, p: Promise<void>) =>
      Promise.race([p, new Promise<void>((resolve) => setTimeout(resolve, 5000).unref())]).catch((err: unknown) =>
        this.#log.error({ err, backend: name }, 'backend shutdown failed'),
      );
    await Promise.all(Object.entries(this.backends).map(([name, b]) => raced(name, b.shutdown())));
    this.#persist();
  }
}
