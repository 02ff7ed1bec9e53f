// Text views of status, actions in force and recent violations (the `--json` forms print the data as is).
// Pure: data and the current time in, lines out.
import type { ActionRecord } from '../enforce/actionModel.ts';
import { describeOperator } from '../enforce/decisionText.ts';
import type { ActionsList } from './controlService.ts';
import type { AgentStatus, ViolationSummary } from './statusModel.ts';
import { bytes, duration, isoSeconds, metricValue, num, offender, shortId, table, target } from './textFormat.ts';

function actionRows(list: Pick<ActionsList, 'actions'>, now: number): string[][] {
  return list.actions.map((a) => [
    shortId(a.id),
    a.type,
    target(a.target),
    a.backend === 'dry-run' ? 'dry-run' : 'enforce',
    duration(a.expiresAt - now),
    a.violation.behavior,
    a.readBack === undefined ? 'not read back yet' : `${a.readBack.state}: ${a.readBack.observed}`,
  ]);
}

const ACTION_HEADER = ['ID', 'TYPE', 'TARGET', 'MODE', 'EXPIRES IN', 'BEHAVIOR', 'KERNEL'];

export function renderActions(list: Omit<ActionsList, 'reconcile'> & { reconcile?: ActionsList['reconcile'] }, now: number): string[] {
  const out: string[] = [];
  if (list.paused !== undefined)
    out.push(`enforcement paused by ${describeOperator(list.paused.by)} until ${isoSeconds(list.paused.until)}: new decisions are dry-run`);
  if (list.reconcile !== undefined) {
    const r = list.reconcile;
    const found = [
      r.lifted > 0 ? `${r.lifted} lifted outside the agent` : '',
      r.gone > 0 ? `${r.gone} whose target is gone` : '',
      r.restored > 0 ? `${r.restored} re-applied after the kernel lost them` : '',
      r.unknown > 0 ? `${r.unknown} could not be read back` : '',
    ].filter(Boolean);
    out.push(
      `read back from the kernel at ${isoSeconds(r.t)}: ${r.inForce} of ${r.checked} in force${found.length > 0 ? `; ${found.join(', ')}` : ''}`,
    );
  }
  if (list.actions.length === 0) out.push('no actions in force');
  else out.push(...table(ACTION_HEADER, actionRows(list, now)));
  if (list.quiet.length > 0) {
    out.push('quiet after a lift (not acted on until):');
    out.push(
      ...table(
        ['OFFENDER', 'UNTIL', 'LIFTED BY'],
        list.quiet.map((q) => [q.offenceKey, isoSeconds(q.until), q.by === undefined ? '-' : describeOperator(q.by)]),
      ),
    );
  }
  return out;
}

export function renderViolations(list: ViolationSummary[], now: number): string[] {
  if (list.length === 0) return ['no recent violations'];
  return table(
    ['ID', 'STATE', 'SINCE', 'THING', 'BEHAVIOR', 'OFFENDER', 'VALUE', 'ACTION'],
    list.map((v) => [
      shortId(v.violationId),
      v.state,
      `${duration(now - v.since)} ago`,
      v.thingName,
      v.behavior,
      offender(v.offender),
      `${metricValue(v.value)}${v.threshold === undefined ? '' : ` (${v.comparisonOperator ?? ''} ${metricValue(v.threshold)})`}`,
      v.action ?? '-',
    ]),
  );
}

export function renderStatus(s: AgentStatus): string[] {
  const now = s.t;
  const out: string[] = [];
  if (!s.running) {
    out.push(`agent: not running (no answer on its control socket); from its persisted state in ${s.stateDir}`);
  } else {
    out.push(
      `agent: running on ${s.thingName ?? '?'}, pid ${s.pid ?? '?'}, up ${s.startedAt === undefined ? '?' : duration(now - s.startedAt)}, version ${s.version ?? '?'}`,
    );
    if (s.controlSocketError !== undefined) out.push(`  control socket: ${s.controlSocketError}`);
  }
  const e = s.enforcement;
  const mode =
    e.paused !== undefined
      ? `dry-run (paused by ${describeOperator(e.paused.by)} until ${isoSeconds(e.paused.until)}; configured ${e.configuredMode})`
      : e.mode;
  out.push(`enforcement: ${mode}`);
  if (s.ipc !== undefined) out.push(`connection: ${s.ipc.connected ? 'connected to the nucleus' : `not connected (${s.ipc.state})`}`);
  if (s.cloudCommands !== undefined) {
    const c = s.cloudCommands;
    out.push(
      `cloud commands: ${c.topic} ${c.subscription}${c.lastError === undefined ? '' : ` (${c.lastError})`}; ${c.accepted} accepted, ${c.rejected} rejected`,
    );
  }
  if (s.outbox !== undefined)
    out.push(
      `outbox: ${num(s.outbox.depth)} waiting (${bytes(s.outbox.bytes)}), ${num(s.outbox.droppedTotal)} dropped${s.outbox.lastError === undefined ? '' : `; last error: ${s.outbox.lastError}`}`,
    );
  if (s.lastSample !== undefined) {
    const l = s.lastSample;
    out.push(
      `last sample: ${isoSeconds(l.t)} (${duration(now - l.t)} ago), took ${Math.round(l.durationMs)} ms, ${l.processes} processes${l.degraded.length > 0 ? `; degraded: ${l.degraded.join('; ')}` : ''}`,
    );
    const share = l.sockets === 0 ? 100 : Math.round((l.attributedSockets / l.sockets) * 100);
    out.push(
      !l.perProcess
        ? 'attribution: off (collector.perProcess is false, or shed by the self-limit)'
        : l.sockets === 0
          ? 'attribution: no listening or established sockets in the last sample'
          : `attribution: ${l.attributedSockets} of ${l.sockets} sockets attributed to a process (${share} %)`,
    );
  } else if (s.running) out.push('last sample: none yet');
  if (s.selfLimit !== undefined) {
    const x = s.selfLimit;
    out.push(
      `self-limit: rss ${bytes(x.rssBytes)} of ${bytes(x.maxRssBytes)}, cpu ${x.cpuPercent.toFixed(1)} % of ${x.maxCpuPercent} %${x.shedding ? '; SHEDDING per-process detail' : ''}`,
    );
  }
  out.push(`actions in force: ${e.active.length}`);
  if (e.active.length > 0) out.push(...table(ACTION_HEADER, actionRows({ actions: e.active }, now)));
  if (e.lastReconcile !== undefined) {
    const r = e.lastReconcile;
    out.push(
      `  last read back ${duration(now - r.t)} ago: ${r.inForce} of ${r.checked} in force${r.lifted > 0 ? `, ${r.lifted} lifted outside the agent` : ''}`,
    );
  }
  if (e.quiet.length > 0) out.push(`quiet after a lift: ${e.quiet.map((q) => `${q.offenceKey} until ${isoSeconds(q.until)}`).join('; ')}`);
  out.push(`recent violations: ${s.violations.kept} kept, ${s.violations.inAlarm} in alarm`);
  if (s.violations.recent.length > 0) out.push(...renderViolations(s.violations.recent, now));
  return out;
}

/** One line about a lift just done. */
export function renderLift(r: ActionRecord): string {
  return `lifted ${r.actionId} (${r.type} on ${target(r.target)}): ${r.detail ?? ''}`;
}
