// Cloud reporting: samples are taken every second, but each thing gets one Device Defender report per reporting
// interval (≥ 300 s, docs/reports.md#limits-and-cadence) covering exactly that interval. Reports go through the
// outbox (QoS 1, disk-backed) to the thing's reserved topic; the service's accepted/rejected answers are
// correlated with what we sent by report_id.
import type { DeviceSample, HostSample } from '../collector/sample.ts';
import type { ComponentConfig } from '../config/schema.ts';
import type { Outbox } from '../ipc/outbox.ts';
import type { Logger } from '../log.ts';
import { type BuiltReport, buildDeviceReport, buildHostReport } from '../report/buildReport.ts';
import { deviceIntervalAggregator, hostIntervalAggregator, type IntervalAggregator } from '../report/intervalAggregator.ts';
import { REPORT_VERSION } from '../report/model.ts';
import type { ReportIdStore } from '../report/reportIdStore.ts';
import { parseReportResponse } from '../report/response.ts';
import { encodeWithinLimit } from '../report/sizeLimit.ts';
import { parseReportTopic, reportTopic } from '../report/topics.ts';

export interface ReporterOptions {
  thingName: string;
  config: ComponentConfig;
  outbox: Pick<Outbox, 'enqueue' | 'confirmReport'>;
  ids: ReportIdStore;
  logger: Logger;
  nowMs: number;
  /**
   * Demos and tests only: a reporting interval below the configuration's (whose floor is the service's 300 s,
   * docs/reports.md#limits-and-cadence). Never set by a deployment; `run --report-interval-seconds` says so in its help.
   */
  intervalOverrideSeconds?: number;
  /** custom metrics the agent adds to every host report (health, outbox drops) */
  extraHostMetrics?: () => Record<string, number>;
}

export interface ReporterStats {
  reportsQueued: number;
  accepted: number;
  rejected: number;
  lastRejection?: { thingName?: string; reportId?: number; errorCode: string; errorMessage: string };
  /**
   * the gateway's own reports sent but not answered yet (acceptances are only subscribed for the gateway's
   * own thing, agent.ts; for other things only rejections come back)
   */
  awaiting: number;
}

/** At most this many report ids per thing are remembered while waiting for an answer. */
const MAX_AWAITING_PER_THING = 64;

export class Reporter {
  private readonly o: ReporterOptions;
  private readonly log: Logger;
  private host: IntervalAggregator<HostSample>;
  private readonly devices = new Map<string, IntervalAggregator<DeviceSample>>();
  /**
   * No device window ends before this (the earliest nextDueMs when last computed): flushDue runs every
   * sample, and with a thousand devices a walk over all of them each second was most of its cost.
   */
  private devicesDueMs = Number.POSITIVE_INFINITY;
  private readonly awaiting = new Map<string, Set<number>>();
  private readonly stats: ReporterStats = { reportsQueued: 0, accepted: 0, rejected: 0, awaiting: 0 };

  constructor(options: ReporterOptions) {
    this.o = options;
    this.log = options.logger.child({ module: 'reporter' });
    this.host = hostIntervalAggregator({ intervalMs: this.intervalMs(), startMs: options.nowMs });
  }

  private intervalMs(): number {
    return (this.o.intervalOverrideSeconds ?? this.o.config.reporting.intervalSeconds) * 1000;
  }

  reconfigure(config: ComponentConfig, nowMs: number): void {
    const changed = config.reporting.intervalSeconds !== this.o.config.reporting.intervalSeconds;
    this.o.config = config;
    if (changed) {
      this.host = hostIntervalAggregator({ intervalMs: this.intervalMs(), startMs: nowMs });
      this.devices.clear();
      this.devicesDueMs = Number.POSITIVE_INFINITY;
    }
  }

  addHost(sample: HostSample): void {
    this.host.add(sample);
  }

  addDevice(sample: DeviceSample): void {
    let agg = this.devices.get(sample.thingName);
    if (!agg) {
      agg = deviceIntervalAggregator(sample.thingName, { intervalMs: this.intervalMs(), startMs: sample.t });
      this.devices.set(sample.thingName, agg);
      this.devicesDueMs = Math.min(this.devicesDueMs, agg.nextDueMs);
    }
    agg.add(sample);
  }

  /** Devices no longer configured stop being reported. */
  forgetDevicesExcept(known: ReadonlySet<string>): void {
    for (const thing of this.devices.keys()) if (!known.has(thing)) this.devices.delete(thing);
  }

  /** Build and queue every report that is due at `nowMs`. */
  flushDue(nowMs: number): void {
    if (!this.o.config.reporting.enabled) return;
    if (nowMs >= this.host.nextDueMs) {
      const window = this.host.take(nowMs);
      if (window) {
        this.queue(
          this.o.thingName,
          (reportId) => {
            const built = buildHostReport(window, { reportId, maxListSize: this.o.config.reporting.maxListSize });
            const extra = Object.entries(this.o.extraHostMetrics?.() ?? {});
            if (extra.length === 0) return built;
            const report = built.report ?? { header: { reportId, version: REPORT_VERSION } };
            report.customMetrics = [...(report.customMetrics ?? []), ...extra.map(([name, value]) => ({ name, value: { number: value } }))];
            return { ...built, report };
          },
          nowMs,
        );
      }
    }
    if (nowMs < this.devicesDueMs) return;
    let next = Number.POSITIVE_INFINITY;
    for (const [thing, agg] of this.devices) {
      if (nowMs >= agg.nextDueMs) {
        const window = agg.take(nowMs);
        if (window)
          this.queue(thing, (reportId) => buildDeviceReport(window, { reportId, maxListSize: this.o.config.reporting.maxListSize }), nowMs);
      }
      next = Math.min(next, agg.nextDueMs);
    }
    this.devicesDueMs = next;
  }

  /** Forward a downstream device's own (already validated) report unchanged, keeping its report_id. */
  forwardDeviceReport(thingName: string, format: 'json' | 'cbor', payload: Buffer, reportId: number): void {
    // Not remembered as awaiting an answer: acceptances for other things are not subscribed (agent.ts), and
    // device names (thingNamePattern) are not a bounded set.
    this.enqueue(thingName, format, payload, reportId, false);
  }

  private enqueue(thingName: string, format: 'json' | 'cbor', payload: Buffer, reportId: number, remember = true): void {
    this.o.outbox.enqueue({
      kind: 'report',
      topic: reportTopic(thingName, format),
      payload: format === 'json' ? payload.toString('utf8') : payload.toString('base64'),
      encoding: format === 'json' ? 'utf8' : 'base64',
      reportId,
    });
    if (remember) this.remember(thingName, reportId);
    this.stats.reportsQueued++;
  }

  /** An answer from the service on `…/accepted` or `…/rejected`. */
  onReply(topic: string, payload: Buffer): void {
    const t = parseReportTopic(topic);
    const format = t.format ?? (topic.includes('/cbor/') ? 'cbor' : 'json');
    const parsed = parseReportResponse(payload, format);
    if (!parsed.ok) {
      this.log.warn({ topic, reason: parsed.error }, 'unreadable answer from Device Defender');
      return;
    }
    const r = parsed.response;
    const thing = t.thingName ?? r.thingName;
    const known = thing !== undefined && r.reportId !== undefined && this.awaiting.get(thing)?.delete(r.reportId);
    // Either answer proves the cloud has this report and everything sent before it (ipc/outbox.ts).
    if (r.reportId !== undefined) this.o.outbox.confirmReport(topic.slice(0, topic.lastIndexOf('/')), r.reportId);
    if (r.status === 'ACCEPTED') {
      this.stats.accepted++;
      this.log.debug({ thingName: thing, reportId: r.reportId, known }, 'report accepted');
    } else {
      this.stats.rejected++;
      const rejection = {
        thingName: thing,
        reportId: r.reportId,
        errorCode: r.statusDetails.ErrorCode,
        errorMessage: r.statusDetails.ErrorMessage,
      };
      this.stats.lastRejection = rejection;
      this.log.warn({ ...rejection, known }, 'report rejected by Device Defender');
    }
  }

  statsNow(): ReporterStats {
    return { ...this.stats, awaiting: this.awaiting.get(this.o.thingName)?.size ?? 0 };
  }

  private queue(thingName: string, build: (reportId: number) => BuiltReport, nowMs: number): void {
    let reportId: number;
    try {
      reportId = this.o.ids.next(nowMs);
    } catch (err) {
      // Without a durable id we could repeat one after a crash; skip this window, say why.
      this.log.error({ err, thingName }, 'cannot reserve a report_id; report skipped');
      return;
    }
    const built = build(reportId);
    if (built.problems.length > 0) this.log.warn({ thingName, problems: built.problems }, 'report built with problems');
    if (!built.report) return; // nothing measured in this window: no report rather than an empty one
    const { format, names } = this.o.config.reporting;
    const encoded = encodeWithinLimit(built.report, { format, style: names });
    if (!encoded.ok) {
      this.log.error({ thingName, reportId, reason: encoded.error }, 'report does not fit the message limit; skipped');
      return;
    }
    if (encoded.sampled.length > 0) this.log.info({ thingName, reportId, sampled: encoded.sampled }, 'report lists sampled to fit');
    this.enqueue(thingName, format, Buffer.from(encoded.payload), reportId);
  }

  private remember(thingName: string, reportId: number): void {
    let set = this.awaiting.get(thingName);
    if (!set) {
      set = new Set();
      this.awaiting.set(thingName, set);
    }
    set.add(reportId);
    if (set.size > MAX_AWAITING_PER_THING) set.delete(set.values().next().value!);
  }
}
