// The composition root (docs/architecture.md): the one place that builds every part (once; the collector and the enforcer again
// when their configuration changes), hands each the narrow interface it needs — one command runner for
// the collector and enforcement, counters for the health monitor, publish/enqueue for the publishers —
// starts and stops them in order, and runs the one-directional data flow
// collector → samples → local rules → enforcement / violations → outbox, with reports aggregated per thing
// on the side. Constructors only store; start() does the work.
import { EventEmitter } from 'node:events';
import { join, resolve } from 'node:path';
import type { CollectorSample } from '../collector/collector.ts';
import { Collector } from '../collector/collector.ts';
import type { ProcessTrafficPoll } from '../collector/processTrafficCollector.ts';
import type { ProcessRef } from '../collector/sample.ts';
import type { ComponentConfig } from '../config/schema.ts';
import { OperatorConsole } from '../control/operatorConsole.ts';
import type { ActionRecord } from '../enforce/actionModel.ts';
import { createEnforcer } from '../enforce/createEnforcer.ts';
import type { Enforcer } from '../enforce/enforcer.ts';
import { GreengrassIpcClient } from '../ipc/ipcClient.ts';
import type { IpcSubscription } from '../ipc/ipcTypes.ts';
import { Outbox } from '../ipc/outbox.ts';
import { behaviorsOf, evaluatorOptionsOf } from '../localrules/configCheck.ts';
import type { ViolationEvent } from '../localrules/contracts.ts';
import { type DeviceInfo, datapointsFromSample, datapointsFromTrafficPoll, deviceInfoOf } from '../localrules/datapoints.ts';
import { type Datapoint, Evaluator, type ViolationEvidence } from '../localrules/evaluator.ts';
import { type CompiledProfile, compileProfile } from '../localrules/profile.ts';
import { ThresholdCache } from '../localrules/thresholdCache.ts';
import type { Logger } from '../log.ts';
import { ReportIdStore } from '../report/reportIdStore.ts';
import { type CommandRunner, createCommandRunner } from '../system/commandRunner.ts';
import { componentConfigChecks } from './configChecks.ts';
import { ConfigManager, type ConfigSource } from './configManager.ts';
import { DownstreamIntake } from './downstreamIntake.ts';
import { HealthMonitor, type HealthRecord, type HealthSources } from './health.ts';
import { Reporter } from './reporter.ts';
import { ViolationPublisher } from './violationPublisher.ts';

export interface AgentOptions {
  socketPath: string;
  authToken: string;
  thingName: string;
  /** where state lives before the configuration is known (last good configuration); config.stateDir is resolved against the working directory */
  bootstrapStateDir: string;
  /** `run --state-dir`: where all state lives, whatever the configuration's stateDir says */
  stateDir?: string;
  logger: Logger;
  /** tests: run collector and enforcement commands in this network namespace */
  netns?: string;
  /** demos and tests: report every N seconds instead of the configured ≥ 300 s (see Reporter) */
  reportIntervalOverrideSeconds?: number;
  /** how long start() waits for the nucleus before running on the last good configuration */
  connectWaitMs?: number;
  /**
   * Demos and tests: only processes this accepts are evaluated per process (default: every process).
   * The demo limits per-process behaviors — and so enforcement — to the processes it started itself.
   */
  processFilter?: (p: ProcessRef) => boolean;
  now?: () => number;
  /**
   * The component's work folder, where the control socket lives (`run` passes its working directory:
   * Greengrass starts a component in its work folder). Absent: no control socket (tests, the demo).
   */
  workDir?: string;
}

export interface AgentEvents {
  sample: [sample: CollectorSample, durationMs: number];
  violation: [event: ViolationEvent];
  action: [record: ActionRecord];
  health: [record: HealthRecord];
  configured: [config: ComponentConfig, source: ConfigSource];
}

const EXPIRE_EVERY_MS = 10_000;
const CACHE_FLUSH_EVERY_MS = 300_000;

export class Agent extends EventEmitter<AgentEvents> {
  private readonly o: AgentOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  readonly ipc: GreengrassIpcClient;
  /** ss, ip and nft for the collector and enforcement, in one namespace */
  private readonly runner: CommandRunner;
  private readonly configs: ConfigManager;
  private config!: ComponentConfig;
  /** deviceInfoOf the configured devices, built again only when the device list changes (not every sample) */
  private deviceInfoMemo: { devices: ComponentConfig['downstream']['devices']; info: DeviceInfo } | undefined;
  private stateDir = '';
  private outbox!: Outbox;
  private ids!: ReportIdStore;
  private reporter!: Reporter;
  private collector!: Collector;
  private enforcer!: Enforcer;
  private profile!: CompiledProfile;
  private cache!: ThresholdCache;
  private evaluator!: Evaluator;
  private downstream!: DownstreamIntake;
  private violations!: ViolationPublisher;
  /**
   * Action records made before the violation publisher exists (the start-up restore runs first, so that
   * persisted blocks and stops are back before anything else can fail): published as soon as it does.
   */
  private actionsBeforePublisher: ActionRecord[] | undefined = [];
  private health!: HealthMonitor;
  private console: OperatorConsole | undefined;
  private messageSubs: IpcSubscription[] = [];
  private replySubs: IpcSubscription[] = [];
  private sampleTimer: NodeJS.Timeout | undefined;
  private trafficTimer: NodeJS.Timeout | undefined;
  /** a poll of the kernel counters waits in `busy` (never more than one) */
  private trafficPollQueued = false;
  private sampling = false;
  private stopped = false;
  private lastExpire = 0;
  private lastCacheFlush = 0;
  /** serializes reconfiguration against sampling */
  private busy: Promise<void> = Promise.resolve();

  constructor(options: AgentOptions) {
    super();
    this.o = options;
    this.log = options.logger.child({ module: 'agent' });
    this.now = options.now ?? Date.now;
    // Reconnect at most 2 s apart: the nucleus is a local socket (an attempt costs microseconds), and the agent
    // must carry on within 5 s of the nucleus coming back (test/integration/faultNucleus.test.ts).
    this.ipc = new GreengrassIpcClient({
      socketPath: options.socketPath,
      authToken: options.authToken,
      logger: options.logger,
      backoff: { maxMs: 2000 },
    });
    this.runner = createCommandRunner(options.netns !== undefined ? { netns: options.netns } : {});
    this.configs = new ConfigManager({
      ipc: this.ipc,
      lastGoodPath: join(options.bootstrapStateDir, 'last-good-config.json'),
      checks: componentConfigChecks,
      logger: options.logger,
      now: this.now,
    });
  }

  get thingName(): string {
    return this.o.thingName;
  }

  async start(): Promise<void> {
    const t0 = this.now();
    this.ipc.start();
    const connected = await this.ipc.whenConnected(this.o.connectWaitMs ?? 5000).then(
      () => true,
      () => false,
    );
    if (!connected)
      this.log.warn(
        { socket: this.o.socketPath },
        'nucleus not reachable yet; starting on the last good configuration, IPC keeps retrying',
      );
    this.config = await this.configs.load(connected);
    this.stateDir = resolve(this.o.stateDir ?? this.config.stateDir);
    this.log.info({ thingName: this.o.thingName, source: this.configs.currentSource(), stateDir: this.stateDir }, 'configuration loaded');

    // Enforcement first: persisted blocks and stops are restored before anything else can fail.
    this.enforcer = this.makeEnforcer(this.config);
    await this.enforcer.start();

    this.outbox = new Outbox({
      dir: join(this.stateDir, 'outbox'),
      maxEntries: this.config.outbox.maxEntries,
      maxBytes: this.config.outbox.maxBytes,
      maxBackoffMs: this.config.outbox.maxBackoffMs,
      replayBytes: this.config.outbox.replayBytes,
      publish: (topic, payload, qos) => this.ipc.publishToIoTCore(topic, payload, qos),
      nucleusId: () => this.ipc.nucleusInstance(),
      logger: this.o.logger.child({ module: 'outbox' }),
    });
    this.outbox.start();
    this.ids = new ReportIdStore({ path: join(this.stateDir, 'report-ids.json'), nowMs: this.now() });

    this.profile = compileProfile(behaviorsOf(this.config));
    this.cache = new ThresholdCache({
      dir: join(this.stateDir, 'thresholds'),
      maxThings: this.config.thresholdCache.maxThings,
      maxBytes: this.config.thresholdCache.maxBytes,
      keys: () => this.profile.keys,
      logger: this.o.logger.child({ module: 'thresholds' }),
    });
    this.evaluator = new Evaluator(this.profile, this.cache, evaluatorOptionsOf(this.config));
    this.violations = new ViolationPublisher({ ipc: this.ipc, outbox: this.outbox, gatewayThing: this.o.thingName, logger: this.o.logger });
    this.violations.configure(this.config);
    for (const record of this.actionsBeforePublisher ?? []) this.violations.publishAction(record);
    this.actionsBeforePublisher = undefined;
    this.reporter = new Reporter({
      thingName: this.o.thingName,
      config: this.config,
      outbox: this.outbox,
      ids: this.ids,
      logger: this.o.logger,
      nowMs: this.now(),
      ...(this.o.reportIntervalOverrideSeconds !== undefined ? { intervalOverrideSeconds: this.o.reportIntervalOverrideSeconds } : {}),
      extraHostMetrics: () => this.health.reportMetrics(this.outbox.takeDropped()),
    });
    this.health = new HealthMonitor({
      sources: this.healthSources(),
      ipc: this.ipc,
      onRecord: (record) => this.emit('health', record),
      now: this.now,
      onShed: (shed, why) => this.shed(shed, why),
    });

    this.collector = this.makeCollector(this.config);
    await this.collector.start();
    this.downstream = new DownstreamIntake({
      ipc: this.ipc,
      logger: this.o.logger,
      onDatapoints: (points) => this.evaluate(points),
      onForward: (thing, format, payload, reportId) => this.reporter.forwardDeviceReport(thing, format, payload, reportId),
      now: this.now,
    });
    // The operator's console (control socket, cloud commands, violation journal) before the first sample or device report.
    this.console = new OperatorConsole({
      agent: this,
      outbox: this.outbox,
      ...(this.o.workDir === undefined ? {} : { workDir: resolve(this.o.workDir) }),
      stateDir: this.stateDir,
      logger: this.o.logger,
      now: this.now,
    });
    await this.console.start();
    await this.downstream.configure(this.config);
    this.subscribeMessages(this.config);
    // Rejections for every thing we report for; acceptances only for the gateway's own reports. A
    // forwarded flood would otherwise bring one more inbound IPC message per report (as costly to the
    // agent as the inbound report itself), only to count it; the gateway's own accepted reports confirm
    // the outbox's replay window (ipc/outbox.ts), and its size bound does the rest.
    this.replySubs = [
      this.ipc.subscribeToIoTCore(`$aws/things/${this.o.thingName}/defender/metrics/+/accepted`, 1, (m) =>
        this.reporter.onReply(m.topic, m.payload),
      ),
      this.ipc.subscribeToIoTCore('$aws/things/+/defender/metrics/+/rejected', 1, (m) => this.reporter.onReply(m.topic, m.payload)),
    ];

    this.configs.on('changed', (c, source) => {
      this.busy = this.busy
        .then(() => this.reconfigure(c, source))
        .catch((err: unknown) => this.log.error({ err }, 'reconfiguration failed'));
    });
    this.configs.subscribe();
    this.ipc.on('connected', () => {
      this.outbox.retryNow();
      void this.configs.refresh();
      void this.ipc.updateState('RUNNING').catch(() => undefined);
    });
    if (connected) await this.ipc.updateState('RUNNING').catch((err: unknown) => this.log.warn({ err }, 'UpdateState RUNNING failed'));

    this.health.start();
    this.scheduleSample(0);
    this.scheduleTrafficPoll();
    this.log.info(
      { startupMs: this.now() - t0, behaviors: this.profile.behaviors.length, mode: this.config.enforcement.mode },
      'agent running',
    );
    this.emit('configured', this.config, this.configs.currentSource());
  }

  /** Graceful shutdown: every step raced against a timeout; enforcement state is persisted, nothing is lifted. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.sampleTimer) clearTimeout(this.sampleTimer);
    if (this.trafficTimer) clearTimeout(this.trafficTimer);
    this.health?.stop();
    const step = async (name: string, fn: () => Promise<unknown> | unknown, ms = 3000) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(fn),
          new Promise((_, rej) => {
            timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms`)), ms);
          }),
        ]);
      } catch (err) {
        this.log.warn({ err, step: name }, 'shutdown step failed');
      } finally {
        if (timer) clearTimeout(timer);
      }
    };
    await step('sampling', () => this.busy);
    await step('console', () => this.console?.stop());
    await step('outbox drain', () => (this.ipc.isConnected() ? this.outbox?.drained(2000) : undefined));
    await step('subscriptions', () => Promise.all([...this.messageSubs, ...this.replySubs].map((s) => s.close())));
    await step('downstream', () => this.downstream?.close());
    await step('config', () => this.configs.close());
    await step('enforcer', () => this.enforcer?.stop());
    await step('collector', () => this.collector?.stop());
    await step('thresholds', () => this.cache?.flush());
    await step('report ids', () => this.ids?.close());
    // The answers to publishes still in flight, so the outbox knows the nucleus took them (no resend after the restart).
    await step('outbox settle', () => this.outbox?.settle(2000));
    await step('outbox', () => this.outbox?.stop());
    await step('ipc', () => this.ipc.stop());
    this.log.info('agent stopped');
  }

  currentConfig(): ComponentConfig {
    return this.config;
  }

  /** The enforcer in use now (a new one replaces it when the enforcement configuration changes). */
  enforcement(): Enforcer {
    return this.enforcer;
  }

  /** What an in-alarm event was judged on; call it while handling the event (see Evaluator.evidenceFor). */
  evidenceFor(ev: ViolationEvent): ViolationEvidence | undefined {
    return this.evaluator.evidenceFor(ev);
  }

  /** The self-limit's state for `status` (whether it sheds optional work now). */
  isShedding(): boolean {
    return this.shedding;
  }

  /** Snapshot of every module's counters, for the health record. */
  snapshot() {
    return {
      ipc: { connected: this.ipc.isConnected(), ...this.ipc.counters() },
      outbox: this.outbox.stats(),
      reports: this.reporter.statsNow(),
      downstream: { ...this.downstream.stats },
      violations: this.violations.stats(),
      enforcement: this.enforcer.metrics(),
      traffic: this.collector.trafficStats,
      thresholds: this.cache.stats(),
      config: {
        source: this.configs.currentSource(),
        rejected: this.configs.rejected,
        mode: this.config.enforcement.mode,
        validation: this.configs.validationMode(),
        refusedAtStart: this.configs.refusedAtStart,
        lastErrors: this.configs.lastErrors,
      },
    };
  }

  /** The health monitor reads counters through these, never the modules themselves. */
  private healthSources(): HealthSources {
    return {
      thingName: this.o.thingName,
      config: () => this.config,
      outbox: () => this.outbox.stats(),
      violations: () => this.violations.stats(),
      rejectedInputs: () => this.downstream.stats.rejected + this.downstream.stats.spoofed + this.configs.rejected,
      configSource: () => this.configs.currentSource(),
      configValidation: () => this.configs.validationMode(),
      configErrors: () => this.configs.lastErrors,
      traffic: () => this.collector.trafficStats,
    };
  }

  private makeEnforcer(config: ComponentConfig): Enforcer {
    return createEnforcer({
      config: config.enforcement,
      stateDir: this.stateDir,
      logger: this.o.logger,
      onAction: (record) => {
        if (this.actionsBeforePublisher) this.actionsBeforePublisher.push(record);
        else this.violations.publishAction(record);
        this.emit('action', record);
      },
      runner: this.runner,
    });
  }

  private makeCollector(config: ComponentConfig): Collector {
    // Shedding drops the optional, costly part: per-process attribution and per-socket TCP counters.
    const effective = this.shedding ? { ...config, collector: { ...config.collector, perProcess: false, tcpBytes: false } } : config;
    return new Collector({
      config: effective,
      logger: this.o.logger,
      runner: this.runner,
      onProcessTraffic: (poll) => this.onTrafficPoll(poll),
    });
  }

  /**
   * Between samples, every collector.trafficPollMs: a poll of the per-process kernel counters (eBPF mode),
   * queued behind a running sample so datapoint times stay in order. Each poll's family deltas are judged
   * at once (onTrafficPoll): a rogue is named within a poll of crossing its threshold.
   */
  private scheduleTrafficPoll(): void {
    if (this.stopped) return;
    this.trafficTimer = setTimeout(() => {
      this.scheduleTrafficPoll();
      if (this.trafficPollQueued || !this.collector.trafficPolling) return;
      this.trafficPollQueued = true;
      this.busy = this.busy
        .then(async () => {
          this.trafficPollQueued = false;
          if (!this.stopped && !this.sampling) await this.collector.pollProcessTraffic(this.now());
        })
        .catch((err: unknown) => this.log.error({ err }, 'traffic poll failed'));
    }, this.config.collector.trafficPollMs);
  }

  /** One poll's family traffic (the collector calls this, also for the poll that ends each sample). */
  private onTrafficPoll(poll: ProcessTrafficPoll): void {
    if (!this.config.collector.perProcess || this.shedding) return;
    const filter = this.o.processFilter;
    const families = filter ? poll.families.filter((f) => filter(f.head)) : poll.families;
    if (families.length === 0) return;
    this.evaluate(datapointsFromTrafficPoll({ ...poll, families }, this.o.thingName, this.profile.byMetric));
  }

  private shedding = false;

  /** The self-limit's decision: rebuild the collector without (or with again) per-process detail. */
  private shed(on: boolean, why: string): void {
    this.shedding = on;
    if (on)
      this.log.error(
        { why },
        'SELF-LIMIT: the agent exceeds its resource bounds; shedding per-process detail (per-process behaviors pause)',
      );
    else this.log.warn({ why }, 'self-limit: back within bounds; per-process detail resumes');
    this.busy = this.busy
      .then(async () => {
        await this.collector.stop();
        this.collector = this.makeCollector(this.config);
        await this.collector.start();
      })
      .catch((err: unknown) => this.log.error({ err }, 'could not rebuild the collector'));
  }

  private subscribeMessages(config: ComponentConfig): void {
    this.messageSubs = config.downstream.messageTopics.map((pattern) =>
      this.ipc.subscribeToTopic(pattern.replaceAll('{thingName}', '+'), (m) => {
        const bytes = m.kind === 'binary' ? m.value.length : Buffer.byteLength(JSON.stringify(m.value));
        // Local pub/sub does not say who published; messages on a device's topics are counted as sent by it.
        this.collector.messages.record(m.topic, bytes, 'sent', this.now());
      }),
    );
  }

  private scheduleSample(delayMs: number): void {
    if (this.stopped) return;
    this.sampleTimer = setTimeout(() => {
      this.busy = this.busy.then(() => this.sampleOnce()).catch((err: unknown) => this.log.error({ err }, 'sample failed'));
    }, delayMs);
  }

  private async sampleOnce(): Promise<void> {
    if (this.stopped || this.sampling) return;
    this.sampling = true;
    const start = this.now();
    try {
      const sample = await this.collector.sample(start);
      const filter = this.o.processFilter;
      const host = filter ? { ...sample.host, processes: sample.host.processes.filter((p) => filter(p)) } : sample.host;
      const points = datapointsFromSample({ host, devices: sample.devices }, this.o.thingName, {
        perProcess: this.config.collector.perProcess && !this.shedding,
        deviceInfo: this.deviceInfo(),
        polledTraffic: sample.host.processTraffic?.polled === true,
        metrics: this.profile.byMetric,
        deviceMessages: this.config.downstream.messageTopics.length > 0,
      });
      this.evaluate(points);
      if (start - this.lastExpire >= EXPIRE_EVERY_MS) {
        this.lastExpire = start;
        this.dispatch(this.evaluator.expire(start));
      }
      this.reporter.addHost(sample.host);
      // A device sample without traffic (the table is read every few samples with many devices), without
      // destinations and without counted messages adds nothing to a report: skipped, not summed as zeros.
      const countsMessages = this.config.downstream.messageTopics.length > 0;
      for (const d of sample.devices)
        if (countsMessages || d.traffic !== undefined || d.destinations.length > 0) this.reporter.addDevice(d);
      this.reporter.flushDue(start);
      if (start - this.lastCacheFlush >= CACHE_FLUSH_EVERY_MS) {
        this.lastCacheFlush = start;
        this.cache.flush();
      }
      const durationMs = this.now() - start;
      this.health.recordSample(durationMs, sample.host.degraded);
      this.health.checkSelfLimit(this.now());
      this.emit('sample', sample, durationMs);
    } finally {
      this.sampling = false;
      const interval = this.config.sampling.intervalMs;
      // Keep a steady cadence: the next sample starts one interval after this one started.
      this.scheduleSample(Math.max(0, interval - (this.now() - start)));
    }
  }

  private deviceInfo(): DeviceInfo {
    const devices = this.config.downstream.devices;
    if (this.deviceInfoMemo?.devices !== devices) this.deviceInfoMemo = { devices, info: deviceInfoOf(devices) };
    return this.deviceInfoMemo.info;
  }

  /** Evaluate and act at once: enforcement is started before anything is published. */
  private evaluate(points: Datapoint[]): void {
    if (points.length === 0) return;
    this.dispatch(this.evaluator.evaluate(points));
  }

  private dispatch(events: ViolationEvent[]): void {
    if (events.length === 0) return;
    for (const ev of events) {
      this.enforcer.handle(ev).catch((err: unknown) => this.log.error({ err, violationId: ev.violationId }, 'enforcement failed'));
      this.violations.publishViolation(ev);
      this.emit('violation', ev);
    }
    // Each record is in the outbox (on disk) before the alarm state that produced it is: killed in between,
    // the record goes out and the alarm may be raised once more, rather than an alarm the cloud never hears of.
    for (const thing of new Set(events.map((ev) => ev.thingName))) this.cache.persist(thing);
  }

  private async reconfigure(config: ComponentConfig, source: ConfigSource): Promise<void> {
    const old = this.config;
    this.config = config;
    this.profile = compileProfile(behaviorsOf(config));
    this.evaluator.setProfile(this.profile);
    this.reporter.reconfigure(config, this.now());
    this.violations.configure(config);
    await this.downstream.configure(config);
    this.reporter.forgetDevicesExcept(new Set(config.downstream.devices.map((d) => d.thingName)));
    const changed = (k: keyof ComponentConfig) => JSON.stringify(old[k]) !== JSON.stringify(config[k]);
    if (changed('stateDir') && this.o.stateDir === undefined) {
      // The outbox, report ids, threshold cache and enforcement state must stay together: moving only some
      // of them while running would split the state, so all of it moves at the next start.
      this.log.warn({ stateDir: this.stateDir, next: resolve(config.stateDir) }, 'stateDir changed: takes effect at the next start');
    }
    if (changed('enforcement')) {
      await this.enforcer.stop();
      this.enforcer = this.makeEnforcer(config);
      await this.enforcer.start();
    }
    if (changed('collector') || changed('downstream')) {
      await this.collector.stop();
      this.collector = this.makeCollector(config);
      await this.collector.start();
      await Promise.all(this.messageSubs.map((s) => s.close()));
      this.subscribeMessages(config);
    }
    if (changed('sampling')) {
      if (this.sampleTimer) clearTimeout(this.sampleTimer);
      this.scheduleSample(config.sampling.intervalMs);
    }
    this.emit('configured', config, source);
  }
}
