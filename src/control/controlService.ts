// Carries out an operator's request, whichever way it came (the control socket on the gateway, the IoT
// Core commands topic): the one place that knows what each command does. Lifts, pauses and resumes are
// audited by the Enforcer itself (the `lifted` record and the command records carry who and when).
import type { ActionRecord, Operator } from '../enforce/actionModel.ts';
import type { PauseState, QuietEntry } from '../enforce/activeStore.ts';
import { type ActiveActionView, EnforcementCommandError, type Enforcer, type ReconcileResult } from '../enforce/enforcer.ts';
import { actionsForViolation } from './auditReader.ts';
import type { ControlRequest } from './protocol.ts';
import { type AgentStatus, summarizeViolation, type ViolationSummary } from './statusModel.ts';
import type { JournalEntry, ViolationJournal } from './violationJournal.ts';

export interface ControlHost {
  enforcer(): Enforcer;
  readonly journal: ViolationJournal;
  readonly auditPath: string;
  /** everything status shows besides enforcement and violations */
  statusParts(): Omit<AgentStatus, 'enforcement' | 'violations' | 'running' | 't'>;
  now(): number;
}

export interface ActionsList {
  reconcile: Pick<ReconcileResult, 't' | 'checked' | 'inForce' | 'unknown'> & { lifted: number; gone: number; restored: number };
  mode: 'enforce' | 'dry-run';
  paused?: PauseState;
  actions: ActiveActionView[];
  quiet: Array<QuietEntry & { offenceKey: string }>;
}

export interface ViolationDetail {
  violation: JournalEntry;
  /** every action record about it, from the audit log, oldest first */
  actions: ActionRecord[];
}

/** A request that cannot be carried out; its message is `path: message`. */
export class ControlError extends Error {
  override name = 'ControlError';
}

export class ControlService {
  readonly #host: ControlHost;

  constructor(host: ControlHost) {
    this.#host = host;
  }

  status(): AgentStatus {
    const h = this.#host;
    return {
      running: true,
      t: h.now(),
      ...h.statusParts(),
      enforcement: h.enforcer().status(),
      violations: { recent: h.journal.list(10).map(summarizeViolation), inAlarm: h.journal.inAlarm(), kept: h.journal.size },
    };
  }

  /** Reads the kernel first, so the list is what is in force now, not what the agent remembers. */
  async actions(): Promise<ActionsList> {
    const e = this.#host.enforcer();
    const r = await e.reconcile();
    const s = e.status();
    return {
      reconcile: {
        t: r.t,
        checked: r.checked,
        inForce: r.inForce,
        unknown: r.unknown,
        lifted: r.lifted.length,
        gone: r.gone.length,
        restored: r.restored.length,
      },
      mode: s.mode,
      ...(s.paused === undefined ? {} : { paused: s.paused }),
      actions: s.active,
      quiet: s.quiet,
    };
  }

  violations(limit = 50): ViolationSummary[] {
    return this.#host.journal.list(limit).map(summarizeViolation);
  }

  violation(ref: string): ViolationDetail {
    let v: JournalEntry | undefined;
    try {
      v = this.#host.journal.find(ref);
    } catch (err) {
      throw new ControlError((err as Error).message);
    }
    if (v === undefined) throw new ControlError(`violationId: no recent violation with id ${JSON.stringify(ref)}`);
    return { violation: v, actions: actionsForViolation(this.#host.auditPath, v.violationId) };
  }

  /** Carries out one request; rejects with ControlError / EnforcementCommandError (`path: message`). */
  async handle(req: ControlRequest, by: Operator): Promise<unknown> {
    const e = this.#host.enforcer();
    switch (req.command) {
      case 'status':
        return this.status();
      case 'actions.list':
        return this.actions();
      case 'actions.lift':
        return {
          record: await e.lift(req.actionId, {
            by,
            ...(req.quietForSeconds === undefined ? {} : { quietForSeconds: req.quietForSeconds }),
          }),
        };
      case 'violations.list':
        return { violations: this.violations(req.limit) };
      case 'violations.get':
        return this.violation(req.violationId);
      case 'pause':
        return { pause: await e.pause(req.seconds, by) };
      case 'resume': {
        const was = await e.resume(by);
        return was === undefined ? { wasPaused: false } : { wasPaused: true, was };
      }
      case 'reconcile': {
        const r = await e.reconcile();
        return { ...r };
      }
    }
  }
}

/** Errors whose message is meant for the requester (`path: message`); anything else is our bug. */
export function isRequestProblem(err: unknown): err is Error {
  return err instanceof ControlError || err instanceof EnforcementCommandError;
}
