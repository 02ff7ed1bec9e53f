// What `defender-edge status` shows, as plain data: assembled from the agent's parts by ControlService,
// or from the persisted state when the agent is not running. Pure helpers only.
import type { HostSample } from '../collector/sample.ts';
import type { EnforcementStatus } from '../enforce/enforcer.ts';
import type { MetricValue, Offender, ViolationEventType } from '../localrules/contracts.ts';
import { currentEvent, type JournalEntry } from './violationJournal.ts';

export interface SampleSummary {
  t: number;
  durationMs: number;
  degraded: string[];
  processes: number;
  /** listening and established sockets of the sample, and how many of them were attributed to a process */
  sockets: number;
  attributedSockets: number;
  /** per-process attribution was on for this sample (off: configured so, or shed by the self-limit) */
  perProcess: boolean;
}

/** The sample's attribution coverage: which share of its sockets the collector could name a process for. */
export function summarizeSample(host: HostSample, durationMs: number, perProcess: boolean): SampleSummary {
  const sockets = host.listening.length + host.established.length;
  const attributed = host.listening.filter((l) => l.pid !== undefined).length + host.established.filter((c) => c.pid !== undefined).length;
  return {
    t: host.t,
    durationMs,
    degraded: [...host.degraded],
    processes: host.processes.length,
    sockets,
    attributedSockets: attributed,
    perProcess,
  };
}

export interface ViolationSummary {
  violationId: string;
  thingName: string;
  behavior: string;
  metric: string;
  offender: Offender;
  state: ViolationEventType;
  since: number;
  lastAt: number;
  value?: MetricValue;
  threshold?: MetricValue;
  comparisonOperator?: string;
  action?: string;
}

export function summarizeViolation(e: JournalEntry): ViolationSummary {
  const first = e.events[0];
  const last = e.events.at(-1);
  const value = [...e.events].reverse().find((x) => x.value !== undefined)?.value;
  return {
    violationId: e.violationId,
    thingName: e.thingName,
    behavior: e.behavior,
    metric: e.metric,
    offender: e.offender,
    state: currentEvent(e),
    since: first?.t ?? 0,
    lastAt: last?.t ?? 0,
    ...(value === undefined ? {} : { value }),
    ...(e.threshold === undefined ? {} : { threshold: e.threshold }),
    ...(e.comparisonOperator === undefined ? {} : { comparisonOperator: e.comparisonOperator }),
    ...(e.action === undefined || e.action.type === 'none' ? {} : { action: e.action.type }),
  };
}

export interface AgentStatus {
  /** false: read from the persisted state, the agent did not answer */
  running: boolean;
  t: number;
  thingName?: string;
  pid?: number;
  startedAt?: number;
  version?: string;
  workDir?: string;
  stateDir: string;
  ipc?: { connected: boolean; state: string };
  cloudCommands?: { topic: string; subscription: string; lastError?: string; accepted: number; rejected: number; answersQueued: number };
  outbox?: { depth: number; bytes: number; droppedTotal: number; lastError?: string };
  lastSample?: SampleSummary;
  selfLimit?: { shedding: boolean; rssBytes: number; maxRssBytes: number; cpuPercent: number; maxCpuPercent: number };
  config?: { source: string; rejected: number };
  /** the control socket could not be opened (the agent runs on without it) */
  controlSocketError?: string;
  enforcement: EnforcementStatus;
  violations: { recent: ViolationSummary[]; inAlarm: number; kept: number };
}
