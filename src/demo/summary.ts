// What a run of the rogue-agent scenario (docs/demo.md#the-scenario) proved, as one JSON-able object,
// and its human rendering. Pure: everything observed is passed in (no I/O, no clock).

import type { ActionRecord } from '../enforce/actionModel.ts';
import type { ViolationEvent } from '../localrules/contracts.ts';
import type { ActorRole } from './cast.ts';

/** One line of the emulator's cloud record (src/ipc/emulator/iotCore.ts). */
export interface CloudLine {
  ts: number;
  topic: string;
  qos: number;
  payload: string;
  payloadEncoding?: 'utf8' | 'base64';
}

export interface ObservedActor {
  role: ActorRole;
  pid: number;
  /** /proc/PID/comm as the collector named it (from the violation), else the title we gave it */
  comm: string;
  /** first moment seen stopped (exit, or state T), ms since the epoch */
  stoppedAt?: number;
  stoppedHow?: 'exited' | 'suspended';
  runningAtEnd: boolean;
}

export interface ScenarioObservation {
  mode: 'enforce' | 'dry-run';
  samplingMs: number;
  reportEverySeconds: number;
  gatewayThing: string;
  deviceThing: string;
  /** the behaviors of the profile, in order */
  behaviors: string[];
  actors: ObservedActor[];
  violations: ViolationEvent[];
  actions: ActionRecord[];
  cloud: CloudLine[];
  /** did any sample carry per-process message counts (messagesReceived) for the cast? */
  perProcessMessages: boolean;
  /** collector sources that failed during the round (`tcp-bytes: ss not found` …) */
  degraded: string[];
  deviceAnswers: { accepted: number; rejected: number };
  startedAt: number;
  endedAt: number;
  /** a gateway report after the violations is part of the story (the bench's quick rounds skip it) */
  requireReport: boolean;
  /** problems that made the run fail (timeouts …) */
  problems: string[];
}

export interface OffenderSummary {
  role: ActorRole;
  pid: number;
  comm: string;
  /** behaviors that went in-alarm for this process, in the order they fired */
  behaviors: string[];
  /** the sample (ms since the epoch) whose window first crossed a threshold: the violation's t */
  crossedAt?: number;
  value?: unknown;
  threshold?: unknown;
  action?: string;
  outcome?: string;
  dryRun?: boolean;
  /** when the process was first seen stopped (exit or state T) */
  stoppedAt?: number;
  stoppedHow?: 'exited' | 'suspended';
  /** stoppedAt − crossedAt: from the crossing sample to the process observed stopped; null when not stopped */
  detectedAfterMs: number | null;
  /** action record t − crossedAt: enforcement's decision (also in dry-run) */
  actedAfterMs: number | null;
  stillRunning: boolean;
}

export interface DemoSummary {
  ok: boolean;
  scenario: 'rogue-agent';
  mode: 'enforce' | 'dry-run';
  samplingMs: number;
  /** the demo's compressed report cadence; deployments report every ≥ 300 s (docs/reports.md) */
  reportEverySeconds: number;
  /** the scenario's rogue agent: detection → stop in ms (null in dry-run or if it was not stopped) */
  detectedAfterMs: number | null;
  action: string | null;
  offender: { pid: number; comm: string } | null;
  offenders: OffenderSummary[];
  /** every process the round started */
  cast: Array<{ role: ActorRole; pid: number }>;
  innocentSurvived: boolean | null;
  behaviorsFired: string[];
  behaviorsNotFired: Record<string, string>;
  cloud: {
    gatewayReports: number;
    deviceReports: number;
    violations: number;
    actions: number;
    /** a gateway report recorded after the last violation: reporting goes on */
    reportAfterViolation: boolean;
  };
  device: { accepted: number; rejected: number };
  /** collector sources that failed during the run: per-process bytes need `ss` (iproute2) */
  degradedCollectors: string[];
  durationMs: number;
  contrast: string;
  problems: string[];
}

export const CLOUD_DETECT_NOTE =
  'cloud Detect would alert after ~5 minutes (the agent reports every 300 s) and is closed to new customers since 2026-08-31';

interface CloudDoc {
  record?: unknown;
  behavior?: unknown;
  event?: unknown;
}

function parsePayload(line: CloudLine): CloudDoc | undefined {
  if (line.payloadEncoding === 'base64') return undefined;
  try {
    const v: unknown = JSON.parse(line.payload);
    return typeof v === 'object' && v !== null ? (v as CloudDoc) : undefined;
  } catch {
    return undefined;
  }
}

export function classifyCloud(
  cloud: readonly CloudLine[],
  gatewayThing: string,
  deviceThing: string,
  lastViolationAt: number | undefined,
): DemoSummary['cloud'] {
  const reportTopic = (thing: string) => new RegExp(`^\\$aws/things/${thing}/defender/metrics/(json|cbor)$`);
  const gw = reportTopic(gatewayThing);
  const dev = reportTopic(deviceThing);
  const out = { gatewayReports: 0, deviceReports: 0, violations: 0, actions: 0, reportAfterViolation: false };
  for (const line of cloud) {
    if (gw.test(line.topic)) {
      out.gatewayReports++;
      if (lastViolationAt !== undefined && line.ts > lastViolationAt) out.reportAfterViolation = true;
      continue;
    }
    if (dev.test(line.topic)) {
      out.deviceReports++;
      continue;
    }
    const doc = parsePayload(line);
    if (doc?.record === 'violation') out.violations++;
    else if (doc?.record === 'action') out.actions++;
  }
  return out;
}

function offenderSummary(actor: ObservedActor, violations: readonly ViolationEvent[], actions: readonly ActionRecord[]): OffenderSummary {
  const mine = violations
    .filter((v) => v.event === 'in-alarm' && v.offender.kind === 'process' && v.offender.pid === actor.pid)
    .sort((a, b) => a.t - b.t);
  const first = mine[0];
  // The record that did something (or, in dry-run, would have): it beats skipped/refused repeats from a second behavior.
  const acts = actions.filter((a) =>
    a.target?.kind === 'process'
      ? a.target.pid === actor.pid
      : a.violation.offender.kind === 'process' && a.violation.offender.pid === actor.pid,
  );
  const act = acts.find((a) => a.outcome === 'applied' || a.outcome === 'would-apply') ?? acts[0];
  const crossedAt = first?.t;
  const s: OffenderSummary = {
    role: actor.role,
    pid: actor.pid,
    comm: first?.offender.kind === 'process' ? first.offender.comm : actor.comm,
    behaviors: [...new Set(mine.map((v) => v.behavior))],
    detectedAfterMs:
      crossedAt !== undefined && actor.stoppedAt !== undefined && act !== undefined && !act.dryRun
        ? Math.max(0, actor.stoppedAt - crossedAt)
        : null,
    actedAfterMs: crossedAt !== undefined && act !== undefined ? Math.max(0, act.t - crossedAt) : null,
    stillRunning: actor.runningAtEnd,
  };
  if (crossedAt !== undefined) s.crossedAt = crossedAt;
  if (first?.value !== undefined) s.value = first.value;
  if (first?.threshold !== undefined) s.threshold = first.threshold;
  if (act !== undefined) {
    s.action = act.type;
    s.outcome = act.outcome;
    s.dryRun = act.dryRun;
  }
  if (actor.stoppedAt !== undefined) s.stoppedAt = actor.stoppedAt;
  if (actor.stoppedHow !== undefined) s.stoppedHow = actor.stoppedHow;
  return s;
}

export function summarize(o: ScenarioObservation): DemoSummary {
  const rogues = o.actors.filter((a) => a.role === 'rogue-agent' || a.role === 'tcp-streamer');
  const offenders = rogues.map((a) => offenderSummary(a, o.violations, o.actions));
  const fired = o.behaviors.filter((b) => o.violations.some((v) => v.event === 'in-alarm' && v.behavior === b));
  const notFired: Record<string, string> = {};
  for (const b of o.behaviors) {
    if (fired.includes(b)) continue;
    notFired[b] =
      b === 'msgReceive' && !o.perProcessMessages
        ? 'no datapoints: the collector reported no per-process message counts for these processes'
        : 'its threshold was not crossed before the rogues were stopped';
  }
  const innocents = o.actors.filter((a) => a.role === 'innocent');
  const innocentTouched = innocents.some(
    (a) => !a.runningAtEnd || o.actions.some((r) => r.target?.kind === 'process' && r.target.pid === a.pid),
  );
  const primary = offenders.find((x) => x.role === 'rogue-agent') ?? offenders[0];
  const lastViolation = o.violations
    .filter((v) => v.event === 'in-alarm')
    .map((v) => v.t)
    .sort((a, b) => b - a)[0];
  const cloud = classifyCloud(o.cloud, o.gatewayThing, o.deviceThing, lastViolation);
  const problems = [...o.problems];
  for (const x of offenders) {
    if (x.crossedAt === undefined) {
      const why = o.degraded.filter((d) => d.startsWith('tcp-bytes') || d.startsWith('processes') || d.startsWith('sockets'));
      problems.push(
        `${x.role} (pid ${x.pid}): no violation${why.length > 0 ? ` (per-process traffic unavailable: ${why.join('; ')})` : ''}`,
      );
    } else if (x.action === undefined) problems.push(`${x.role} (pid ${x.pid}): no enforcement action`);
    else if (o.mode === 'enforce' && x.stillRunning)
      problems.push(`${x.role} (pid ${x.pid}): still running after ${x.action} (${x.outcome})`);
  }
  if (innocentTouched) problems.push('the innocent process was touched');
  if (cloud.violations === 0) problems.push('no violation reached the cloud record');
  if (o.requireReport && !cloud.reportAfterViolation) problems.push('no gateway report after the violations reached the cloud record');
  const stoppedIn = primary?.detectedAfterMs ?? null;
  const contrast =
    o.mode === 'dry-run'
      ? `${CLOUD_DETECT_NOTE}; in dry-run defender-edge decided to act ${primary?.actedAfterMs ?? '?'} ms after the crossing and changed nothing.`
      : `${CLOUD_DETECT_NOTE}; defender-edge stopped the rogue agent ${stoppedIn ?? '?'} ms after its traffic crossed the threshold.`;
  return {
    ok: problems.length === 0,
    scenario: 'rogue-agent',
    mode: o.mode,
    samplingMs: o.samplingMs,
    reportEverySeconds: o.reportEverySeconds,
    detectedAfterMs: stoppedIn,
    action: primary?.action ?? null,
    offender: primary ? { pid: primary.pid, comm: primary.comm } : null,
    offenders,
    cast: o.actors.map((a) => ({ role: a.role, pid: a.pid })),
    innocentSurvived: innocents.length === 0 ? null : !innocentTouched,
    behaviorsFired: fired,
    behaviorsNotFired: notFired,
    cloud,
    device: { ...o.deviceAnswers },
    degradedCollectors: [...o.degraded],
    durationMs: o.endedAt - o.startedAt,
    contrast,
    problems,
  };
}

function pad(cells: string[][]): string[] {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

const countOf = (v: unknown): string =>
  typeof v === 'object' && v !== null && 'count' in v ? String((v as { count: unknown }).count) : JSON.stringify(v ?? '-');

/** The final summary table of the human-readable demo. */
export function renderSummary(s: DemoSummary): string {
  const rows = [
    ['process', 'pid', 'comm', 'behaviors', 'value/threshold', 'action', 'outcome', 'stopped after'],
    ...s.offenders.map((x) => [
      x.role,
      String(x.pid),
      x.comm,
      x.behaviors.join(',') || '-',
      `${countOf(x.value)}/${countOf(x.threshold)}`,
      x.action ?? '-',
      x.outcome === undefined ? '-' : `${x.outcome}${x.dryRun && !x.outcome.startsWith('would-') ? ' (dry-run)' : ''}`,
      x.detectedAfterMs === null ? (x.stillRunning ? 'still running' : '-') : `${x.detectedAfterMs} ms`,
    ]),
  ];
  const lines = [
    '',
    `== summary (${s.mode}, sampling every ${s.samplingMs} ms) ==`,
    ...pad(rows),
    '',
    `innocent process survived: ${s.innocentSurvived === null ? 'n/a' : s.innocentSurvived ? 'yes' : 'NO'}`,
    `behaviors fired: ${s.behaviorsFired.join(', ') || 'none'}`,
    ...Object.entries(s.behaviorsNotFired).map(([b, why]) => `behavior not fired: ${b} — ${why}`),
    `cloud record: ${s.cloud.gatewayReports} gateway reports, ${s.cloud.deviceReports} device reports, ` +
      `${s.cloud.violations} violations, ${s.cloud.actions} actions` +
      (s.cloud.reportAfterViolation ? '; reporting went on after the violation' : ''),
    `downstream device: ${s.device.accepted} reports accepted, ${s.device.rejected} rejected`,
    `report cadence compressed to ${s.reportEverySeconds} s for the demo (deployments: every 300 s or more)`,
    '',
    s.contrast,
  ];
  if (s.degradedCollectors.length > 0) lines.push(`degraded collectors: ${s.degradedCollectors.join('; ')}`);
  if (s.problems.length > 0) lines.push('', 'PROBLEMS:', ...s.problems.map((p) => `  - ${p}`));
  return lines.join('\n');
}
