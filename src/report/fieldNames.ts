// The long and short wire name of every report field (docs/reports.md#the-document). One table, used by
// the writer (wireDocument.ts) and the reader (validate.ts), so the two styles cannot drift apart.
// Custom metric names and their value keys (`number`, `number_list`, …) are not shortened (docs/reports.md#custom-metrics).
import type { NameStyle } from './model.ts';

export const FIELD_NAMES = {
  header: { long: 'header', short: 'hed' },
  reportId: { long: 'report_id', short: 'rid' },
  version: { long: 'version', short: 'v' },
  metrics: { long: 'metrics', short: 'met' },
  customMetrics: { long: 'custom_metrics', short: 'cmet' },
  listeningTcpPorts: { long: 'listening_tcp_ports', short: 'tp' },
  listeningUdpPorts: { long: 'listening_udp_ports', short: 'up' },
  ports: { long: 'ports', short: 'pts' },
  port: { long: 'port', short: 'pt' },
  interface: { long: 'interface', short: 'if' },
  total: { long: 'total', short: 't' },
  networkStats: { long: 'network_stats', short: 'ns' },
  bytesIn: { long: 'bytes_in', short: 'bi' },
  bytesOut: { long: 'bytes_out', short: 'bo' },
  packetsIn: { long: 'packets_in', short: 'pi' },
  packetsOut: { long: 'packets_out', short: 'po' },
  tcpConnections: { long: 'tcp_connections', short: 'tc' },
  establishedConnections: { long: 'established_connections', short: 'ec' },
  connections: { long: 'connections', short: 'cs' },
  remoteAddr: { long: 'remote_addr', short: 'rad' },
  localPort: { long: 'local_port', short: 'lp' },
  localInterface: { long: 'local_interface', short: 'li' },
} as const satisfies Record<string, Record<NameStyle, string>>;

export type FieldKey = keyof typeof FIELD_NAMES;

/** The wire name of a field in a style. */
export function wireName(field: FieldKey, style: NameStyle): string {
  return FIELD_NAMES[field][style];
}

const byStyle: Record<NameStyle, Map<string, FieldKey>> = { long: new Map(), short: new Map() };
for (const [field, names] of Object.entries(FIELD_NAMES) as [FieldKey, Record<NameStyle, string>][]) {
  byStyle.long.set(names.long, field);
  byStyle.short.set(names.short, field);
}

/** The field a wire name stands for in a style, or undefined. */
export function fieldNamed(name: string, style: NameStyle): FieldKey | undefined {
  return byStyle[style].get(name);
}
