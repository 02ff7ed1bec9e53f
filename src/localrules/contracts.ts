// Types shared by the evaluator, the enforcement backends and the agent. Plain data.

/** Device Defender MetricValue (https://docs.aws.amazon.com/iot/latest/apireference/API_MetricValue.html). */
export type MetricValue =
  | { count: number }
  | { number: number }
  | { numbers: number[] }
  | { ports: number[] }
  | { cidrs: string[] }
  | { strings: string[] };

/** Who a violation is about; enforcement acts on this and nothing else. */
export type Offender =
  | { kind: 'host' }
  | { kind: 'process'; pid: number; comm: string; exe?: string; cgroup?: string; startTime?: number }
  | { kind: 'device'; thingName: string; addresses: string[]; interface?: string };

/** Our extension to a behavior: what to do when it goes `in-alarm`. Absent or `none` = alert only. */
export const ACTION_TYPES = [
  'none',
  'process-suspend', // SIGSTOP (reverted with SIGCONT)
  'process-terminate', // SIGTERM, SIGKILL after the grace period
  'process-freeze', // cgroup v2 freeze of the process's cgroup
  'address-block', // nft set element with a kernel timeout: the device's addresses (or the offending remote ones)
  'interface-down', // ip link set DEV down
  'interface-quarantine', // drop everything on DEV in our nft table
] as const;

export type ActionType = (typeof ACTION_TYPES)[number];

export interface ActionSpec {
  type: ActionType;
  /** how long a reversible action lasts before it is reverted by itself (kernel timeout for nft) */
  ttlSeconds?: number;
  /** log only, change nothing — per behavior; the global enforcement.mode can force it too */
  dryRun?: boolean;
  /** revert when the violation goes `alarm-cleared` */
  revertOnClear?: boolean;
}

/** Which subjects a behavior is evaluated for. Default: { host: true, devices: true }. */
export interface ScopeSpec {
  host?: boolean;
  processes?: boolean;
  devices?: boolean;
  things?: string[];
}

export type ViolationEventType = 'in-alarm' | 'alarm-cleared' | 'alarm-invalidated';

export interface ViolationEvent {
  /** stable for the life of one violation (in-alarm … cleared/invalidated), [a-zA-Z0-9-]{1,128} */
  violationId: string;
  thingName: string;
  behavior: string;
  metric: string;
  event: ViolationEventType;
  /** the datapoint value that caused the transition (absent for alarm-invalidated) */
  value?: MetricValue;
  /** the criteria value or the resolved statistical threshold */
  threshold?: MetricValue;
  comparisonOperator?: string;
  /** ms since the epoch */
  t: number;
  offender: Offender;
  action?: ActionSpec;
  suppressAlerts?: boolean;
}
