// The data enforcement works with: what a backend is asked to do, what is active, and the record of
// every decision (audit log line, onAction payload). Plain JSON-serializable data.
import { ACTION_TYPES, type ActionType, type MetricValue, type Offender, type ViolationEventType } from '../localrules/contracts.ts';

export type EnforceActionType = Exclude<ActionType, 'none'>;

export const ENFORCE_ACTION_TYPES: readonly EnforceActionType[] = ACTION_TYPES.filter((t): t is EnforceActionType => t !== 'none');

export type ActionTarget =
  /** startTime is the one read from /proc when the action was decided: every later signal re-checks it */
  | { kind: 'process'; pid: number; startTime: number; comm: string; exe?: string; cgroup?: string }
  | { kind: 'addresses'; addresses: string[] }
  | { kind: 'interface'; ifname: string };

export interface ApplyRequest {
  type: EnforceActionType;
  target: ActionTarget;
  /** how long the change lasts; nft puts it on the set element so the kernel lifts it by itself */
  ttlMs: number;
}

export type BackendName = 'process' | 'nft' | 'link' | 'dry-run';

export interface BackendMetrics {
  applied: number;
  reverted: number;
  failed: number;
}

/**
 * What the kernel shows for an action, read back right after it was applied and on every reconcile:
 * - `in-force`: the nft element is in its set, the process is stopped (state T) or frozen, the link is down
 *   (or, for process-terminate, the process is gone: what was asked for happened);
 * - `pending`: on its way (process-terminate inside its SIGTERM grace period; a stop not yet delivered);
 * - `not-in-force`: it is not (an element deleted by hand, a link set up, a stopped process continued);
 * - `lost`: the kernel lost it wholesale (our nft table is gone: a firewall reload or `nft flush ruleset`),
 *   which is not anyone's decision to lift this action: it is applied again with its remaining time;
 * - `target-gone`: the process, cgroup or interface no longer exists: nothing is left to hold or lift;
 * - `simulated`: a dry-run action (nothing to read back);
 * - `unknown`: the read-back itself failed (nft not runnable …); never taken as drift.
 */
export interface ReadBack {
  state: 'in-force' | 'pending' | 'not-in-force' | 'lost' | 'target-gone' | 'simulated' | 'unknown';
  /** what was seen, for people: "10.99.0.2 in inet defender_edge block4, expires in 598 s" */
  observed: string;
  /** ms since the epoch */
  at: number;
}

/**
 * One enforcement backend (the CrowdSec bouncer shape: add / delete / shutdown / metrics, plus a read-back
 * of what the kernel shows; a backend that needs set-up does it on its first use). apply/revert resolve
 * with a short human detail ("SIGSTOP sent") or reject with the cause.
 */
export interface EnforcementBackend {
  readonly name: BackendName;
  apply(request: ApplyRequest): Promise<string>;
  revert(request: ApplyRequest): Promise<string>;
  /**
   * Reads the action back from the kernel. `settleMs`: how long to wait for an effect that lands
   * asynchronously (a signal being delivered, a cgroup finishing its freeze) before saying it is not in force.
   */
  readBack(request: ApplyRequest, settleMs?: number): Promise<ReadBack>;
  /** the same for many actions with one look at the kernel, where the backend can (nft: one table listing) */
  readBackAll?(requests: readonly ApplyRequest[]): Promise<ReadBack[]>;
  /** stop background work; never lifts a block (nft elements keep their kernel timeout) */
  shutdown(): Promise<void>;
  metrics(): BackendMetrics;
}

/** The violation an action record refers to: enough for the audit log and the cloud to tie them together. */
export interface ViolationRef {
  violationId: string;
  thingName: string;
  behavior: string;
  metric: string;
  event: ViolationEventType;
  t: number;
  value?: MetricValue;
  threshold?: MetricValue;
  offender: Offender;
}

/** An action in force, as persisted in the state file. */
export interface ActiveAction {
  id: string;
  type: EnforceActionType;
  target: ActionTarget;
  backend: BackendName;
  /** ms since the epoch */
  appliedAt: number;
  /** ms since the epoch; the action is reverted (or the kernel lifts it) at this time */
  expiresAt: number;
  /** 0 for a first offence; the ttl was multiplied by escalationFactor^level */
  escalationLevel: number;
  revertOnClear: boolean;
  /** the offence key escalation counted this under */
  offenceKey: string;
  violation: ViolationRef;
}

export type ActionOutcome =
  | 'applied' // the backend changed the system
  | 'would-apply' // dry-run: every rail passed and the action would have been applied; nothing was changed
  | 'restored' // re-applied after a restart with the remaining time
  | 'reverted' // lifted: ttl expired, alarm-cleared, or a rail/mode change on restore
  | 'would-revert' // dry-run: the simulated action's ttl ran out (or its alarm cleared); nothing was changed
  | 'refused' // a rail or the rate limit said no; nothing was changed
  | 'skipped' // nothing to do (already active for this target)
  | 'failed' // the backend tried and failed
  | 'killed' // process-terminate: the process ignored SIGTERM for stopGraceMs and got SIGKILL
  | 'lifted'; // an operator ended it: a lift command, or by hand on the host (seen by the read-back)

/** Who asked for a lift, a pause or a resume. */
export interface Operator {
  /** `socket`: a command on the gateway; `cloud`: the IoT Core commands topic; `host`: a change made outside the agent */
  via: 'socket' | 'cloud' | 'host';
  /** the user the client reports (the socket admits only its owner, root); the cloud command's requestedBy */
  user?: string;
  uid?: number;
  /** the cloud command's commandId */
  commandId?: string;
}

export interface ActionRecord {
  /**
   * Unique per record (a UUID the enforcer sets when it emits it): the audit log line and the cloud record
   * share it, and it is the key receivers drop a repeated delivery by.
   */
  recordId?: string;
  t: number;
  outcome: ActionOutcome;
  type: EnforceActionType;
  dryRun: boolean;
  actionId?: string;
  target?: ActionTarget;
  /** refusal code (`pid-1`, `own-address`, `rate-limited` …) or revert reason (`expired`, `alarm-cleared` …) */
  reason?: string;
  detail?: string;
  ttlSeconds?: number;
  expiresAt?: number;
  escalationLevel?: number;
  /** the kernel's view right after the change (applied, restored, killed) or when drift was found (lifted) */
  readBack?: ReadBack;
  /** the safety rails that were checked and passed, and the policy that shaped the action (applied, restored) */
  rails?: string[];
  /** lifted: who */
  by?: Operator;
  /** lifted, or skipped for a recent lift: no action on this offender before this time (ms since the epoch) */
  quietUntil?: number;
  violation: ViolationRef;
}

/** A rail's verdict: a stable code for machines and a sentence for people. */
export interface Refusal {
  code: string;
  detail: string;
}
