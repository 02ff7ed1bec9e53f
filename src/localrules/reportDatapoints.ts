// Datapoints from a downstream device's own Device Defender report, so that local evaluation judges the device
// by what it reports. The mapping report field → metric follows from the metric descriptions
// (docs/localrules.md#a-downstream-devices-own-report); count metrics take `total` when present (a sampled list
// keeps the true total), else the list length.
import type { DefenderReport, PortList } from '../report/model.ts';
import { parseRemoteAddress } from '../report/remoteAddress.ts';
import type { Offender } from './contracts.ts';
import { customToMetricValue } from './datapoints.ts';
import type { Datapoint } from './evaluator.ts';

function ports(list: PortList | undefined): { ports: number[]; count: number } | undefined {
  if (!list) return undefined;
  const seen = [...new Set((list.ports ?? []).map((p) => p.port))].sort((a, b) => a - b);
  return { ports: seen, count: list.total ?? seen.length };
}

/**
 * `t` is when the report arrived (ms); `intervalMs` the span its network_stats delta covers, when known
 * (the device's reporting interval) — the sliding window treats it as one datapoint at `t`.
 */
export function datapointsFromReport(
  report: DefenderReport,
  thing: string,
  subject: Offender,
  t: number,
  intervalMs?: number,
): Datapoint[] {
  const base = { t, thing, subject, ...(intervalMs !== undefined ? { intervalMs } : {}) };
  const out: Datapoint[] = [];
  const m = report.metrics;
  const ns = m?.networkStats;
  if (ns) {
    if (ns.bytesIn !== undefined) out.push({ ...base, metric: 'aws:all-bytes-in', value: { count: ns.bytesIn } });
    if (ns.bytesOut !== undefined) out.push({ ...base, metric: 'aws:all-bytes-out', value: { count: ns.bytesOut } });
    if (ns.packetsIn !== undefined) out.push({ ...base, metric: 'aws:all-packets-in', value: { count: ns.packetsIn } });
    if (ns.packetsOut !== undefined) out.push({ ...base, metric: 'aws:all-packets-out', value: { count: ns.packetsOut } });
  }
  const tcp = ports(m?.listeningTcpPorts);
  if (tcp)
    out.push(
      { ...base, metric: 'aws:listening-tcp-ports', value: { ports: tcp.ports } },
      { ...base, metric: 'aws:num-listening-tcp-ports', value: { count: tcp.count } },
    );
  const udp = ports(m?.listeningUdpPorts);
  if (udp)
    out.push(
      { ...base, metric: 'aws:listening-udp-ports', value: { ports: udp.ports } },
      { ...base, metric: 'aws:num-listening-udp-ports', value: { count: udp.count } },
    );
  const ec = m?.tcpConnections?.establishedConnections;
  if (ec) {
    const conns = ec.connections ?? [];
    out.push({ ...base, metric: 'aws:num-established-tcp-connections', value: { count: ec.total ?? conns.length } });
    const ips = new Set<string>();
    for (const c of conns) {
      const parsed = parseRemoteAddress(c.remoteAddr);
      if (parsed) ips.add(parsed.ip);
    }
    out.push({ ...base, metric: 'aws:destination-ip-addresses', value: { cidrs: [...ips].sort() } });
  }
  for (const c of report.customMetrics ?? []) out.push({ ...base, metric: c.name, value: customToMetricValue(c.value) });
  return out;
}
