// What the commands show when no agent answers on the control socket: its persisted state, read from the
// files it keeps (actions in force and quiet windows, the violation journal, the audit log). Read-only:
// nothing here changes the host, and the kernel is not read back (that is the running agent's job).
import { resolve } from 'node:path';
import { LastGoodConfigStore } from '../config/lastGoodStore.ts';
import type { ComponentConfig } from '../config/schema.ts';
import { loadEnforcementState } from '../enforce/activeStore.ts';
import { enforcementPaths } from '../enforce/createEnforcer.ts';
import type { EnforcementStatus } from '../enforce/enforcer.ts';
import { actionsForViolation } from './auditReader.ts';
import type { ActionsList, ViolationDetail } from './controlService.ts';
import { type AgentStatus, summarizeViolation, type ViolationSummary } from './statusModel.ts';
import { journalPath, ViolationJournal } from './violationJournal.ts';

/** `run --state-dir` default: where the agent keeps its last good configuration, relative to its work folder. */
export const BOOTSTRAP_STATE_DIR = 'state';

/** The agent's last good configuration, if it left one in its work folder. */
export function lastGoodConfig(workDir: string): ComponentConfig | undefined {
  const r = new LastGoodConfigStore(resolve(workDir, BOOTSTRAP_STATE_DIR, 'last-good-config.json')).load();
  return r.kind === 'ok' ? r.config : undefined;
}

/** The state folder: given, else the configured `stateDir` (relative to the work folder), else `<work>/state`. */
export function resolveStateDir(workDir: string, explicit?: string): string {
  if (explicit !== undefined) return resolve(workDir, explicit);
  return resolve(workDir, lastGoodConfig(workDir)?.stateDir ?? BOOTSTRAP_STATE_DIR);
}

function enforcementFromDisk(stateDir: string, configuredMode: 'enforce' | 'dry-run', now: number): EnforcementStatus {
  const { state } = loadEnforcementState(enforcementPaths(stateDir).statePath);
  const paused = state.pause !== undefined && state.pause.until > now ? state.pause : undefined;
  const s: EnforcementStatus = {
    mode: paused !== undefined ? 'dry-run' : configuredMode,
    configuredMode,
    // Expired ones are reverted by the agent's next start (and nft blocks have expired in the kernel).
    active: state.actions.filter((a) => a.expiresAt > now),
    quiet: Object.entries(state.quiet ?? {})
      .filter(([, q]) => q.until > now)
      .map(([offenceKey, q]) => ({ offenceKey, ...q })),
  };
  if (paused !== undefined) s.paused = paused;
  return s;
}

export function offlineStatus(workDir: string, stateDir: string, now: number): AgentStatus {
  const config = lastGoodConfig(workDir);
  const journal = new ViolationJournal({ path: journalPath(stateDir) }).load();
  return {
    running: false,
    t: now,
    workDir,
    stateDir,
    ...(config?.thingName === undefined ? {} : { thingName: config.thingName }),
    enforcement: enforcementFromDisk(stateDir, config?.enforcement.mode ?? 'dry-run', now),
    violations: { recent: journal.list(10).map(summarizeViolation), inAlarm: journal.inAlarm(), kept: journal.size },
  };
}

export function offlineActions(workDir: string, stateDir: string, now: number): Omit<ActionsList, 'reconcile'> {
  const e = enforcementFromDisk(stateDir, lastGoodConfig(workDir)?.enforcement.mode ?? 'dry-run', now);
  return { mode: e.mode, ...(e.paused === undefined ? {} : { paused: e.paused }), actions: e.active, quiet: e.quiet };
}

export function offlineViolations(stateDir: string, limit: number): ViolationSummary[] {
  return new ViolationJournal({ path: journalPath(stateDir) }).load().list(limit).map(summarizeViolation);
}

/** Throws `violationId: …` when there is no such violation (or the prefix is ambiguous). */
export function offlineViolation(stateDir: string, ref: string): ViolationDetail {
  const v = new ViolationJournal({ path: journalPath(stateDir) }).load().find(ref);
  if (v === undefined) throw new Error(`violationId: no recent violation with id ${JSON.stringify(ref)}`);
  return { violation: v, actions: actionsForViolation(enforcementPaths(stateDir).auditPath, v.violationId) };
}
