// The Enforcer: takes ViolationEvents, applies the behavior's action to the offender on `in-alarm`,
// reverts on `alarm-cleared` (when asked) and after the ttl, behind the rails, the rate limit and the
// escalation policy. State is persisted atomically after every change and restored on start; nothing
// here depends on IPC or the cloud, so no block is ever lifted because the cloud is unreachable.
// The kernel is the truth: every change is read back (nft element present, process stopped, link down)
// and the actions in force are reconciled every few seconds; one found lifted outside the agent (an
// element deleted by hand, a link set up, a stopped process continued) is recorded as an operator's lift
// and its offender left alone for the quiet window — never reported "already active" while ineffective.
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
  type Operator,
  type ReadBack,
  type ViolationRef,
} from './actionModel.ts';
import { loadEnforcementState, type PauseState, type QuietEntry, saveEnforcementState } from './activeStore.ts';
import type { AuditLog, CommandAuditRecord } from './auditLog.ts';
import { describeOperator, railsPassed } from './decisionText.ts';
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
  /** /proc/sys/kernel/random/boot_id: persisted actions restored on the same boot are read back, not re-applied blindly */
  bootId?: string;
  /** how often the actions in force are read back from the kernel (0: only on demand); default 10 s */
  reconcileMs?: number;
  /** how long a read-back right after a change waits for it to land (a signal delivered, a freeze done); default 1 s */
  applySettleMs?: number;
}

/** What a reconcile found. */
export interface ReconcileResult {
  t: number;
  checked: number;
  inForce: number;
  /** lifted outside the agent, now recorded as lifted */
  lifted: ActionRecord[];
  /** the target is gone (process exited, interface removed): dropped */
  gone: ActionRecord[];
  /** lost wholesale by the kernel (nft table flushed): applied again */
  restored: ActionRecord[];
  /** the read-back failed: kept as they are */
  unknown: number;
}

/** An action in force with its latest read-back. */
export type ActiveActionView = ActiveAction & { readBack?: ReadBack };

export interface EnforcementStatus {
  /** what decisions do now: `dry-run` when configured so or paused */
  mode: 'enforce' | 'dry-run';
  configuredMode: 'enforce' | 'dry-run';
  paused?: PauseState;
  active: ActiveActionView[];
  quiet: Array<QuietEntry & { offenceKey: string }>;
  lastReconcile?: { t: number; checked: number; inForce: number; lifted: number; gone: number; restored: number; unknown: number };
}

/** A lookup or a command that cannot be carried out; the message is `path: message`. */
export class EnforcementCommandError extends Error {
  override name = 'EnforcementCommandError';
}

const MAX_QUIET_ENTRIES = 10_000;

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
  lifted: number;
  reconciles: number;
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
  /** offenders recently lifted by an operator, by offence key */
  readonly #quiet = new Map<string, QuietEntry>();
  #pause: PauseState | undefined;
  /** latest read-back per active action id */
  readonly #readBacks = new Map<string, ReadBack>();
  #reconcileTimer: NodeJS.Timeout | undefined;
  #lastReconcile: EnforcementStatus['lastReconcile'];
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
    lifted: 0,
    reconciles: 0,
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
    if (record.readBack !== undefined && record.actionId !== undefined) this.#readBacks.set(record.actionId, record.readBack);
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
      const now = this.#now();
      for (const [k, q] of this.#quiet) if (q.until <= now) this.#quiet.delete(k);
      saveEnforcementState(this.#o.statePath, {
        version: 1,
        actions: [...this.#active.values()],
        offences: this.#offences.toJSON(),
        ...(this.#quiet.size > 0 ? { quiet: Object.fromEntries(this.#quiet) } : {}),
        ...(this.#pause !== undefined && this.#pause.until > now ? { pause: this.#pause } : {}),
        ...(this.#o.bootId === undefined ? {} : { bootId: this.#o.bootId }),
      });
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
      this.#readBacks.delete(a.id);
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

  /** The backend's read-back, never throwing: a failed read is `unknown`, which is never taken as drift. */
  async #readBack(type: EnforceActionType, target: ActionTarget, backend: BackendName, ttlMs: number, settleMs = 0): Promise<ReadBack> {
    try {
      return await this.backends[backend].readBack({ type, target, ttlMs }, settleMs);
    } catch (err) {
      return { state: 'unknown', observed: `read-back failed: ${(err as Error).message}`, at: this.#now() };
    }
  }

  /** Read-backs of many actions, one look at the kernel per backend where it can (nft lists its table once). */
  async #readBackEach(actions: readonly ActiveAction[]): Promise<Map<string, ReadBack>> {
    const out = new Map<string, ReadBack>();
    const byBackend = new Map<BackendName, ActiveAction[]>();
    for (const a of actions) byBackend.set(a.backend, [...(byBackend.get(a.backend) ?? []), a]);
    for (const [name, group] of byBackend) {
      const backend = this.backends[name];
      if (backend.readBackAll !== undefined && group.length > 1) {
        const now = this.#now();
        try {
          const rbs = await backend.readBackAll(group.map((a) => this.#request(a, now)));
          for (const [i, a] of group.entries()) out.set(a.id, rbs[i]!);
        } catch (err) {
          for (const a of group) out.set(a.id, { state: 'unknown', observed: `read-back failed: ${(err as Error).message}`, at: now });
        }
      } else
        for (const a of group) out.set(a.id, await this.#readBack(a.type, a.target, a.backend, Math.max(1000, a.expiresAt - this.#now())));
    }
    return out;
  }

  async #readBackActive(a: ActiveAction): Promise<ReadBack> {
    const rb = await this.#readBack(a.type, a.target, a.backend, Math.max(1000, a.expiresAt - this.#now()));
    if (this.#active.has(a.id)) this.#readBacks.set(a.id, rb);
    return rb;
  }

  #setQuiet(offenceKey: string, entry: QuietEntry): void {
    this.#quiet.delete(offenceKey);
    this.#quiet.set(offenceKey, entry);
    while (this.#quiet.size > MAX_QUIET_ENTRIES) {
      const oldest = this.#quiet.keys().next().value;
      if (oldest === undefined) break;
      this.#quiet.delete(oldest);
    }
  }

  /**
   * An operator's lift — by command, or seen by the read-back (`drift`: changed by hand on the host). The
   * backend's revert tidies up what is left (remaining elements, the link's watchdog, a SIGCONT to a process
   * someone already continued: all harmless); for a drift its failure does not matter, the kernel already
   * shows the action lifted. The offender is then left alone for the quiet window.
   */
  async #lift(
    a: ActiveAction,
    o: { reason: 'operator' | 'drift'; by: Operator; quietMs: number; readBack?: ReadBack },
  ): Promise<ActionRecord> {
    this.#clearTimer(a.id);
    let detail: string;
    try {
      detail = await this.backends[a.backend].revert(this.#request(a, this.#now()));
    } catch (err) {
      if (o.reason === 'operator') {
        this.#schedule(a); // still in force: keep its expiry
        throw new EnforcementCommandError(`actionId: lifting ${a.id} failed, it stays in force: ${(err as Error).message}`);
      }
      detail = `tidying up failed: ${(err as Error).message}`;
    }
    this.#active.delete(a.id);
    this.#readBacks.delete(a.id);
    const now = this.#now();
    const quietUntil = o.quietMs > 0 ? now + o.quietMs : undefined;
    if (quietUntil !== undefined) this.#setQuiet(a.offenceKey, { until: quietUntil, actionId: a.id, by: o.by });
    this.#persist();
    const why =
      o.reason === 'drift'
        ? `${o.readBack?.observed ?? 'not in force'}: changed outside the agent, recorded as an operator's lift`
        : `lifted by ${describeOperator(o.by)}`;
    return this.#emit({
      t: now,
      outcome: 'lifted',
      type: a.type,
      dryRun: a.backend === 'dry-run',
      actionId: a.id,
      target: a.target,
      reason: o.reason,
      detail: `${why}; ${detail}${quietUntil === undefined ? '' : `; no action on this offender until ${new Date(quietUntil).toISOString()}`}`,
      by: o.by,
      ...(quietUntil === undefined ? {} : { quietUntil }),
      ...(o.readBack === undefined ? {} : { readBack: o.readBack }),
      violation: a.violation,
    });
  }

  /** The target is gone (process exited, interface removed): nothing is left to hold or to lift. */
  async #drop(a: ActiveAction, rb: ReadBack): Promise<ActionRecord> {
    this.#clearTimer(a.id);
    try {
      await this.backends[a.backend].revert(this.#request(a, this.#now()));
    } catch {
      /* nothing to revert on a target that is gone; the backend forgets it either way */
    }
    this.#active.delete(a.id);
    this.#readBacks.delete(a.id);
    this.#persist();
    return this.#emit({
      t: this.#now(),
      outcome: 'reverted',
      type: a.type,
      dryRun: a.backend === 'dry-run',
      actionId: a.id,
      target: a.target,
      reason: 'target-gone',
      detail: rb.observed,
      readBack: rb,
      violation: a.violation,
    });
  }

  /** The kernel lost the action wholesale (`lost`): applied again with its remaining time. */
  async #reapply(a: ActiveAction, lost: ReadBack): Promise<ActionRecord> {
    const base = { type: a.type, dryRun: false, actionId: a.id, target: a.target, violation: a.violation, expiresAt: a.expiresAt };
    try {
      const req = this.#request(a, this.#now());
      const detail = await this.backends[a.backend].apply(req);
      const readBack = await this.#readBack(a.type, a.target, a.backend, req.ttlMs, this.#settleMs(a.type));
      return this.#emit({
        t: this.#now(),
        outcome: 'restored',
        reason: 'kernel-lost',
        detail: `${lost.observed}; ${detail}`,
        ttlSeconds: req.ttlMs / 1000,
        readBack,
        ...base,
      });
    } catch (err) {
      return this.#emit({
        t: this.#now(),
        outcome: 'failed',
        reason: 'kernel-lost',
        detail: `re-applying failed: ${(err as Error).message}`,
        ...base,
      });
    }
  }

  #driftLift(a: ActiveAction, rb: ReadBack): Promise<ActionRecord> {
    return this.#lift(a, { reason: 'drift', by: { via: 'host' }, quietMs: this.#o.config.liftQuietSeconds * 1000, readBack: rb });
  }

  #paused(now: number): PauseState | undefined {
    return this.#pause !== undefined && now < this.#pause.until ? this.#pause : undefined;
  }

  #auditCommand(entry: Omit<CommandAuditRecord, 't' | 'record'>): void {
    try {
      this.#o.audit.append({ t: this.#now(), record: 'command', ...entry });
    } catch (err) {
      this.#log.error({ err, command: entry.command }, 'audit log write failed');
    }
  }

  /** Restore persisted actions with their remaining time, after re-checking every rail. */
  start(): Promise<ActionRecord[]> {
    return this.#enqueue(async () => {
      const loaded = loadEnforcementState(this.#o.statePath);
      for (const reason of loaded.errors)
        this.#log.warn({ path: this.#o.statePath, reason }, 'enforcement state: left out what cannot be trusted');
      this.#offences = new OffenceBook(this.#o.config.maxTtlSeconds * 1000, 10_000, loaded.state.offences);
      for (const [k, q] of Object.entries(loaded.state.quiet ?? {})) this.#setQuiet(k, q);
      this.#pause = loaded.state.pause;
      const sameBoot = this.#o.bootId !== undefined && loaded.state.bootId === this.#o.bootId;
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
        if (sameBoot) {
          // Same boot: what the kernel lacks was lifted by someone while we were not looking (after a reboot
          // tables and links are new, and the action is applied again).
          const rb = await this.#readBackActive(a);
          if (rb.state === 'not-in-force') {
            records.push(await this.#driftLift(a, rb));
            continue;
          }
          if (rb.state === 'target-gone') {
            records.push(await this.#drop(a, rb));
            continue;
          }
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
          const readBack = await this.#readBack(a.type, a.target, a.backend, req.ttlMs, this.#settleMs(a.type));
          records.push(this.#emit({ t: this.#now(), outcome: 'restored', detail, ttlSeconds: req.ttlMs / 1000, readBack, ...base }));
        } catch (err) {
          this.#active.delete(a.id);
          const reason = err instanceof ProcessIdentityError ? err.code : 'backend-error';
          records.push(
            this.#emit({ t: this.#now(), outcome: 'failed', reason, detail: `restore failed: ${(err as Error).message}`, ...base }),
          );
        }
      }
      this.#persist();
      const every = this.#o.reconcileMs ?? 10_000;
      if (every > 0 && !this.#stopped) {
        this.#reconcileTimer = setInterval(() => {
          this.reconcile().catch((err: unknown) => this.#log.error({ err }, 'reconcile failed'));
        }, every);
        this.#reconcileTimer.unref();
      }
      return records;
    });
  }

  /** The read-back right after a change waits this long for it to land; a SIGTERM's end is reported by `killed` later. */
  #settleMs(type: EnforceActionType): number {
    return type === 'process-terminate' ? 0 : (this.#o.applySettleMs ?? 1000);
  }

  /**
   * Reads every action in force back from the kernel. Lifted by hand → recorded as an operator's lift
   * (quiet window); target gone → dropped. Runs every reconcileMs and on demand (`actions list`, a lift).
   */
  reconcile(): Promise<ReconcileResult> {
    return this.#enqueue(async () => {
      const r: ReconcileResult = { t: this.#now(), checked: 0, inForce: 0, lifted: [], gone: [], restored: [], unknown: 0 };
      if (this.#stopped) return r;
      this.#m.reconciles++;
      const actions = [...this.#active.values()].filter((a) => a.backend !== 'dry-run');
      const readBacks = await this.#readBackEach(actions);
      for (const a of actions) {
        if (!this.#active.has(a.id)) continue;
        r.checked++;
        const rb = readBacks.get(a.id)!;
        this.#readBacks.set(a.id, rb);
        if (rb.state === 'not-in-force') r.lifted.push(await this.#driftLift(a, rb));
        else if (rb.state === 'target-gone') r.gone.push(await this.#drop(a, rb));
        else if (rb.state === 'lost') r.restored.push(await this.#reapply(a, rb));
        else if (rb.state === 'unknown') r.unknown++;
        else r.inForce++;
      }
      this.#lastReconcile = {
        t: r.t,
        checked: r.checked,
        inForce: r.inForce,
        lifted: r.lifted.length,
        gone: r.gone.length,
        restored: r.restored.length,
        unknown: r.unknown,
      };
      return r;
    });
  }

  /** An action in force by its id or a unique prefix of it (at least 4 characters). */
  #find(ref: string): ActiveAction {
    const exact = this.#active.get(ref);
    if (exact !== undefined) return exact;
    const matches = ref.length >= 4 ? [...this.#active.values()].filter((a) => a.id.startsWith(ref)) : [];
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1)
      throw new EnforcementCommandError(`actionId: ${JSON.stringify(ref)} matches ${matches.length} actions in force; give more of the id`);
    throw new EnforcementCommandError(`actionId: no action in force with id ${JSON.stringify(ref)}`);
  }

  /**
   * Lift an action in force now, for an operator: reverted, audited with who, and its offender left alone
   * for `quietForSeconds` (default enforcement.liftQuietSeconds). Rejects with `actionId: …` when there is
   * no such action or the revert fails (it then stays in force).
   */
  lift(ref: string, o: { by: Operator; quietForSeconds?: number }): Promise<ActionRecord> {
    return this.#enqueue(async () => {
      if (this.#stopped) throw new EnforcementCommandError('actionId: the agent is stopping');
      const a = this.#find(ref);
      const quietMs = (o.quietForSeconds ?? this.#o.config.liftQuietSeconds) * 1000;
      return this.#lift(a, { reason: 'operator', by: o.by, quietMs });
    });
  }

  /** Every decision is dry-run for `seconds`; actions already in force stay (lift them one by one). */
  pause(seconds: number, by: Operator): Promise<PauseState> {
    return this.#enqueue(async () => {
      const at = this.#now();
      this.#pause = { at, until: at + seconds * 1000, by };
      this.#persist();
      const detail = `enforcement paused: decisions are dry-run until ${new Date(this.#pause.until).toISOString()}`;
      this.#log.warn({ by, until: new Date(this.#pause.until).toISOString() }, 'enforcement paused: decisions are dry-run');
      this.#auditCommand({ command: 'pause', by, outcome: 'accepted', detail, args: { seconds } });
      return this.#pause;
    });
  }

  /** Ends a pause; resolves with the pause that was in effect, if any. */
  resume(by: Operator): Promise<PauseState | undefined> {
    return this.#enqueue(async () => {
      const was = this.#paused(this.#now());
      this.#pause = undefined;
      this.#persist();
      const detail = was === undefined ? 'enforcement was not paused' : `enforcement resumed (was paused by ${describeOperator(was.by)})`;
      this.#log.warn(
        { by, ...(was === undefined ? {} : { pausedBy: was.by }) },
        was === undefined ? 'enforcement was not paused' : 'enforcement resumed',
      );
      this.#auditCommand({ command: 'resume', by, outcome: 'accepted', detail });
      return was;
    });
  }

  /** Audit an operator's command that did not go through lift/pause/resume (status, a rejected command …). */
  auditCommand(entry: Omit<CommandAuditRecord, 't' | 'record'>): void {
    this.#auditCommand(entry);
  }

  status(): EnforcementStatus {
    const now = this.#now();
    const paused = this.#paused(now);
    const configuredMode = this.#o.config.mode;
    const s: EnforcementStatus = {
      mode: paused !== undefined ? 'dry-run' : configuredMode,
      configuredMode,
      active: [...this.#active.values()].map((a) => {
        const rb = this.#readBacks.get(a.id);
        return rb === undefined ? { ...a } : { ...a, readBack: rb };
      }),
      quiet: [...this.#quiet.entries()].filter(([, q]) => q.until > now).map(([offenceKey, q]) => ({ offenceKey, ...q })),
    };
    if (paused !== undefined) s.paused = paused;
    if (this.#lastReconcile !== undefined) s.lastReconcile = this.#lastReconcile;
    return s;
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
    const paused = this.#paused(this.#now());
    const dryRun = this.#o.config.mode === 'dry-run' || spec.dryRun === true || paused !== undefined;
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
    let existing = [...this.#active.values()].find((a) => activeKey(a.type, a.target) === key);
    if (existing !== undefined && existing.backend !== 'dry-run') {
      // Our memory says it is in force; the kernel decides. Lifted by hand → an operator's lift (and its
      // quiet window, checked below); target gone → dropped. Only then is "already active" true.
      const rb = await this.#readBackActive(existing);
      if (rb.state === 'not-in-force') {
        records.push(await this.#driftLift(existing, rb));
        existing = undefined;
      } else if (rb.state === 'target-gone') {
        records.push(await this.#drop(existing, rb));
        existing = undefined;
      } else if (rb.state === 'lost') {
        records.push(await this.#reapply(existing, rb));
      }
    }
    if (existing !== undefined && existing.backend === 'dry-run' && !dryRun) {
      // A simulated action (dry-run, or a pause now over) must not stand in for the real one.
      records.push(await this.#revert(existing, 'superseded', existing.violation));
      existing = undefined;
    }
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
    const oKey = offenceKey(ev.offender, target);
    const quiet = this.#quiet.get(oKey);
    if (quiet !== undefined && now < quiet.until) {
      records.push(
        this.#emit({
          t: now,
          outcome: 'skipped',
          type,
          dryRun,
          target,
          reason: 'quiet-after-lift',
          detail: `${quiet.actionId ?? 'an action'} on this offender was lifted by ${quiet.by === undefined ? 'an operator' : describeOperator(quiet.by)}; no action until ${new Date(quiet.until).toISOString()}`,
          quietUntil: quiet.until,
          violation,
        }),
      );
      return records;
    }
    // Simulated actions have their own budget: dry-run says "rate-limited" where enforcing would, but a
    // dry-run behavior never uses up the slots of the behaviors that act.
    if (!(dryRun ? this.#dryRunLimiter : this.#limiter).tryTake(now)) {
      this.#m.rateLimited++;
      records.push(refused('rate-limited', `more than ${this.#o.config.maxActionsPerMinute} actions in the last minute`, { target }));
      return records;
    }
    const c = this.#o.config;
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
    const readBack = await this.#readBack(type, target, backend.name, ttlMs, this.#settleMs(type));
    if (readBack.state === 'not-in-force') {
      // The command succeeded but the kernel does not show it: say so, and do not pretend it is in force.
      try {
        await backend.revert({ type, target, ttlMs });
      } catch {
        /* tidying up only */
      }
      records.push(
        this.#emit({
          t: this.#now(),
          outcome: 'failed',
          type,
          dryRun,
          target,
          reason: 'read-back',
          detail: `${detail}; but ${readBack.observed}`,
          readBack,
          violation,
        }),
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
      readBack,
      rails: railsPassed(this.#o.config, { type, target, level, ttlMs, dryRun, paused }),
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
      void this.#readBack('process-terminate', target, 'process', 1000, this.#o.applySettleMs ?? 1000).then((readBack) =>
        this.#emit({
          t: this.#now(),
          outcome: 'killed',
          type: 'process-terminate',
          dryRun: false,
          actionId: pending.id,
          target,
          detail: `SIGKILL after ${this.#o.config.stopGraceMs} ms`,
          readBack,
          violation: pending.violation,
        }),
      );
    }
  }

  active(): ActiveActionView[] {
    return this.status().active;
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
    if (this.#reconcileTimer !== undefined) clearInterval(this.#reconcileTimer);
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
