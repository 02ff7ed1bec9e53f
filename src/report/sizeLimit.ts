// Encoding a report so that it fits the AWS IoT Core message limit (128 KB, docs/reports.md#limits-and-cadence).
// When the encoded report is too large, the longest list is halved (a sample, as for maxListSize) until it
// fits; port and connection lists keep their true `total`. Custom-metric lists have no `total`, so
// shortening them loses the count: they are shortened only after every port/connection list is empty.
// Each halving is reported in `sampled` so the caller can log what was cut.
import { encodeReport } from './encode.ts';
import { sampleList } from './listSampling.ts';
import { type DefenderReport, MAX_MESSAGE_BYTES, type NameStyle, type ReportFormat } from './model.ts';

export interface EncodeOptions {
  format: ReportFormat;
  style: NameStyle;
  maxBytes?: number;
}

export type EncodeWithinLimit = { ok: true; payload: Uint8Array; report: DefenderReport; sampled: string[] } | { ok: false; error: string };

interface ListRef {
  name: string;
  length: () => number;
  /** keep `n` elements (a sample) */
  keep: (n: number, seed: number) => void;
  countsKept: boolean;
}

/** Copy of the report whose lists can be shortened without touching the caller's object. */
function listsOf(report: DefenderReport): { copy: DefenderReport; lists: ListRef[] } {
  const copy = structuredClone(report);
  const lists: ListRef[] = [];
  const m = copy.metrics;
  for (const [name, list] of [
    ['listening_tcp_ports', m?.listeningTcpPorts],
    ['listening_udp_ports', m?.listeningUdpPorts],
  ] as const) {
    if (list === undefined) continue;
    // The true count survives sampling: fill `total` in if the caller left it out.
    list.total ??= list.ports.length;
    lists.push({
      name,
      length: () => list.ports.length,
      keep: (n, seed) => {
        list.ports = [...sampleList(list.ports, n, seed)];
      },
      countsKept: true,
    });
  }
  const est = m?.tcpConnections?.establishedConnections;
  if (est !== undefined) {
    est.total ??= est.connections.length;
    lists.push({
      name: 'established_connections',
      length: () => est.connections.length,
      keep: (n, seed) => {
        est.connections = [...sampleList(est.connections, n, seed)];
      },
      countsKept: true,
    });
  }
  for (const metric of copy.customMetrics ?? []) {
    const v = metric.value;
    const key = 'number_list' in v ? 'number_list' : 'string_list' in v ? 'string_list' : 'ip_list' in v ? 'ip_list' : undefined;
    if (key === undefined) continue;
    const holder = v as Record<string, unknown[]>;
    lists.push({
      name: `custom_metrics.${metric.name}`,
      length: () => holder[key]!.length,
      keep: (n, seed) => {
        holder[key] = [...sampleList(holder[key]!, n, seed)];
      },
      countsKept: false,
    });
  }
  return { copy, lists };
}

export function encodeWithinLimit(report: DefenderReport, options: EncodeOptions): EncodeWithinLimit {
  const maxBytes = options.maxBytes ?? MAX_MESSAGE_BYTES;
  let payload = encodeReport(report, options.format, options.style);
  if (payload.length <= maxBytes) return { ok: true, payload, report, sampled: [] };

  const { copy, lists } = listsOf(report);
  const sampled: string[] = [];
  const seed = report.header.reportId;
  // Each round halves one list, so this ends after at most sum(log2(length)) + lists rounds.
  while (payload.length > maxBytes) {
    const candidates = lists.filter((l) => l.length() > 0);
    const pool = candidates.some((l) => l.countsKept) ? candidates.filter((l) => l.countsKept) : candidates;
    const longest = pool.sort((a, b) => b.length() - a.length())[0];
    if (longest === undefined) {
      return { ok: false, error: `report: is ${payload.length} bytes without any list element, over the ${maxBytes}-byte limit` };
    }
    const before = longest.length();
    longest.keep(Math.floor(before / 2), seed);
    sampled.push(`${longest.name}: ${before} → ${longest.length()}`);
    payload = encodeReport(copy, options.format, options.style);
  }
  return { ok: true, payload, report: copy, sampled };
}
