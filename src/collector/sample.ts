// The contract between the collector (producer) and its consumers: the report builder (src/report/)
// and local evaluation (src/localrules/). Plain data, JSON-serializable. Producers may add optional
// fields; consumers must ignore what they do not know.

/** Counter deltas over one interval (never raw cumulative counters: "Delta Metric", docs/reports.md). */
export interface TrafficDelta {
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
}

export interface ProcessRef {
  pid: number;
  /** /proc/PID/comm */
  comm: string;
  /** /proc/PID/exe target, when readable */
  exe?: string;
  /** cgroup v2 path from /proc/PID/cgroup, when readable */
  cgroup?: string;
  /** process start time in clock ticks since boot (/proc/PID/stat field 22): with pid, identifies the process across pid reuse */
  startTime?: number;
}

export interface ListeningPort {
  protocol: 'tcp' | 'udp';
  /** local address the socket is bound to (IPv4 or IPv6 text form; 0.0.0.0 / :: for any) */
  address: string;
  port: number;
  /** interface the address belongs to; absent for wildcard binds */
  interface?: string;
  pid?: number;
}

export interface TcpConnection {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  localInterface?: string;
  pid?: number;
}

/** Per-process view over one interval: what a per-process behavior is evaluated on. */
export interface ProcessSample extends ProcessRef {
  /** TCP payload bytes/segments over the interval, summed over the process's sockets (delta) */
  traffic: TrafficDelta;
  listeningTcpPorts: number[];
  listeningUdpPorts: number[];
  establishedConnections: number;
  remoteAddresses: string[];
  /** local IPC/pub-sub messages attributed to this process over the interval, when known */
  messagesSent?: number;
  messagesReceived?: number;
  messageBytes?: number;
}

export type CustomMetricValue = { number: number } | { number_list: number[] } | { string_list: string[] } | { ip_list: string[] };

export interface HostSample {
  /** sample time, ms since the epoch */
  t: number;
  /** length of the interval the deltas cover, ms; 0 on the first sample */
  intervalMs: number;
  /** the gateway's own traffic (loopback excluded unless configured); absent on the first sample */
  network?: TrafficDelta;
  perInterface?: Record<string, TrafficDelta>;
  listening: ListeningPort[];
  established: TcpConnection[];
  processes: ProcessSample[];
  custom: Record<string, CustomMetricValue>;
  /** sources that failed this sample, with the reason (e.g. "downstream-traffic: nft not found") */
  degraded: string[];
}

/** What the gateway sees of one downstream device over one interval. */
export interface DeviceSample {
  thingName: string;
  t: number;
  intervalMs: number;
  /** traffic through the gateway to/from the device's addresses; absent when not measurable */
  traffic?: TrafficDelta;
  /** destination addresses the device talked to through the gateway during the interval */
  destinations: string[];
  /** local pub/sub messages on the configured topics: from the device (sent) and to it (received) */
  messagesSent: number;
  messagesReceived: number;
  messageBytes: number;
  /** largest single message over the interval (aws:message-byte-size is a per-message metric); absent without messages */
  maxMessageBytes?: number;
}
