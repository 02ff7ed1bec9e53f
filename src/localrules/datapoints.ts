// Turning collector samples (src/collector/sample.ts) into datapoints tagged with their subject, so a violation
// names its offender. Metric names are the service's device-side ones; the message metrics are the local
// counterparts of the cloud-side ones, counted on local pub/sub
// (docs/localrules.md#metrics-and-where-they-come-from).
import type { CustomMetricValue, DeviceSample, HostSample, ProcessRef, ProcessSample, TrafficDelta } from '../collector/sample.ts';
import type { MetricValue, Offender } from './contracts.ts';
import type { Datapoint } from './evaluator.ts';

function sortedUnique<T>(xs: Iterable<T>): T[] {
  return [...new Set(xs)].sort();
}

/**
 * The metrics a caller evaluates (the compiled profile's): datapoints of other metrics are not built at all.
 * The agent builds datapoints for every device and process on every sample, so what no behavior reads would
 * only be garbage to collect. Absent: every metric (`evaluate`, tests).
 */
export interface MetricFilter {
  has(metric: string): boolean;
}

const ALL: MetricFilter = { has: () => true };

function pushTraffic(out: Datapoint[], base: Omit<Datapoint, 'metric' | 'value'>, d: TrafficDelta, want: MetricFilter = ALL): void {
  if (want.has('aws:all-bytes-in')) out.push({ ...base, metric: 'aws:all-bytes-in', value: { count: d.bytesIn } });
  if (want.has('aws:all-bytes-out')) out.push({ ...base, metric: 'aws:all-bytes-out', value: { count: d.bytesOut } });
  if (want.has('aws:all-packets-in')) out.push({ ...base, metric: 'aws:all-packets-in', value: { count: d.packetsIn } });
  if (want.has('aws:all-packets-out')) out.push({ ...base, metric: 'aws:all-packets-out', value: { count: d.packetsOut } });
}

const ZERO: TrafficDelta = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 };

/**
 * Traffic datapoints of one poll of the kernel counters (eBPF mode, between samples): one set per family
 * head that moved anything, covering the time since the previous poll. The agent evaluates them at once,
 * so a byte behavior fires within a poll of its crossing instead of at the next sample.
 */
export function datapointsFromTrafficPoll(
  poll: { t: number; intervalMs: number; families: ReadonlyArray<{ head: ProcessRef; delta: TrafficDelta }> },
  thingName: string,
  want: MetricFilter = ALL,
): Datapoint[] {
  const out: Datapoint[] = [];
  for (const f of poll.families)
    pushTraffic(out, { t: poll.t, thing: thingName, subject: processSubject(f.head), intervalMs: poll.intervalMs }, f.delta, want);
  return out;
}

/** Custom metric value as reported (number_list …) → the behavior's container (numbers …), docs/reports.md#custom-metrics. */
export function customToMetricValue(v: CustomMetricValue): MetricValue {
  if ('number' in v) return { number: v.number };
  if ('number_list' in v) return { numbers: v.number_list };
  if ('string_list' in v) return { strings: v.string_list };
  return { cidrs: v.ip_list };
}

/**
 * The gateway itself. Count metrics use distinct ports (a port bound on two interfaces counts once),
 * destination addresses are de-duplicated. Network deltas are absent on the first sample (no delta yet).
 */
export function datapointsFromHostSample(
  sample: HostSample,
  thingName: string,
  options: { perProcess?: boolean; polledTraffic?: boolean; metrics?: MetricFilter } = {},
): Datapoint[] {
  const want = options.metrics ?? ALL;
  const subject: Offender = { kind: 'host' };
  const base = { t: sample.t, thing: thingName, subject, intervalMs: sample.intervalMs };
  const out: Datapoint[] = [];
  if (sample.network) pushTraffic(out, base, sample.network, want);
  pushSockets(out, base, want, sample.listening, sample.established.length, () => sample.established.map((c) => c.remoteAddress));
  for (const [name, v] of Object.entries(sample.custom))
    if (want.has(name)) out.push({ ...base, metric: name, value: customToMetricValue(v) });
  if (options.perProcess)
    for (const p of sample.processes)
      out.push(...datapointsFromProcessSample(p, sample.t, sample.intervalMs, thingName, options.polledTraffic === true, want));
  return out;
}

/** The port and connection metrics of the host or a process. */
function pushSockets(
  out: Datapoint[],
  base: Omit<Datapoint, 'metric' | 'value'>,
  want: MetricFilter,
  listening: ReadonlyArray<{ protocol: string; port: number }> | { tcp: readonly number[]; udp: readonly number[] },
  established: number,
  remotes: () => string[],
): void {
  const ports = (protocol: 'tcp' | 'udp') =>
    sortedUnique('tcp' in listening ? listening[protocol] : listening.filter((l) => l.protocol === protocol).map((l) => l.port));
  if (want.has('aws:listening-tcp-ports') || want.has('aws:num-listening-tcp-ports')) {
    const tcp = ports('tcp');
    if (want.has('aws:listening-tcp-ports')) out.push({ ...base, metric: 'aws:listening-tcp-ports', value: { ports: tcp } });
    if (want.has('aws:num-listening-tcp-ports')) out.push({ ...base, metric: 'aws:num-listening-tcp-ports', value: { count: tcp.length } });
  }
  if (want.has('aws:listening-udp-ports') || want.has('aws:num-listening-udp-ports')) {
    const udp = ports('udp');
    if (want.has('aws:listening-udp-ports')) out.push({ ...base, metric: 'aws:listening-udp-ports', value: { ports: udp } });
    if (want.has('aws:num-listening-udp-ports')) out.push({ ...base, metric: 'aws:num-listening-udp-ports', value: { count: udp.length } });
  }
  if (want.has('aws:num-established-tcp-connections'))
    out.push({ ...base, metric: 'aws:num-established-tcp-connections', value: { count: established } });
  if (want.has('aws:destination-ip-addresses'))
    out.push({ ...base, metric: 'aws:destination-ip-addresses', value: { cidrs: sortedUnique(remotes()) } });
}

function processSubject(p: ProcessRef): Offender {
  const subject: Offender = { kind: 'process', pid: p.pid, comm: p.comm };
  if (p.exe !== undefined) subject.exe = p.exe;
  if (p.cgroup !== undefined) subject.cgroup = p.cgroup;
  if (p.startTime !== undefined) subject.startTime = p.startTime;
  return subject;
}

/**
 * One process of the gateway: the same metrics, attributed to it (offender kind `process`). Traffic
 * metrics are its family's (docs/traffic.md#families): a process counted in another's family has none.
 * `polledTraffic`: the interval's traffic was already judged poll by poll (datapointsFromTrafficPoll), so
 * these traffic datapoints carry 0 — they still move the windows on, so an alarm can clear.
 */
export function datapointsFromProcessSample(
  p: ProcessSample,
  t: number,
  intervalMs: number,
  thingName: string,
  polledTraffic = false,
  want: MetricFilter = ALL,
): Datapoint[] {
  const base = { t, thing: thingName, subject: processSubject(p), intervalMs };
  const out: Datapoint[] = [];
  if (intervalMs > 0 && p.family === undefined) pushTraffic(out, base, polledTraffic ? ZERO : p.traffic, want);
  pushSockets(out, base, want, { tcp: p.listeningTcpPorts, udp: p.listeningUdpPorts }, p.establishedConnections, () => p.remoteAddresses);
  pushMessages(out, base, p.messagesSent, p.messagesReceived, p.messageBytes, want);
  return out;
}

/**
 * aws:message-byte-size is per message in the cloud (cloud-side metrics guide); a sample only has totals, so the datapoint
 * is the mean size of the interval's messages, emitted only when there were any (docs/localrules.md).
 */
function pushMessages(
  out: Datapoint[],
  base: Omit<Datapoint, 'metric' | 'value'>,
  sent: number | undefined,
  received: number | undefined,
  bytes: number | undefined,
  want: MetricFilter = ALL,
): void {
  if (sent !== undefined && want.has('aws:num-messages-sent'))
    out.push({ ...base, metric: 'aws:num-messages-sent', value: { count: sent } });
  if (received !== undefined && want.has('aws:num-messages-received'))
    out.push({ ...base, metric: 'aws:num-messages-received', value: { count: received } });
  const n = (sent ?? 0) + (received ?? 0);
  if (bytes !== undefined && n > 0 && want.has('aws:message-byte-size'))
    out.push({ ...base, metric: 'aws:message-byte-size', value: { count: Math.round(bytes / n) } });
}

/** One downstream device, as the gateway sees it (offender kind `device`, with its configured addresses). */
export function datapointsFromDeviceSample(
  sample: DeviceSample,
  device: { addresses?: string[]; interface?: string } = {},
  want: MetricFilter = ALL,
): Datapoint[] {
  const subject: Offender = { kind: 'device', thingName: sample.thingName, addresses: device.addresses ?? [] };
  if (device.interface !== undefined) subject.interface = device.interface;
  const base = { t: sample.t, thing: sample.thingName, subject, intervalMs: sample.intervalMs };
  const out: Datapoint[] = [];
  if (sample.traffic) pushTraffic(out, base, sample.traffic, want);
  if (want.has('aws:destination-ip-addresses'))
    out.push({ ...base, metric: 'aws:destination-ip-addresses', value: { cidrs: sortedUnique(sample.destinations) } });
  pushMessages(out, base, sample.messagesSent, sample.messagesReceived, sample.messageBytes, want);
  return out;
}

/** Where the agent gets a device's addresses and interface from: its configuration (downstream.devices). */
export type DeviceInfo = (thingName: string) => { addresses?: string[]; interface?: string };

/** The DeviceInfo of configured downstream devices (a device not listed has no addresses to act on). */
export function deviceInfoOf(devices: readonly { thingName: string; addresses: string[]; interface?: string }[]): DeviceInfo {
  // by name: called for every device of every sample (a search through the list was O(devices²) per sample)
  const byName = new Map(devices.map((d) => [d.thingName, d]));
  return (thingName) => {
    const d = byName.get(thingName);
    return d ? { addresses: d.addresses, ...(d.interface !== undefined ? { interface: d.interface } : {}) } : {};
  };
}

/**
 * Every datapoint of one collector sample, as the agent evaluates it: the gateway (and, with `perProcess`,
 * each of its processes) under the gateway's thing name, each downstream device under its own.
 * `defender-edge evaluate` replays recorded samples through this same function.
 */
export function datapointsFromSample(
  sample: { host: HostSample; devices: readonly DeviceSample[] },
  thingName: string,
  options: {
    perProcess: boolean;
    deviceInfo: DeviceInfo;
    polledTraffic?: boolean;
    metrics?: MetricFilter;
    /**
     * false: devices' local pub/sub messages are not counted (no `downstream.messageTopics`), so their message
     * counts are not measurements and yield no datapoints (default true)
     */
    deviceMessages?: boolean;
  },
): Datapoint[] {
  const want = options.metrics ?? ALL;
  const points = datapointsFromHostSample(sample.host, thingName, {
    perProcess: options.perProcess,
    polledTraffic: options.polledTraffic === true,
    metrics: want,
  });
  const deviceWant = options.deviceMessages === false ? { has: (m: string) => !MESSAGE_METRICS.has(m) && want.has(m) } : want;
  // A device sample without traffic (between two readings of the accounting table) yields datapoints only
  // for destinations and messages: with neither wanted it is skipped before anything is built.
  const beyondTraffic = deviceWant.has('aws:destination-ip-addresses') || [...MESSAGE_METRICS].some((m) => deviceWant.has(m));
  for (const d of sample.devices) {
    if (d.traffic === undefined && !beyondTraffic) continue;
    points.push(...datapointsFromDeviceSample(d, options.deviceInfo(d.thingName), deviceWant));
  }
  return points;
}

const MESSAGE_METRICS: ReadonlySet<string> = new Set(['aws:num-messages-sent', 'aws:num-messages-received', 'aws:message-byte-size']);
