// Downstream devices' own Defender reports: they arrive on local pub/sub (bridged from the
// client-device broker), are validated like the service would, checked against the known downstream
// devices (anything else is a spoofing attempt), answered service-style on local pub/sub, handed to local
// evaluation, and forwarded unchanged to the thing's reserved topic through the outbox.
import { LRUCache } from 'lru-cache';
import type { ComponentConfig, DownstreamDevice } from '../config/schema.ts';
import { compileThingNamePattern } from '../config/thingNamePattern.ts';
import type { GreengrassIpcClient } from '../ipc/ipcClient.ts';
import type { IpcSubscription, LocalMessage } from '../ipc/ipcTypes.ts';
import type { Offender } from '../localrules/contracts.ts';
import type { Datapoint } from '../localrules/evaluator.ts';
import { datapointsFromReport } from '../localrules/reportDatapoints.ts';
import type { Logger } from '../log.ts';
import { encodeDocument } from '../report/encode.ts';
import { ReportChecker } from '../report/reportChecker.ts';
import { rejectedResponse } from '../report/response.ts';

export interface DownstreamIntakeOptions {
  ipc: Pick<GreengrassIpcClient, 'subscribeToTopic' | 'publishToTopic'>;
  logger: Logger;
  /** validated datapoints of an accepted report from a known device */
  onDatapoints: (points: Datapoint[]) => void;
  /** an accepted report from a known device, to forward to the cloud */
  onForward: (thingName: string, format: 'json' | 'cbor', payload: Buffer, reportId: number) => void;
  now?: () => number;
}

export interface DownstreamIntakeStats {
  received: number;
  accepted: number;
  rejected: number;
  spoofed: number;
  notReports: number;
  answerFailures: number;
  /** answers not sent because MAX_ANSWERS_IN_FLIGHT were on their way and MAX_ANSWERS_QUEUED waiting (a flood) */
  answersShed: number;
  /** accepted reports not forwarded: within `downstream.forwardMinIntervalSeconds` of the device's last one */
  notForwarded: number;
}

/** Devices whose last forwarding time is remembered at most (least recently forwarded forgotten first). */
const MAX_FORWARD_CLOCKS = 100_000;

/**
 * A report for a thing that is not a known downstream device is rejected with the service's only documented
 * code (docs/reports.md#answers-accepted-and-rejected).
 */
const SPOOF_MESSAGE = 'thing is not a known downstream device of this gateway';

/**
 * Answers on their way over IPC at most, and answers waiting behind them. A flooding device would
 * otherwise pile up thousands of PublishToTopic calls that time out, and the SDK rejects a cancelled
 * activation with nobody listening (an unhandled rejection ends the process) — found by fuzzing (test/fuzz/).
 * The short queue absorbs the bursts of a steady load (a poll cycle of many devices); past it an answer is
 * shed and counted, the report itself is still judged, evaluated and forwarded.
 */
export const MAX_ANSWERS_IN_FLIGHT = 32;
export const MAX_ANSWERS_QUEUED = 256;

export class DownstreamIntake {
  private readonly o: DownstreamIntakeOptions;
  private readonly log: Logger;
  private readonly checker: ReportChecker;
  private readonly now: () => number;
  private devices = new Map<string, DownstreamDevice>();
  private pattern: RegExp | undefined;
  private subscription: IpcSubscription | undefined;
  private topic = '';
  private inFlight = 0;
  private readonly waiting: Array<{ topic: string; payload: Uint8Array }> = [];
  private forwardIntervalMs = 0;
  /**
   * Created when `forwardMinIntervalSeconds` first asks for it: lru-cache allocates its index arrays for `max`
   * entries up front (~2.7 MiB for 100,000), which an agent that forwards every report never needs.
   */
  private lastForwarded: LRUCache<string, number> | undefined;
  readonly stats: DownstreamIntakeStats = {
    received: 0,
    accepted: 0,
    rejected: 0,
    spoofed: 0,
    notReports: 0,
    answerFailures: 0,
    answersShed: 0,
    notForwarded: 0,
  };

  constructor(options: DownstreamIntakeOptions) {
    this.o = options;
    this.log = options.logger.child({ module: 'downstream' });
    this.checker = new ReportChecker(this.log);
    this.now = options.now ?? Date.now;
  }

  /** (Re)subscribe for a configuration; only resubscribes when the report topic changed. */
  async configure(config: ComponentConfig): Promise<void> {
    this.devices = new Map(config.downstream.devices.map((d) => [d.thingName, d]));
    this.pattern = config.downstream.thingNamePattern ? compileThingNamePattern(config.downstream.thingNamePattern) : undefined;
    this.forwardIntervalMs = config.downstream.forwardMinIntervalSeconds * 1000;
    if (this.subscription && this.topic === config.downstream.reportTopic) return;
    await this.subscription?.close();
    this.topic = config.downstream.reportTopic;
    this.subscription = this.o.ipc.subscribeToTopic(this.topic, (m) => this.onMessage(m));
  }

  isKnown(thingName: string): boolean {
    return this.devices.has(thingName) || (this.pattern?.test(thingName) ?? false);
  }

  offenderFor(thingName: string): Offender {
    const d = this.devices.get(thingName);
    const o: Offender = { kind: 'device', thingName, addresses: d?.addresses ?? [] };
    if (d?.interface !== undefined) o.interface = d.interface;
    return o;
  }

  async close(): Promise<void> {
    this.waiting.length = 0;
    await this.subscription?.close();
    this.subscription = undefined;
  }

  /** Exposed for tests and for the benchmark; never throws. */
  onMessage(m: LocalMessage): void {
    this.stats.received++;
    const payload = m.kind === 'binary' ? m.value : Buffer.from(JSON.stringify(m.value), 'utf8');
    const nowMs = this.now();
    const result = this.checker.check({ topic: m.topic, payload, nowMs });
    if (result.status === 'NOT_A_REPORT_TOPIC') {
      this.stats.notReports++;
      return;
    }
    if (result.status === 'REJECTED') {
      this.stats.rejected++;
      if (result.reply) this.answer(result.reply.topic, result.reply.payload);
      return;
    }
    const thingName = result.thingName!;
    if (!this.isKnown(thingName)) {
      this.stats.spoofed++;
      this.log.warn(
        { thingName: thingName.slice(0, 128), reportId: result.response.reportId },
        'report for a thing that is not a known downstream device: refused as spoofed',
      );
      const response = rejectedResponse(thingName, result.response.reportId, [SPOOF_MESSAGE], nowMs);
      // Answered only where the report check would answer: a topic that can be published to.
      if (result.reply) this.answer(`${m.topic}/rejected`, Buffer.from(encodeDocument(response, result.format)));
      return;
    }
    this.stats.accepted++;
    try {
      // On disk (the outbox) before the device hears "accepted" and may discard its copy.
      if (this.forwardDue(thingName, nowMs)) this.o.onForward(thingName, result.format, payload, result.response.reportId);
      this.o.onDatapoints(datapointsFromReport(result.report, thingName, this.offenderFor(thingName), nowMs));
    } catch (err) {
      this.log.error({ err, thingName }, 'could not hand an accepted downstream report on');
    }
    if (result.reply) this.answer(result.reply.topic, result.reply.payload);
  }

  /**
   * Whether this device's report goes to the cloud: always, unless the configuration spaces them out (the
   * service throttles a thing that reports too often, and a chatty device would crowd the outbox).
   */
  private forwardDue(thingName: string, nowMs: number): boolean {
    if (this.forwardIntervalMs <= 0) return true;
    this.lastForwarded ??= new LRUCache<string, number>({ max: MAX_FORWARD_CLOCKS });
    const last = this.lastForwarded.get(thingName);
    if (last !== undefined && nowMs - last < this.forwardIntervalMs && nowMs >= last) {
      if (this.stats.notForwarded++ % 1000 === 0)
        this.log.info(
          { thingName, notForwarded: this.stats.notForwarded },
          'report not forwarded: the device reported again within downstream.forwardMinIntervalSeconds',
        );
      return false;
    }
    this.lastForwarded.set(thingName, nowMs);
    return true;
  }

  /** Answers not yet acknowledged by the nucleus. */
  get answersInFlight(): number {
    return this.inFlight;
  }

  /** Answers waiting for room in flight. */
  get answersQueued(): number {
    return this.waiting.length;
  }

  private answer(topic: string, payload: Uint8Array): void {
    if (this.inFlight < MAX_ANSWERS_IN_FLIGHT) {
      this.send(topic, payload);
      return;
    }
    if (this.waiting.length < MAX_ANSWERS_QUEUED) {
      this.waiting.push({ topic, payload });
      return;
    }
    if (this.stats.answersShed++ % 1000 === 0)
      this.log.warn({ topic: topic.slice(0, 256), shed: this.stats.answersShed }, 'too many answers waiting: answer shed');
  }

  private send(topic: string, payload: Uint8Array): void {
    this.inFlight++;
    this.o.ipc
      .publishToTopic(topic, Buffer.from(payload))
      .catch((err: Error) => {
        this.stats.answerFailures++;
        this.log.warn({ err, topic: topic.slice(0, 256) }, 'could not answer a downstream device');
      })
      .finally(() => {
        this.inFlight--;
        const next = this.waiting.shift();
        if (next) this.send(next.topic, next.payload);
      });
  }
}
