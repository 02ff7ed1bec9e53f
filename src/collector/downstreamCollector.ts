// Per-device traffic as the gateway sees it, read from the nft table this component owns (layout in
// downstreamTable.ts). start() creates the table, sample(now) reads it, stop() deletes it. The table is
// created and deleted through the namespace-aware CommandRunner; readings go through one long-lived
// `nft -j -i` process (nftSession.ts) in the runner's namespace, or one `nft -j list table` each where nft
// has no interactive mode or `readSession` is false. A failure (nft missing, permission denied, namespace
// gone, table deleted behind our back) degrades only device traffic: sample() returns devices without
// `traffic` and reports the reason; the table is re-created on the next sample.
//
// A reading costs nft time in proportion to the devices (~16 µs each), so with many devices the table
// is read less often than every sample: at most once per READ_MS_PER_DEVICE × devices (1,000 devices:
// every 8 s), which keeps it near 0.2 % of a core. A reading's deltas cover the whole time since the
// previous reading (`read.sinceMs` of the result); samples in between carry no traffic and no
// destinations for the device, as if not measured.
import type { DownstreamDevice } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { type CommandRunner, createCommandRunner } from '../system/commandRunner.ts';
import { buildDownstreamScript, type CounterValue, type DevicePlan, parseDownstreamJson, planDevices } from './downstreamTable.ts';
import { NftSession } from './nftSession.ts';
import { counterDelta } from './procNetDev.ts';
import type { TrafficDelta } from './sample.ts';
import { reasonOf, SOURCE_COMMAND_TIMEOUT_MS } from './sourceHealth.ts';

/** Minimum time between two readings of the table, per configured device (see the top of this file). */
export const READ_MS_PER_DEVICE = 8;

export interface DownstreamCollectorOptions {
  devices: readonly DownstreamDevice[];
  /** nft table name (family inet); owned by us: created on start, deleted on stop */
  table: string;
  logger: Logger;
  /** runs nft; its namespace holds the table (tests: a namespace they created). Default: this namespace */
  runner?: CommandRunner;
  /**
   * false: every reading is one `nft -j list table` through the runner (what an nft without interactive
   * mode gets anyway). Default: one long-lived `nft -j -i` in the runner's namespace (nftSession.ts).
   */
  readSession?: boolean;
}

export interface DeviceTraffic {
  thingName: string;
  /** absent on the first reading after (re)creating the table, between readings, and while the source fails */
  traffic?: TrafficDelta;
  destinations: string[];
}

export interface DownstreamReadResult {
  devices: DeviceTraffic[];
  /** `downstream-traffic: reason` when the source failed this sample */
  degraded?: string;
  /** the table was read for this sample: the deltas cover the time since the previous reading */
  read?: { sinceMs: number };
}

export class DownstreamCollector {
  private readonly o: DownstreamCollectorOptions;
  private readonly plans: DevicePlan[];
  private readonly runner: CommandRunner;
  private readonly session: NftSession | undefined;
  private readonly readIntervalMs: number;
  private installed = false;
  private previous: ReturnType<typeof parseDownstreamJson> | undefined;
  private previousAt = 0;
  private lastReason: string | undefined;

  constructor(options: DownstreamCollectorOptions) {
    this.o = options;
    this.plans = planDevices(options.devices);
    this.runner = options.runner ?? createCommandRunner();
    this.session =
      options.readSession !== false && this.plans.length > 0
        ? new NftSession({ netns: this.runner.netns, timeoutMs: SOURCE_COMMAND_TIMEOUT_MS })
        : undefined;
    this.readIntervalMs = READ_MS_PER_DEVICE * this.plans.length;
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

  /** The table as JSON: through the long-lived session, or one nft process where the session cannot run. */
  private async readTable(): Promise<string> {
    if (this.session && !this.session.unsupported) {
      try {
        return await this.session.request(`list table inet ${this.o.table}`);
      } catch (err) {
        if (!this.session.unsupported) throw err;
        this.o.logger.info({ source: 'downstream-traffic' }, 'nft has no interactive mode here: one nft process per reading');
      }
    }
    return this.runner.run('nft', ['-j', 'list', 'table', 'inet', this.o.table], { timeoutMs: SOURCE_COMMAND_TIMEOUT_MS });
  }

  /** `now`: the sample's time; the table is read when the read interval has passed since the last reading. */
  async sample(now: number = Date.now()): Promise<DownstreamReadResult> {
    const empty = (): DeviceTraffic[] => this.plans.map((p) => ({ thingName: p.thingName, destinations: [] }));
    if (this.plans.length === 0) return { devices: [] };
    if (this.installed && this.previous !== undefined && now - this.previousAt < this.readIntervalMs && now >= this.previousAt) {
      return { devices: empty() };
    }
    try {
      if (!this.installed) await this.install();
      let json: string;
      try {
        json = await this.readTable();
      } catch (err) {
        this.installed = false; // deleted behind our back (or nft broke): re-create next time
        throw err;
      }
      const reading = parseDownstreamJson(json);
      const previous = this.previous;
      const sinceMs = now - this.previousAt;
      this.previous = reading;
      this.previousAt = now;
      if (this.lastReason !== undefined) {
        this.o.logger.info({ source: 'downstream-traffic' }, 'metric source recovered');
        this.lastReason = undefined;
      }
      const destinations = destinationsByDevice(reading, previous);
      return {
        devices: this.plans.map((p) => this.deviceTraffic(p, reading, previous, destinations)),
        ...(previous !== undefined ? { read: { sinceMs } } : {}),
      };
    } catch (err) {
      return { devices: empty(), degraded: `downstream-traffic: ${this.noteFailure(err)}` };
    }
  }

  private deviceTraffic(
    p: DevicePlan,
    now: ReturnType<typeof parseDownstreamJson>,
    before: ReturnType<typeof parseDownstreamJson> | undefined,
    byDevice: ReadonlyMap<string, string[]>,
  ): DeviceTraffic {
    const zero: CounterValue = { packets: 0, bytes: 0 };
    const destinations = new Set<string>();
    for (const a of p.v4) for (const d of byDevice.get(a) ?? []) destinations.add(d);
    for (const a of p.v6) for (const d of byDevice.get(a) ?? []) destinations.add(d);
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
    await this.session?.close();
    try {
      await this.runner.run('nft', ['delete', 'table', 'inet', this.o.table], { timeoutMs: SOURCE_COMMAND_TIMEOUT_MS });
    } catch (err) {
      if (!/No such file or directory/.test((err as { stderr?: string }).stderr ?? '')) {
        this.o.logger.warn({ err, source: 'downstream-traffic' }, 'could not delete the accounting table');
      }
    }
  }
}

/**
 * Device address → destinations it carried traffic to since the previous reading: an element of the dynamic
 * set that is new, or whose counter moved. One pass over the set, whatever the number of devices.
 */
function destinationsByDevice(
  now: ReturnType<typeof parseDownstreamJson>,
  before: ReturnType<typeof parseDownstreamJson> | undefined,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [key, c] of now.destinations) {
    const prev = before?.destinations.get(key);
    if (before !== undefined && prev !== undefined && c.packets === prev.packets) continue;
    const space = key.indexOf(' ');
    const device = key.slice(0, space);
    const list = out.get(device);
    if (list) list.push(key.slice(space + 1));
    else out.set(device, [key.slice(space + 1)]);
  }
  return out;
}
