// The collector the agent owns: host metrics, downstream-device traffic and messages, one sample per
// sampling interval. Constructors only store; start() creates the nft accounting table; sample(now) is
// called by the agent every `sampling.intervalMs`; stop() removes the table and stops the dedge-sockdiag
// helper (started by the first sample). The agent feeds local
// pub/sub messages into `messages.record(topic, bytes, direction, t)`.
import type { ComponentConfig } from '../config/schema.ts';
import { compileThingNamePattern } from '../config/thingNamePattern.ts';
import type { Logger } from '../log.ts';
import type { CommandRunner } from '../system/commandRunner.ts';
import { DownstreamCollector } from './downstreamCollector.ts';
import { HostCollector } from './hostCollector.ts';
import { MessageCounter } from './messageCounter.ts';
import type { ProcessTrafficPoll, TrafficCounters } from './processTrafficCollector.ts';
import type { DeviceSample, HostSample } from './sample.ts';

export interface CollectorOptions {
  config: ComponentConfig;
  logger: Logger;
  /** runs ss/ip/nft; its namespace is the one sampled (tests: a namespace they created). Default: this namespace */
  runner?: CommandRunner;
  /** /proc/PID/net of a process inside the runner's namespace, so /proc/net files describe that namespace too */
  procNetDir?: string;
  /** each poll's per-family traffic as it happens (eBPF mode): what the agent judges byte behaviors on */
  onProcessTraffic?: (poll: ProcessTrafficPoll) => void;
}

export interface CollectorSample {
  host: HostSample;
  devices: DeviceSample[];
}

export class Collector {
  readonly messages: MessageCounter;
  private readonly host: HostCollector;
  private readonly downstream: DownstreamCollector;
  private readonly configured: Set<string>;
  private previousT: number | undefined;

  constructor(options: CollectorOptions) {
    const { config, logger } = options;
    const log = logger.child({ module: 'collector' });
    const c = config.collector;
    this.host = new HostCollector({
      includeLoopback: c.includeLoopback,
      perProcess: c.perProcess,
      customMetrics: c.customMetrics,
      tcpBytes: c.tcpBytes,
      perProcessIncludeLoopback: c.perProcessIncludeLoopback,
      mqttPorts: c.mqttPorts,
      diskPath: c.diskPath,
      ebpf: c.ebpf,
      protectedProcesses: config.enforcement.protectedProcesses,
      ...(options.onProcessTraffic ? { onProcessTraffic: options.onProcessTraffic } : {}),
      logger: log,
      procNetDir: options.procNetDir,
      runner: options.runner,
    });
    this.downstream = new DownstreamCollector({
      devices: config.downstream.devices,
      table: c.downstreamNftTable,
      logger: log,
      runner: options.runner,
    });
    this.configured = new Set(config.downstream.devices.map((d) => d.thingName));
    const pattern = config.downstream.thingNamePattern != null ? compileThingNamePattern(config.downstream.thingNamePattern) : undefined;
    this.messages = new MessageCounter(config.downstream.messageTopics, {
      isKnownThing: (name) => this.configured.has(name) || (pattern?.test(name) ?? false),
    });
  }

  async start(): Promise<void> {
    await this.downstream.start();
  }

  /** One poll of the per-process kernel counters between samples (eBPF mode; a no-op otherwise). */
  pollProcessTraffic(now: number): Promise<void> {
    return this.host.pollProcessTraffic(now);
  }

  /** Whether per-process traffic comes from the kernel counters now (worth polling between samples). */
  get trafficPolling(): boolean {
    return this.host.trafficPolling;
  }

  /** Per-process traffic: mode, why not eBPF, unattributed bytes so far (the health record). */
  get trafficStats(): TrafficCounters {
    return this.host.trafficStats;
  }

  async sample(now: number): Promise<CollectorSample> {
    const intervalMs = this.previousT === undefined ? 0 : Math.max(0, now - this.previousT);
    this.previousT = now;
    const [host, traffic] = await Promise.all([this.host.sample(now), this.downstream.sample(now)]);
    if (traffic.degraded) host.degraded.push(traffic.degraded);
    const { totals } = this.messages.drain();
    const devices: DeviceSample[] = traffic.devices.map((d) => {
      const m = totals.get(d.thingName);
      totals.delete(d.thingName);
      const s: DeviceSample = {
        thingName: d.thingName,
        t: now,
        intervalMs,
        destinations: d.destinations,
        messagesSent: m?.sent ?? 0,
        messagesReceived: m?.received ?? 0,
        messageBytes: m?.bytes ?? 0,
      };
      if (d.traffic) s.traffic = d.traffic;
      if (m) s.maxMessageBytes = m.maxMessageBytes;
      return s;
    });
    // Things known only by thingNamePattern appear when they exchanged messages.
    for (const [thingName, m] of totals) {
      devices.push({
        thingName,
        t: now,
        intervalMs,
        destinations: [],
        messagesSent: m.sent,
        messagesReceived: m.received,
        messageBytes: m.bytes,
        maxMessageBytes: m.maxMessageBytes,
      });
    }
    return { host, devices };
  }

  async stop(): Promise<void> {
    await Promise.all([this.downstream.stop(), this.host.stop()]);
  }
}
