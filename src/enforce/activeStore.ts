// The active actions and offence counts on disk, written atomically after every change (temp file +
// rename, src/store/atomicFile.ts) and read back on start so blocks survive a restart (fail2ban habit).

import { isPlainObject } from '../plainObject.ts';
import { readJsonFile, writeFileAtomic } from '../store/atomicFile.ts';
import { type ActionTarget, type ActiveAction, type BackendName, ENFORCE_ACTION_TYPES, type Operator } from './actionModel.ts';
import type { OffenceEntry } from './enforcementPolicy.ts';
import { parseAddress, validateInterfaceName, validatePid } from './targetValidation.ts';

/** An offender an operator lifted an action from: not acted on again until `until` (ms since the epoch). */
export interface QuietEntry {
  until: number;
  actionId?: string;
  by?: Operator;
}

/** Enforcement paused by an operator: every decision is dry-run until `until`. */
export interface PauseState {
  at: number;
  until: number;
  by: Operator;
}

export interface EnforcementState {
  version: 1;
  actions: ActiveAction[];
  offences: Record<string, OffenceEntry>;
  /** by offence key (enforcementPolicy.ts offenceKey) */
  quiet?: Record<string, QuietEntry>;
  pause?: PauseState;
  /**
   * /proc/sys/kernel/random/boot_id when the file was written. On the same boot the kernel is the truth:
   * an action missing there was lifted by someone and is not re-applied; after a reboot it is.
   */
  bootId?: string;
}

const BACKENDS: readonly BackendName[] = ['process', 'nft', 'link', 'dry-run'];

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function checkTarget(t: unknown, path: string): string | null {
  if (!isPlainObject(t)) return `${path}: must be an object`;
  try {
    switch (t.kind) {
      case 'process':
        validatePid(t.pid, `${path}.pid`);
        if (!isNum(t.startTime)) return `${path}.startTime: must be a number`;
        if (typeof t.comm !== 'string') return `${path}.comm: must be a string`;
        return null;
      case 'addresses':
        if (!Array.isArray(t.addresses) || t.addresses.length === 0) return `${path}.addresses: must be a non-empty array`;
        t.addresses.forEach((a, i) => {
          parseAddress(a, `${path}.addresses[${i}]`);
        });
        return null;
      case 'interface':
        validateInterfaceName(t.ifname, `${path}.ifname`);
        return null;
      default:
        return `${path}.kind: must be process, addresses or interface`;
    }
  } catch (err) {
    return (err as Error).message;
  }
}

/** `path: message` for a persisted action that cannot be trusted, or null. */
export function checkActiveAction(a: unknown, path: string): string | null {
  if (!isPlainObject(a)) return `${path}: must be an object`;
  if (typeof a.id !== 'string' || a.id === '') return `${path}.id: must be a non-empty string`;
  if (!ENFORCE_ACTION_TYPES.includes(a.type as never)) return `${path}.type: must be one of ${ENFORCE_ACTION_TYPES.join(', ')}`;
  if (!BACKENDS.includes(a.backend as never)) return `${path}.backend: must be one of ${BACKENDS.join(', ')}`;
  if (!isNum(a.appliedAt)) return `${path}.appliedAt: must be a number`;
  if (!isNum(a.expiresAt)) return `${path}.expiresAt: must be a number`;
  if (!isNum(a.escalationLevel)) return `${path}.escalationLevel: must be a number`;
  if (typeof a.revertOnClear !== 'boolean') return `${path}.revertOnClear: must be a boolean`;
  if (typeof a.offenceKey !== 'string') return `${path}.offenceKey: must be a string`;
  if (!isPlainObject(a.violation) || typeof a.violation.violationId !== 'string') return `${path}.violation.violationId: must be a string`;
  return checkTarget(a.target as ActionTarget, `${path}.target`);
}

export interface LoadedState {
  state: EnforcementState;
  /** per-entry problems (entries dropped) and whole-file problems (file quarantined) */
  errors: string[];
}

export function loadEnforcementState(path: string): LoadedState {
  const empty: EnforcementState = { version: 1, actions: [], offences: {} };
  const r = readJsonFile<{ actions: unknown[]; offences: Record<string, unknown> }>(path, (v) =>
    isPlainObject(v) && v.version === 1 && Array.isArray(v.actions) && isPlainObject(v.offences)
      ? null
      : '(root): must be {version: 1, actions: [], offences: {}}',
  );
  if (r.kind === 'missing') return { state: empty, errors: [] };
  if (r.kind === 'corrupt') return { state: empty, errors: [`${path}: ${r.error} (moved to ${r.quarantinedTo})`] };
  const errors: string[] = [];
  const actions: ActiveAction[] = [];
  r.value.actions.forEach((a, i) => {
    const problem = checkActiveAction(a, `actions[${i}]`);
    if (problem === null) actions.push(a as ActiveAction);
    else errors.push(problem);
  });
  const offences: Record<string, OffenceEntry> = {};
  for (const [k, v] of Object.entries(r.value.offences)) {
    if (isPlainObject(v) && isNum(v.count) && isNum(v.lastAt)) offences[k] = { count: v.count, lastAt: v.lastAt };
    else errors.push(`offences.${k}: must be {count, lastAt}`);
  }
  const state: EnforcementState = { version: 1, actions, offences };
  const raw = r.value as { quiet?: unknown; pause?: unknown; bootId?: unknown };
  if (isPlainObject(raw.quiet)) {
    const quiet: Record<string, QuietEntry> = {};
    for (const [k, v] of Object.entries(raw.quiet)) {
      if (isPlainObject(v) && isNum(v.until)) quiet[k] = v as unknown as QuietEntry;
      else errors.push(`quiet.${k}.until: must be a number`);
    }
    state.quiet = quiet;
  }
  if (raw.pause !== undefined) {
    const p = raw.pause;
    if (isPlainObject(p) && isNum(p.until) && isNum(p.at) && isPlainObject(p.by) && typeof p.by.via === 'string')
      state.pause = p as unknown as PauseState;
    else errors.push('pause: must be {at, until, by: {via}}');
  }
  if (typeof raw.bootId === 'string') state.bootId = raw.bootId;
  return { state, errors };
}

export function saveEnforcementState(path: string, state: EnforcementState): void {
  writeFileAtomic(path, JSON.stringify(state));
}
