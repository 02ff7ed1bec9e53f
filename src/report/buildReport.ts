// Collector samples → report model (docs/reports.md#the-document). Pure: the report_id and every input come in
// as arguments. Feed it an interval aggregate (intervalAggregator.ts) so the report covers its interval.
// Entries that cannot be reported (a port 0, an address that is not an IP, a bad custom metric) are left
// out and listed in `problems` as `path: message` for the caller to count and log; they never fail the
// whole report.
//
// Choices:
//  * Empty listening-port and connection lists ARE reported (`{"ports": [], "total": 0}`): an empty list is
//    a datapoint meaning "conforming" and lets a cloud alarm clear (Device Defender troubleshooting guide,
//    https://docs.aws.amazon.com/iot/latest/developerguide/device-defender-troubleshoot.html); the Python
//    agent SDK leaves them out.
//  * `network_stats` only when the sample carries a delta: never raw counters, nothing on the first sample
//    (the official Greengrass component's first report carries cumulative counters; docs/reports.md).
//  * Duplicate entries (the same port bound on 0.0.0.0 and ::, several sockets with SO_REUSEPORT) are
//    reported once; `total` counts distinct entries.
//  * Wildcard binds have no interface (the Python agent SDK writes "0.0.0.0"/"::" as the interface name; we leave it out).
import type { DeviceSample, HostSample, ListeningPort, TcpConnection, TrafficDelta } from '../collector/sample.ts';
import { customMetricNameProblem, readCustomMetricValue } from './customMetrics.ts';
import { sampleList } from './listSampling.ts';
import {
  type ConnectionEntry,
  type CustomMetric,
  type DefenderReport,
  type NetworkStats,
  type PortEntry,
  type PortList,
  REPORT_VERSION,
} from './model.ts';
import { formatRemoteAddress } from './remoteAddress.ts';
import { integerProblem, ValidationIssues } from './validationIssues.ts';

/** The Python agent SDK's `max_list_size` (AWSIoTDeviceDefenderAgentSDK/metrics.py; docs/reports.md#limits-and-cadence). */
export const DEFAULT_MAX_LIST_SIZE = 50;

export interface BuildOptions {
  /** from ReportIdStore.next(): positive, increasing per thing */
  reportId: number;
  /** ports and connections beyond this are sampled; `total` keeps the true count */
  maxListSize?: number;
}

export interface DeviceBuildOptions extends BuildOptions {
  /**
   * Custom metric names under which a downstream device's gateway-side observations are reported. Each is
   * left out unless named: a custom metric must exist in the account before Detect uses it (docs/reports.md#custom-metrics).
   */
  customMetricNames?: {
    /** ip_list of the destination addresses seen through the gateway */
    destinations?: string;
    messagesSent?: string;
    messagesReceived?: string;
    messageBytes?: string;
  };
}

export interface BuiltReport {
  /** undefined when there is nothing to report (a report must have metrics or custom metrics, docs/reports.md) */
  report: DefenderReport | undefined;
  problems: string[];
}

function header(reportId: number): DefenderReport['header'] {
  const problem = integerProblem(reportId, 1);
  if (problem !== null) throw new RangeError(`reportId: ${problem}`); // a caller bug, not bad input
  return { reportId, version: REPORT_VERSION };
}

function networkStats(delta: TrafficDelta | undefined, path: string, problems: string[]): NetworkStats | undefined {
  if (delta === undefined) return undefined;
  const values = [delta.bytesIn, delta.bytesOut, delta.packetsIn, delta.packetsOut];
  // A negative or fractional "delta" is a counter reset or a collector bug: report nothing rather than a wrong number.
  if (values.some((v) => integerProblem(v, 0) !== null)) {
    problems.push(`${path}: is not a set of non-negative integer deltas; network_stats left out`);
    return undefined;
  }
  return { bytesIn: delta.bytesIn, bytesOut: delta.bytesOut, packetsIn: delta.packetsIn, packetsOut: delta.packetsOut };
}

function portList(ports: readonly ListeningPort[], protocol: 'tcp' | 'udp', max: number, seed: number, problems: string[]): PortList {
  const seen = new Set<string>();
  const entries: PortEntry[] = [];
  ports.forEach((p, i) => {
    if (p.protocol !== protocol) return;
    if (integerProblem(p.port, 1, 65535) !== null) {
      problems.push(`listening[${i}].port: must be an integer 1–65535`);
      return;
    }
    const key = `${p.port}\u0000${p.interface ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    entries.push(p.interface === undefined ? { port: p.port } : { port: p.port, interface: p.interface });
  });
  return { ports: [...sampleList(entries, max, seed)], total: entries.length };
}

function connections(
  list: readonly TcpConnection[],
  max: number,
  seed: number,
  problems: string[],
): { connections: ConnectionEntry[]; total: number } {
  const seen = new Set<string>();
  const entries: ConnectionEntry[] = [];
  list.forEach((c, i) => {
    const remoteAddr = formatRemoteAddress(c.remoteAddress, c.remotePort);
    if (remoteAddr === null) {
      problems.push(
        `established[${i}]: remote ${JSON.stringify(c.remoteAddress)} port ${c.remotePort} is not an IP address and port 1–65535`,
      );
      return;
    }
    const entry: ConnectionEntry = { remoteAddr };
    if (c.localInterface !== undefined) entry.localInterface = c.localInterface;
    if (integerProblem(c.localPort, 0, 65535) === null) entry.localPort = c.localPort;
    const key = `${remoteAddr}\u0000${entry.localInterface ?? ''}\u0000${entry.localPort ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    entries.push(entry);
  });
  return { connections: [...sampleList(entries, max, seed)], total: entries.length };
}

/** Custom metrics checked with the validator's own rules, so a built report always validates. */
function customMetrics(entries: Iterable<readonly [string, unknown]>, problems: string[]): CustomMetric[] {
  const out: CustomMetric[] = [];
  for (const [name, value] of entries) {
    const path = `custom.${name}`;
    const nameProblem = customMetricNameProblem(name);
    if (nameProblem !== null) {
      problems.push(`${path}: ${nameProblem}`);
      continue;
    }
    const issues = new ValidationIssues();
    const checked = readCustomMetricValue([value], path, issues);
    if (checked === undefined) problems.push(...issues.errors);
    else out.push({ name, value: checked });
  }
  return out;
}

/** The gateway's own report from a host sample (normally an interval aggregate). */
export function buildHostReport(sample: HostSample, options: BuildOptions): BuiltReport {
  const max = options.maxListSize ?? DEFAULT_MAX_LIST_SIZE;
  const seed = options.reportId;
  const problems: string[] = [];
  const report: DefenderReport = { header: header(options.reportId), metrics: {} };
  const stats = networkStats(sample.network, 'network', problems);
  if (stats !== undefined) report.metrics!.networkStats = stats;
  report.metrics!.tcpConnections = { establishedConnections: connections(sample.established, max, seed, problems) };
  report.metrics!.listeningTcpPorts = portList(sample.listening, 'tcp', max, seed, problems);
  report.metrics!.listeningUdpPorts = portList(sample.listening, 'udp', max, seed + 1, problems);
  const custom = customMetrics(Object.entries(sample.custom), problems);
  if (custom.length > 0) report.customMetrics = custom;
  return { report, problems };
}

/**
 * A downstream device's report from what the gateway observed of it. The device's own listening ports and
 * connections are not visible from the gateway; devices that run an agent publish their own reports.
 */
export function buildDeviceReport(sample: DeviceSample, options: DeviceBuildOptions): BuiltReport {
  const problems: string[] = [];
  const report: DefenderReport = { header: header(options.reportId) };
  const stats = networkStats(sample.traffic, 'traffic', problems);
  if (stats !== undefined) report.metrics = { networkStats: stats };
  const names = options.customMetricNames ?? {};
  const custom: [string, unknown][] = [];
  if (names.destinations !== undefined)
    custom.push([
      names.destinations,
      { ip_list: [...sampleList(sample.destinations, options.maxListSize ?? DEFAULT_MAX_LIST_SIZE, options.reportId)] },
    ]);
  if (names.messagesSent !== undefined) custom.push([names.messagesSent, { number: sample.messagesSent }]);
  if (names.messagesReceived !== undefined) custom.push([names.messagesReceived, { number: sample.messagesReceived }]);
  if (names.messageBytes !== undefined) custom.push([names.messageBytes, { number: sample.messageBytes }]);
  const checked = customMetrics(custom, problems);
  if (checked.length > 0) report.customMetrics = checked;
  return { report: report.metrics === undefined && report.customMetrics === undefined ? undefined : report, problems };
}
