// The report validator: applies the service's documented rules (docs/reports.md) to an
// untrusted, already decoded document and returns the typed model or every `path: message` error (paths
// use the names as they appear in the document). Never throws; reads only known fields, so the work is
// bounded by the document's size (decode.ts bounds that) and stops after MAX_ERRORS errors.
//
// Choices where the documentation is silent (docs/reports.md), each tested in test/report/validate.test.ts:
//  * Mixing long and short names: REJECTED. No SDK ever mixes them; a mixed report is far more likely
//    a bug than a plan, and accepting it would have to guess which style an ambiguous reader expects.
//  * One broken field: the WHOLE report is rejected (no silent dropping), so the device learns about it.
//  * Unknown fields: rejected ("is not a known field"); a typo such as `byte_in` must not vanish silently.
//  * `null` for an optional field means "absent": the Python agent SDK writes None as null (`local_interface`
//    when no interface owns the address) and its reports must be accepted unchanged. A required field that
//    is null is missing.
//  * `total` vs the listed elements: `total` may exceed the list (sampled lists), but a `total`
//    below the number of listed elements is contradictory and rejected.
//  * A port entry without `port` (the specification marks it optional) is rejected: it states nothing.
//  * report_id must be a positive integer no larger than 2^53-1, the largest a JSON number holds exactly.
//  * Port numbers: `port` 1–65535 (documented "> 0"), `local_port` 0–65535 (documented ">= 0").

import { isPlainObject } from '../plainObject.ts';
import { customMetricNameProblem, readCustomMetricValue } from './customMetrics.ts';
import { type FieldKey, fieldNamed, wireName } from './fieldNames.ts';
import {
  type ConnectionEntry,
  type CustomMetric,
  type DefenderReport,
  type NameStyle,
  type NetworkStats,
  type PortEntry,
  type PortList,
  REPORT_VERSION,
  type ReportMetrics,
} from './model.ts';
import { parseRemoteAddress } from './remoteAddress.ts';
import { childPath, integerProblem, isWellFormedString, shownPath, ValidationIssues } from './validationIssues.ts';

export type ReportValidation =
  | { ok: true; report: DefenderReport; style: NameStyle; warnings: string[] }
  /** `reportId` when the header carried a valid one, so a rejection can still name the report. */
  | { ok: false; errors: string[]; style?: NameStyle; reportId?: number };

type Fields = Partial<Record<FieldKey, unknown>>;

class Reader {
  readonly issues: ValidationIssues;
  readonly style: NameStyle;

  constructor(style: NameStyle, issues: ValidationIssues) {
    this.style = style;
    this.issues = issues;
  }

  name(field: FieldKey): string {
    return wireName(field, this.style);
  }

  path(parent: string, field: FieldKey): string {
    return childPath(parent, this.name(field));
  }

  /** The known fields of an object; unknown, other-style and `__proto__` keys are errors. Undefined if not an object. */
  fields(value: unknown, path: string, allowed: readonly FieldKey[]): Fields | undefined {
    if (!isPlainObject(value)) {
      this.issues.error(shownPath(path), 'must be an object');
      return undefined;
    }
    const out: Fields = {};
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      if (this.issues.full) break;
      const field = fieldNamed(key, this.style);
      if (field !== undefined && allowed.includes(field)) {
        const v = value[key];
        if (v !== null) out[field] = v; // null = absent (see the header comment)
        continue;
      }
      const other = this.style === 'long' ? 'short' : 'long';
      const otherField = fieldNamed(key, other);
      if (otherField !== undefined && allowed.includes(otherField)) {
        this.issues.error(
          childPath(path, key),
          `is a ${other} name in a ${this.style}-name report; a report must not mix long and short names`,
        );
      } else {
        this.issues.error(childPath(path, key), 'is not a known field');
      }
    }
    return out;
  }

  integer(value: unknown, path: string, min: number, max?: number): number | undefined {
    const problem = integerProblem(value, min, max);
    if (problem !== null) {
      this.issues.error(path, problem);
      return undefined;
    }
    return value as number;
  }

  string(value: unknown, path: string): string | undefined {
    if (!isWellFormedString(value)) {
      this.issues.error(path, 'must be a string');
      return undefined;
    }
    return value;
  }

  array(value: unknown, path: string): unknown[] | undefined {
    if (!Array.isArray(value)) {
      this.issues.error(path, 'must be an array');
      return undefined;
    }
    return value;
  }
}

/** Validate a decoded report document. Never throws. */
export function validateReportDocument(document: unknown, maxErrors?: number): ReportValidation {
  const issues = new ValidationIssues(maxErrors);
  try {
    return validate(document, issues);
  } catch (err) {
    // Only reachable for exotic in-process inputs (a Proxy, a throwing getter); decoded payloads are plain data.
    return { ok: false, errors: [`(root): could not be read (${(err as Error).message})`] };
  }
}

function styleOf(root: Record<string, unknown>, issues: ValidationIssues): NameStyle | undefined {
  const top = ['header', 'metrics', 'customMetrics'] as const;
  const longs = top.map((f) => wireName(f, 'long')).filter((k) => Object.hasOwn(root, k));
  const shorts = top.map((f) => wireName(f, 'short')).filter((k) => Object.hasOwn(root, k));
  if (longs.length > 0 && shorts.length > 0) {
    issues.error('(root)', `mixes long names (${longs.join(', ')}) and short names (${shorts.join(', ')}); a report must use one style`);
    return undefined;
  }
  return shorts.length > 0 ? 'short' : 'long';
}

function validate(document: unknown, issues: ValidationIssues): ReportValidation {
  if (!isPlainObject(document)) return { ok: false, errors: ['(root): must be an object'] };
  const style = styleOf(document, issues);
  if (style === undefined) return { ok: false, errors: issues.errors };
  const r = new Reader(style, issues);
  const root = r.fields(document, '', ['header', 'metrics', 'customMetrics']) ?? {};

  // header: "Complete block required for well-formed report."
  let reportId: number | undefined;
  if (root.header === undefined) issues.error(r.name('header'), 'is required');
  else {
    const path = r.name('header');
    const header = r.fields(root.header, path, ['reportId', 'version']);
    if (header !== undefined) {
      if (header.reportId === undefined) issues.error(r.path(path, 'reportId'), 'is required');
      else reportId = r.integer(header.reportId, r.path(path, 'reportId'), 1);
      if (header.version === undefined) issues.error(r.path(path, 'version'), 'is required');
      else if (header.version !== REPORT_VERSION) issues.error(r.path(path, 'version'), `must be "${REPORT_VERSION}"`);
    }
  }

  // "A report can have both or at least one metrics or custom_metrics block."
  if (root.metrics === undefined && root.customMetrics === undefined) {
    issues.error('(root)', `must have ${r.name('metrics')} or ${r.name('customMetrics')} (or both)`);
  }
  const metrics = root.metrics === undefined ? undefined : readMetrics(r, root.metrics, r.name('metrics'));
  const customMetrics = root.customMetrics === undefined ? undefined : readCustomMetrics(r, root.customMetrics, r.name('customMetrics'));

  if (issues.errors.length > 0 || reportId === undefined) {
    return { ok: false, errors: issues.errors, style, ...(reportId !== undefined ? { reportId } : {}) };
  }
  const report: DefenderReport = { header: { reportId, version: REPORT_VERSION } };
  if (metrics !== undefined) report.metrics = metrics;
  if (customMetrics !== undefined) report.customMetrics = customMetrics;
  return { ok: true, report, style, warnings: issues.warnings };
}

function readMetrics(r: Reader, value: unknown, path: string): ReportMetrics | undefined {
  const f = r.fields(value, path, ['listeningTcpPorts', 'listeningUdpPorts', 'networkStats', 'tcpConnections']);
  if (f === undefined) return undefined;
  const out: ReportMetrics = {};
  if (f.networkStats !== undefined) {
    const stats = readNetworkStats(r, f.networkStats, r.path(path, 'networkStats'));
    if (stats !== undefined) out.networkStats = stats;
  }
  if (f.tcpConnections !== undefined) {
    const tcPath = r.path(path, 'tcpConnections');
    const tc = r.fields(f.tcpConnections, tcPath, ['establishedConnections']);
    if (tc !== undefined) {
      out.tcpConnections = {};
      if (tc.establishedConnections !== undefined) {
        const est = readEstablished(r, tc.establishedConnections, r.path(tcPath, 'establishedConnections'));
        if (est !== undefined) out.tcpConnections.establishedConnections = est;
      }
    }
  }
  if (f.listeningTcpPorts !== undefined) {
    const list = readPortList(r, f.listeningTcpPorts, r.path(path, 'listeningTcpPorts'));
    if (list !== undefined) out.listeningTcpPorts = list;
  }
  if (f.listeningUdpPorts !== undefined) {
    const list = readPortList(r, f.listeningUdpPorts, r.path(path, 'listeningUdpPorts'));
    if (list !== undefined) out.listeningUdpPorts = list;
  }
  return out;
}

// network_stats: every counter is a "Delta Metric, >= 0".
function readNetworkStats(r: Reader, value: unknown, path: string): NetworkStats | undefined {
  const f = r.fields(value, path, ['bytesIn', 'bytesOut', 'packetsIn', 'packetsOut']);
  if (f === undefined) return undefined;
  const out: NetworkStats = {};
  for (const key of ['bytesIn', 'bytesOut', 'packetsIn', 'packetsOut'] as const) {
    if (f[key] === undefined) continue;
    const v = r.integer(f[key], r.path(path, key), 0);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** `total` ("Number >= 0"), which must not be below the number of listed elements (our choice). */
function readTotal(r: Reader, value: unknown, path: string, listed: number): number | undefined {
  if (value === undefined) return undefined;
  const total = r.integer(value, path, 0);
  if (total !== undefined && total < listed) r.issues.error(path, `must be >= the number of listed elements (${listed})`);
  return total;
}

function readPortList(r: Reader, value: unknown, path: string): PortList | undefined {
  const f = r.fields(value, path, ['ports', 'total']);
  if (f === undefined) return undefined;
  const ports: PortEntry[] = [];
  const portsPath = r.path(path, 'ports');
  const items = f.ports === undefined ? [] : (r.array(f.ports, portsPath) ?? []);
  for (let i = 0; i < items.length && !r.issues.full; i++) {
    const at = `${portsPath}[${i}]`;
    const e = r.fields(items[i], at, ['port', 'interface']);
    if (e === undefined) continue;
    let port: number | undefined;
    if (e.port === undefined) r.issues.error(r.path(at, 'port'), 'is required');
    else port = r.integer(e.port, r.path(at, 'port'), 1, 65535);
    const iface = e.interface === undefined ? undefined : r.string(e.interface, r.path(at, 'interface'));
    if (port !== undefined) ports.push(iface === undefined ? { port } : { port, interface: iface });
  }
  const total = readTotal(r, f.total, r.path(path, 'total'), items.length);
  return total === undefined ? { ports } : { ports, total };
}

function readEstablished(r: Reader, value: unknown, path: string): { connections: ConnectionEntry[]; total?: number } | undefined {
  const f = r.fields(value, path, ['connections', 'total']);
  if (f === undefined) return undefined;
  const connections: ConnectionEntry[] = [];
  const listPath = r.path(path, 'connections');
  const items = f.connections === undefined ? [] : (r.array(f.connections, listPath) ?? []);
  for (let i = 0; i < items.length && !r.issues.full; i++) {
    const at = `${listPath}[${i}]`;
    const c = r.fields(items[i], at, ['remoteAddr', 'localPort', 'localInterface']);
    if (c === undefined) continue;
    let remoteAddr: string | undefined;
    const addrPath = r.path(at, 'remoteAddr');
    if (c.remoteAddr === undefined) r.issues.error(addrPath, 'is required');
    else if (typeof c.remoteAddr !== 'string') r.issues.error(addrPath, 'must be a string "ip:port"');
    else if (parseRemoteAddress(c.remoteAddr) === null)
      r.issues.error(addrPath, 'must be "ip:port" with an IPv4 or IPv6 address and a port 1–65535 (IPv6 as "[ip]:port")');
    else remoteAddr = c.remoteAddr;
    const localPort = c.localPort === undefined ? undefined : r.integer(c.localPort, r.path(at, 'localPort'), 0, 65535);
    const localInterface = c.localInterface === undefined ? undefined : r.string(c.localInterface, r.path(at, 'localInterface'));
    if (remoteAddr === undefined) continue;
    const entry: ConnectionEntry = { remoteAddr };
    if (localPort !== undefined) entry.localPort = localPort;
    if (localInterface !== undefined) entry.localInterface = localInterface;
    connections.push(entry);
  }
  const total = readTotal(r, f.total, r.path(path, 'total'), items.length);
  return total === undefined ? { connections } : { connections, total };
}

function readCustomMetrics(r: Reader, value: unknown, path: string): CustomMetric[] | undefined {
  if (!isPlainObject(value)) {
    r.issues.error(path, 'must be an object keyed by custom metric name');
    return undefined;
  }
  const out: CustomMetric[] = [];
  for (const name of Object.keys(value)) {
    if (r.issues.full) break;
    const at = childPath(path, name);
    const problem = customMetricNameProblem(name);
    if (problem !== null) {
      r.issues.error(at, problem);
      continue;
    }
    const v = readCustomMetricValue(value[name], at, r.issues);
    if (v !== undefined) out.push({ name, value: v });
  }
  return out;
}
