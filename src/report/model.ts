// The one typed model of a Device Defender metrics report (docs/reports.md#the-document). It is independent of
// the wire naming: `toWireDocument` (wireDocument.ts) writes it with long or short names, the validator
// (validate.ts) reads either style back into it. Plain data, JSON-serializable.
import type { CustomMetricValue } from '../collector/sample.ts';

export type { CustomMetricValue };

/** Wire naming style (every field has a long and a short name, docs/reports.md#the-document). */
export type NameStyle = 'long' | 'short';
/** Payload encoding, also the last segment of the reserved topic (docs/reports.md#topics). */
export type ReportFormat = 'json' | 'cbor';

/** Header `version`: "Major.Minor"; every documented example and SDK sends "1.0". */
export const REPORT_VERSION = '1.0';

/**
 * AWS IoT Core rejects MQTT payloads over 128 KB (https://docs.aws.amazon.com/general/latest/gr/iot-core.html,
 * message broker limits). We read "KB" as KiB (131072 bytes), the larger reading, so that nothing the service
 * accepts is refused here.
 */
export const MAX_MESSAGE_BYTES = 128 * 1024;

export interface ReportHeader {
  /** positive integer, increasing per thing ("Monotonically increasing value. Epoch timestamp recommended.") */
  reportId: number;
  version: typeof REPORT_VERSION;
}

export interface PortEntry {
  /** 1–65535 ("ports should be numbers greater than 0", docs/reports.md#the-document) */
  port: number;
  interface?: string;
}

export interface PortList {
  ports: PortEntry[];
  /** the true count; `ports` may be a sample of it (the Python agent SDK samples to 50) */
  total?: number;
}

export interface ConnectionEntry {
  /** `ip:port`, IPv6 as `[ip]:port` */
  remoteAddr: string;
  localPort?: number;
  localInterface?: string;
}

export interface EstablishedConnections {
  connections: ConnectionEntry[];
  total?: number;
}

/** Deltas over the report's interval, never raw counters ("Delta Metric", docs/reports.md#the-document). */
export interface NetworkStats {
  bytesIn?: number;
  bytesOut?: number;
  packetsIn?: number;
  packetsOut?: number;
}

export interface ReportMetrics {
  listeningTcpPorts?: PortList;
  listeningUdpPorts?: PortList;
  networkStats?: NetworkStats;
  tcpConnections?: { establishedConnections?: EstablishedConnections };
}

/**
 * One custom metric. An array of these rather than a record keyed by name: names come from untrusted
 * reports, and a name like `constructor` must never be confused with an inherited property.
 */
export interface CustomMetric {
  name: string;
  value: CustomMetricValue;
}

export interface DefenderReport {
  header: ReportHeader;
  /** a report has `metrics`, `custom_metrics` or both */
  metrics?: ReportMetrics;
  customMetrics?: CustomMetric[];
}
