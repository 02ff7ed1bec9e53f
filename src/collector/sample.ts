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
  /**
   * Payload bytes and packets over the interval (delta) of this process's FAMILY: itself and every
   * process it started, live or exited since (docs/traffic.md#families). All zero when `family` is set.
   */
  traffic: TrafficDelta;
  /** pid of the head of the family this process belongs to, when that is another process: its traffic counts there */
  family?: number;
  listeningTcpPorts: number[];
  listeningUdpPorts: number[];
  establishedConnections: number;
  remoteAddresses: string[];
  /** local IPC/pub-sub messages attributed to this process over the interval, when known */
  messagesSent?: number;
  messagesReceived?: number;
  messageBytes?: number;
}

/** Where per-process traffic came from, and what it can see (docs/traffic.md#coverage). */
export type ProcessTrafficMode = 'ebpf' | 'sockdiag' | 'proc' | 'off';

export interface ProcessTrafficCoverage {
  /**
   * ebpf: per-process counters in the kernel (every byte, UDP and short-lived processes included);
   * sockdiag: sockets sampled with sock_diag plus the final counters of destroyed TCP sockets; proc:
   * /proc/net + ss (the helper is unavailable); off: per-process traffic is not collected.
   */
  mode: ProcessTrafficMode;
  /** why not ebpf (e.g. "load: Operation not permitted"), when not ebpf */
  reason?: string;
  /**
   * The interval's per-process traffic was also handed over poll by poll as it happened (the collector's
   * onProcessTraffic): evaluate it there, not again from this sample.
   */
  polled: boolean;
  /** bytes (in + out) of the interval no process could be named for: see docs/traffic.md#coverage */
  unattributedBytes: number;
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
  /** where per-process traffic came from (absent when per-process collection is off) */
  processTraffic?: ProcessTrafficCoverage;
}

/** What the gateway sees of one downstream device over one interval. */
export interface DeviceSample {
  thingName: string;
  t: number;
  intervalMs: number;
  /**
   * traffic through the gateway to/from the device's addresses since the previous reading of the accounting
   * table — every sample for a few hundred devices, every few samples for more (downstreamCollector.ts);
   * absent when not measured in this sample
   */
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
