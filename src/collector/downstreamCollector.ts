// Per-device traffic as the gateway sees it, read from the nft table this component owns (layout in
// downstreamTable.ts). start() creates the table, sample(now) reads it, stop() deletes it. Every nft run
// goes through the namespace-aware CommandRunner. A failure (nft missing, permission denied, namespace
// gone, table deleted behind our back) degrades only device traffic: sample() returns devices without
// `traffic` and reports the reason; the table is re-created on the next sample.
import type { DownstreamDevice } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { type CommandRunner, createCommandRunner } from '../system/commandRunner.ts';
import { buildDownstreamScript, type CounterValue, type DevicePlan, parseDownstreamJson, planDevices } from './downstreamTable.ts';
import { counterDelta } from './procNetDev.ts';
import type { TrafficDelta } from './sample.ts';
import { reasonOf, SOURCE_COMMAND_TIMEOUT_MS } from './sourceHealth.ts';

export interface DownstreamCollectorOptions {
  devices: readonly DownstreamDevice[];
  /** nft table name (family inet); owned by us: created on start, deleted on stop */
  table: string;
  logger: Logger;
  /** runs nft; its namespace holds the table (tests: a namespace they created). Default: this namespace */
  runner?: CommandRunner;
}

export interface DeviceTraffic {
  thingName: string;
  /** absent on the first reading after (re)creating the table, and while the source fails */
  traffic?: TrafficDelta;
  destinations: string[];
}

export interface DownstreamReadResult {
  devices: DeviceTraffic[];
  /** `downstream-traffic: reason` when the source failed this sample */
  degraded?: string;
}

export class DownstreamCollector {
  private readonly o: DownstreamCollectorOptions;
  private readonly plans: DevicePlan[];
  private readonly runner: CommandRunner;
  private installed = false;
  private previous: ReturnType<typeof parseDownstreamJson> | undefined;
  private lastReason: string | undefined;

  constructor(options: DownstreamCollectorOptions) {
    this.o = options;
    this.plans = planDevices(options.devices);
    this.runner = options.runner ?? createCommandRunner();
  }

  get deviceCount(): number {
    return this.plans.length;
  }

  /** Create (or atomically replace) the table. Never throws: a failure is reported by the next sample. */
  async start(): Promise<void> {
    if (this.plans.length === 0) return;
    try {
      await this.install();
    } catch (err) {
      this.noteFailure(err);
    }
  }

  private async install(): Promise<void> {
    await this.runner.run('nft', ['-f', '-'], {
      input: buildDownstreamScript(this.o.table, this.plans),
      timeoutMs: SOURCE_COMMAND_TIMEOUT_MS,
    });
    this.installed = true;
    this.previous = undefined;
  }

  async sample(): Promise<DownstreamReadResult> {
    const empty = (): DeviceTraffic[] => this.plans.map((p) => ({ thingName: p.thingName, destinations: [] }));
    if (this.plans.length === 0) return { devices: [] };
    try {
      if (!this.installed) await this.install();
      let json: string;
      try {
        json = await this.runner.run('nft', ['-j', 'list', 'table', 'inet', this.o.table], { timeoutMs: SOURCE_COMMAND_TIMEOUT_MS });
      } catch (err) {
        this.installed = false; // deleted behind our back (or nft broke): re-create next time
        throw err;
      }
      const reading = parseDownstreamJson(json);
      const previous = this.previous;
      this.previous = reading;
      if (this.lastReason !== undefined) {
        this.o.logger.info({ source: 'downstream-traffic' }, 'metric source recovered');
        this.lastReason = undefined;
      }
      return { devices: this.plans.map((p) => this.deviceTraffic(p, reading, previous)) };
    } catch (err) {
      return { devices: empty(), degraded: `downstream-traffic: ${this.noteFailure(err)}` };
    }
  }

  private deviceTraffic(
    p: DevicePlan,
    now: ReturnType<typeof parseDownstreamJson>,
    before: ReturnType<typeof parseDownstreamJson> | undefined,
  ): DeviceTraffic {
    const zero: CounterValue = { packets: 0, bytes: 0 };
    const addrs = new Set([...p.v4, ...p.v6]);
    const destinations = new Set<string>();
    for (const [key, c] of now.destinations) {
      const space = key.indexOf(' ');
      if (!addrs.has(key.slice(0, space))) continue;
      // An element that is new, or whose counter moved, carried traffic during this interval.
      const prev = before?.destinations.get(key);
      if (before === undefined || prev === undefined || c.packets !== prev.packets) destinations.add(key.slice(space + 1));
    }
    const result: DeviceTraffic = { thingName: p.thingName, destinations: [...destinations].sort() };
    if (before) {
      const o = now.counters.get(p.counterOut) ?? zero;
      const i = now.counters.get(p.counterIn) ?? zero;
      const o0 = before.counters.get(p.counterOut) ?? zero;
      const i0 = before.counters.get(p.counterIn) ?? zero;
      result.traffic = {
        bytesOut: counterDelta(o0.bytes, o.bytes),
        packetsOut: counterDelta(o0.packets, o.packets),
        bytesIn: counterDelta(i0.bytes, i.bytes),
        packetsIn: counterDelta(i0.packets, i.packets),
      };
    }
    return result;
  }

  private noteFailure(err: unknown): string {
    const reason = reasonOf(err);
    if (reason !== this.lastReason) {
      this.lastReason = reason;
      this.o.logger.warn({ err, source: 'downstream-traffic' }, 'downstream traffic accounting degraded; other metrics continue');
    }
    return reason;
  }

  /** Delete our table. Safe to call when it was never created. */
  async stop(): Promise<void> {
    if (this.plans.length === 0) return;
    this.installed = false;
    try {
      await this.runner.run('nft', ['delete', 'table', 'inet', this.o.table], { timeoutMs: SOURCE_COMMAND_TIMEOUT_MS });
    } catch (err) {
      if (!/No such file or directory/.test((err as { stderr?: string }).stderr ?? '')) {
        this.o.logger.warn({ err, source: 'downstream-traffic' }, 'could not delete the accounting table');
      }
    }
  }
}
