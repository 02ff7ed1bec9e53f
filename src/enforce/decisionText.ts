// Pure sentences about enforcement decisions, for the audit log and `defender-edge explain`: which rails an
// applied action passed and what shaped it, what it acted on, and who an operator was.
import type { ComponentConfig } from '../config/schema.ts';
import type { ActionTarget, EnforceActionType, Operator } from './actionModel.ts';
import type { PauseState } from './activeStore.ts';

/** "pid 4242 (rogue)", "10.0.0.7, fd00::7", "interface eth1". */
export function describeTarget(t: ActionTarget): string {
  switch (t.kind) {
    case 'process':
      return `pid ${t.pid} (${t.comm})`;
    case 'addresses':
      return t.addresses.join(', ');
    case 'interface':
      return `interface ${t.ifname}`;
  }
}

/** "alice (uid 0) on the gateway", "ops@example.com through the cloud (command c-1)", "someone on the host". */
export function describeOperator(by: Operator): string {
  const who = by.user ?? (by.uid !== undefined ? `uid ${by.uid}` : undefined);
  const uid = by.user !== undefined && by.uid !== undefined ? ` (uid ${by.uid})` : '';
  if (by.via === 'host') return 'someone on the host, outside the agent';
  if (by.via === 'cloud')
    return `${who ?? 'a cloud command'}${uid} through the cloud${by.commandId === undefined ? '' : ` (command ${by.commandId})`}`;
  return `${who ?? 'an operator'}${uid} on the gateway`;
}

export interface AppliedDecision {
  type: EnforceActionType;
  target: ActionTarget;
  /** escalation level (earlier offences that still count) */
  level: number;
  ttlMs: number;
  dryRun: boolean;
  paused: PauseState | undefined;
}

/** The rails an applied action passed (every one is checked before any apply) and the policy that shaped it. */
export function railsPassed(c: ComponentConfig['enforcement'], d: AppliedDecision): string[] {
  const rails: string[] = [];
  const t = d.target;
  if (t.kind === 'process') {
    rails.push(`process identity: pid ${t.pid} still has start time ${t.startTime} (no pid reuse)`);
    rails.push('not PID 1, the agent, its parents, a kernel thread or the Greengrass nucleus');
    rails.push(`not a protected process (${c.protectedProcesses.join(', ') || 'none configured'})`);
    if (d.type === 'process-freeze') rails.push(`cgroup ${t.cgroup ?? '?'} holds no protected process`);
  } else if (t.kind === 'addresses') {
    rails.push(
      `not loopback, multicast or an address of this gateway; not in neverBlockCidrs (${c.neverBlockCidrs.join(', ') || 'none configured'})`,
    );
  } else {
    rails.push(
      `not lo${c.allowDefaultRouteInterface ? '' : ', not the interface carrying the default route'} (allowDefaultRouteInterface ${c.allowDefaultRouteInterface})`,
    );
  }
  rails.push(`rate limit: within ${c.maxActionsPerMinute} actions per minute`);
  rails.push(
    d.type === 'process-terminate'
      ? `escalation level ${d.level} (offence count for this offender)`
      : `escalation level ${d.level}: ttl ${d.ttlMs / 1000} s (×${c.escalationFactor} per repeat, at most ${c.maxTtlSeconds} s)`,
  );
  if (d.paused !== undefined)
    rails.push(`dry-run: enforcement paused by ${describeOperator(d.paused.by)} until ${new Date(d.paused.until).toISOString()}`);
  else if (d.dryRun) rails.push(c.mode === 'dry-run' ? 'dry-run: enforcement.mode is dry-run' : "dry-run: the behavior's action.dryRun");
  return rails;
}
