// Writes the report model as the document that goes on the wire, with long or short names
// (docs/reports.md#the-document). Field order follows the Python agent SDK
// (AWSIoTDeviceDefenderAgentSDK/metrics.py `_v1_metrics`): header; metrics = network_stats, tcp_connections,
// listening_tcp_ports, listening_udp_ports; custom_metrics. Optional fields that are absent in the model are
// left out, never written as null.
import { type FieldKey, wireName } from './fieldNames.ts';
import type { ConnectionEntry, DefenderReport, NameStyle, PortList, ReportMetrics } from './model.ts';

export type WireDocument = Record<string, unknown>;

/** Set an own, enumerable data property even for a key such as `__proto__` (plain assignment would set the prototype). */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export function toWireDocument(report: DefenderReport, style: NameStyle): WireDocument {
  const n = (field: FieldKey): string => wireName(field, style);
  const doc: WireDocument = {};
  doc[n('header')] = { [n('reportId')]: report.header.reportId, [n('version')]: report.header.version };
  if (report.metrics !== undefined) doc[n('metrics')] = metricsDocument(report.metrics, n);
  if (report.customMetrics !== undefined) {
    const custom: Record<string, unknown> = {};
    // Each value is an array holding one object; names are written exactly as created.
    for (const metric of report.customMetrics) put(custom, metric.name, [{ ...metric.value }]);
    doc[n('customMetrics')] = custom;
  }
  return doc;
}

function metricsDocument(metrics: ReportMetrics, n: (field: FieldKey) => string): WireDocument {
  const out: WireDocument = {};
  const stats = metrics.networkStats;
  if (stats !== undefined) {
    const ns: WireDocument = {};
    if (stats.bytesIn !== undefined) ns[n('bytesIn')] = stats.bytesIn;
    if (stats.bytesOut !== undefined) ns[n('bytesOut')] = stats.bytesOut;
    if (stats.packetsIn !== undefined) ns[n('packetsIn')] = stats.packetsIn;
    if (stats.packetsOut !== undefined) ns[n('packetsOut')] = stats.packetsOut;
    out[n('networkStats')] = ns;
  }
  const tcp = metrics.tcpConnections;
  if (tcp !== undefined) {
    const tc: WireDocument = {};
    const est = tcp.establishedConnections;
    if (est !== undefined) {
      const ec: WireDocument = { [n('connections')]: est.connections.map((c) => connectionDocument(c, n)) };
      if (est.total !== undefined) ec[n('total')] = est.total;
      tc[n('establishedConnections')] = ec;
    }
    out[n('tcpConnections')] = tc;
  }
  if (metrics.listeningTcpPorts !== undefined) out[n('listeningTcpPorts')] = portListDocument(metrics.listeningTcpPorts, n);
  if (metrics.listeningUdpPorts !== undefined) out[n('listeningUdpPorts')] = portListDocument(metrics.listeningUdpPorts, n);
  return out;
}

function connectionDocument(c: ConnectionEntry, n: (field: FieldKey) => string): WireDocument {
  const out: WireDocument = { [n('remoteAddr')]: c.remoteAddr };
  if (c.localInterface !== undefined) out[n('localInterface')] = c.localInterface;
  if (c.localPort !== undefined) out[n('localPort')] = c.localPort;
  return out;
}

function portListDocument(list: PortList, n: (field: FieldKey) => string): WireDocument {
  const out: WireDocument = {
    [n('ports')]: list.ports.map((p) =>
      p.interface === undefined ? { [n('port')]: p.port } : { [n('port')]: p.port, [n('interface')]: p.interface },
    ),
  };
  if (list.total !== undefined) out[n('total')] = list.total;
  return out;
}
