// The agent's own health: a periodic record of RSS, CPU, sample duration, outbox
// depth, violations, actions, rejected inputs and degraded collectors — on local pub/sub, as a heartbeat
// to IoT Core while connected, and as custom metrics in the host report.
import type { TrafficCounters } from '../collector/processTrafficCollector.ts';
import type { ComponentConfig } from '../config/schema.ts';
import type { GreengrassIpcClient } from '../ipc/ipcClient.ts';

export interface HealthRecord {
  t: number;
  thingName: string;
  rssBytes: number;
  cpuPercent: number;
  samples: number;
  sampleMs: { last: number; max: number; p50: number };
  degraded: string[];
  ipcConnected: boolean;
  outboxDepth: number;
  outboxDroppedTotal: number;
  violations: number;
  actions: number;
  rejectedInputs: number;
  configSource: string;
  /** `nucleus`: the nucleus asks the agent to validate configuration updates; `on-apply`: it cannot (nucleus lite) */
  configValidation: string;
  /** the last refused configuration's first errors (`path: message`), empty when none was refused since */
  configErrors: string[];
  mode: string;
  /** the self-limit is shedding optional work */
  shedding: boolean;
  /**
   * Per-process traffic coverage (docs/traffic.md#coverage): the mode (ebpf | sockdiag | proc | off), why
   * not eBPF, the bytes no process could be named for since the start, the bytes of processes outside the
   * agent's pid namespace (eBPF sees the whole host), eBPF processes lost to a full map.
   */
  traffic: { mode: string; reason?: string; unattributedBytes: number; outsideBytes: number; lostProcesses: number };
}

/** What the health record reads, handed in by the composition root (agent.ts): counters, never modules. */
export interface HealthSources {
  thingName: string;
  /** the configuration in force: the self-limit's bounds, the heartbeat and the enforcement mode */
  config(): Pick<ComponentConfig, 'selfLimit' | 'heartbeat' | 'enforcement'>;
  outbox(): { depth: number; droppedTotal: number };
  violations(): { violations: number; actions: number };
  /** downstream reports refused or spoofed, plus configurations refused */
  rejectedInputs(): number;
  configSource(): string;
  /** how configurations are validated, and the errors of the last one refused */
  configValidation(): string;
  configErrors(): readonly string[];
  /** per-process traffic: mode, why not eBPF, unattributed bytes */
  traffic(): TrafficCounters;
}

/** Where the heartbeat goes: local pub/sub always, IoT Core while connected. */
export type HeartbeatIpc = Pick<GreengrassIpcClient, 'publishToTopic' | 'publishToIoTCore' | 'isConnected'>;

export interface HealthMonitorOptions {
  sources: HealthSources;
  ipc: HeartbeatIpc;
  /** every heartbeat record, as it is published */
  onRecord?: (record: HealthRecord) => void;
  now: () => number;
  /** called when the self-limit starts (true) or stops (false) shedding optional work */
  onShed: (shed: boolean, why: string) => void;
  /** tests: RSS and CPU readings */
  readRss?: () => number;
}

const RECENT = 60;
/** enough to find the problem; the health record is published every minute and must stay small */
const MAX_CONFIG_ERRORS = 5;

function trafficOf(t: TrafficCounters): HealthRecord['traffic'] {
  const out: HealthRecord['traffic'] = {
    mode: t.mode,
    unattributedBytes: t.unattributedBytes,
    outsideBytes: t.outsideBytes,
    lostProcesses: t.lostProcesses,
  };
  if (t.reason !== undefined) out.reason = t.reason;
  return out;
}

export class HealthMonitor {
  private readonly sources: HealthSources;
  private readonly ipc: HeartbeatIpc;
  private readonly onRecord: ((record: HealthRecord) => void) | undefined;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private recent: number[] = [];
  private samples = 0;
  private degraded: string[] = [];
  private cpuAt = process.cpuUsage();
  private cpuT: number;
  private cpuPercent = 0;
  private readonly onShed: (shed: boolean, why: string) => void;
  private readonly readRss: () => number;
  private limitCpuAt = process.cpuUsage();
  private limitT: number;
  private overSince: number | undefined;
  private underSince: number | undefined;
  shedding = false;

  constructor(options: HealthMonitorOptions) {
    this.sources = options.sources;
    this.ipc = options.ipc;
    this.onRecord = options.onRecord;
    this.now = options.now;
    this.cpuT = this.now();
    this.limitT = this.cpuT;
    this.onShed = options.onShed;
    this.readRss = options.readRss ?? (() => process.memoryUsage.rss());
  }

  /**
   * The self-limit: when RSS or CPU stays above its bound for `sustainSeconds`, say so loudly and
   * shed optional work (per-process detail); resume once both stayed below for as long. CPU is measured
   * over at least one second between checks.
   */
  checkSelfLimit(t: number, cpuPercentOverride?: number): void {
    const { maxRssBytes, maxCpuPercent, sustainSeconds } = this.sources.config().selfLimit;
    let cpu = cpuPercentOverride;
    if (cpu === undefined) {
      if (t - this.limitT < 1000) return;
      const used = process.cpuUsage(this.limitCpuAt);
      cpu = ((used.user + used.system) / 1000 / (t - this.limitT)) * 100;
      this.limitCpuAt = process.cpuUsage();
      this.limitT = t;
    }
    const rss = this.readRss();
    const over = rss > maxRssBytes || cpu > maxCpuPercent;
    const sustainMs = sustainSeconds * 1000;
    if (over) {
      this.underSince = undefined;
      this.overSince ??= t;
      if (!this.shedding && t - this.overSince >= sustainMs) {
        this.shedding = true;
        this.onShed(
          true,
          `rss ${rss} bytes (bound ${maxRssBytes}), cpu ${cpu.toFixed(1)} % (bound ${maxCpuPercent}) for ${sustainSeconds} s`,
        );
      }
    } else {
      this.overSince = undefined;
      this.underSince ??= t;
      if (this.shedding && t - this.underSince >= sustainMs) {
        this.shedding = false;
        this.onShed(false, `rss ${rss} bytes, cpu ${cpu.toFixed(1)} % back within bounds for ${sustainSeconds} s`);
      }
    }
  }

  start(): void {
    const config = this.sources.config();
    if (!config.heartbeat.enabled) return;
    this.timer = setInterval(() => this.publish(), config.heartbeat.intervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  recordSample(durationMs: number, degraded: string[]): void {
    this.samples++;
    this.recent.push(durationMs);
    if (this.recent.length > RECENT) this.recent.shift();
    this.degraded = degraded;
  }

  record(): HealthRecord {
    const t = this.now();
    const cpu = process.cpuUsage(this.cpuAt);
    const elapsed = t - this.cpuT;
    if (elapsed >= 1000) {
      this.cpuPercent = Math.round(((cpu.user + cpu.system) / 1000 / elapsed) * 1000) / 10;
      this.cpuAt = process.cpuUsage();
      this.cpuT = t;
    }
    const s = this.sources;
    const outbox = s.outbox();
    const violations = s.violations();
    const sorted = [...this.recent].sort((a, b) => a - b);
    return {
      t,
      thingName: s.thingName,
      rssBytes: process.memoryUsage.rss(),
      cpuPercent: this.cpuPercent,
      samples: this.samples,
      sampleMs: { last: this.recent.at(-1) ?? 0, max: sorted.at(-1) ?? 0, p50: sorted[Math.floor(sorted.length / 2)] ?? 0 },
      degraded: this.degraded,
      ipcConnected: this.ipc.isConnected(),
      outboxDepth: outbox.depth,
      outboxDroppedTotal: outbox.droppedTotal,
      violations: violations.violations,
      actions: violations.actions,
      rejectedInputs: s.rejectedInputs(),
      configSource: s.configSource(),
      configValidation: s.configValidation(),
      configErrors: s.configErrors().slice(0, MAX_CONFIG_ERRORS),
      mode: s.config().enforcement.mode,
      shedding: this.shedding,
      traffic: trafficOf(s.traffic()),
    };
  }

  /** Custom metrics for the host report (names follow the custom-metric rules, docs/reports.md#custom-metrics). */
  reportMetrics(outboxDropped: number): Record<string, number> {
    const r = this.record();
    return {
      'defender-edge:rss-bytes': r.rssBytes,
      'defender-edge:cpu-percent': r.cpuPercent,
      'defender-edge:sample-ms-max': r.sampleMs.max,
      'defender-edge:outbox-depth': r.outboxDepth,
      'defender-edge:outbox-dropped': outboxDropped,
      'defender-edge:violations': r.violations,
      'defender-edge:actions': r.actions,
      'defender-edge:rejected-inputs': r.rejectedInputs,
      'defender-edge:degraded-sources': r.degraded.length,
      'defender-edge:shedding': r.shedding ? 1 : 0,
      'defender-edge:unattributed-bytes': r.traffic.unattributedBytes,
    };
  }

  private publish(): void {
    const r = this.record();
    const config = this.sources.config();
    this.onRecord?.(r);
    this.ipc.publishToTopic(config.heartbeat.localTopic, r).catch(() => undefined);
    if (this.ipc.isConnected()) {
      // A heartbeat is about now: it is not queued for later like reports and violations.
      const topic = config.heartbeat.topic.replaceAll('{thingName}', this.sources.thingName);
      this.ipc.publishToIoTCore(topic, JSON.stringify(r), 0).catch(() => undefined);
    }
  }
}
