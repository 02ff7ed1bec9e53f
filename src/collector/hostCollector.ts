// Host metrics for one sample: network_stats deltas, listening TCP/UDP ports and established TCP
// connections with their interface (IPv4 and IPv6), per-process attribution and per-process TCP bytes,
// per-process MQTT message estimates, custom metrics. Each source fails alone (SourceHealth); parsing
// lives in pure modules beside this one.
//
// Sockets and their tcp_info come from ONE source per sample: the dedge-sockdiag helper (a netlink
// sock_diag dump, sockDiagSource.ts) when it is available, else /proc/net/{tcp,tcp6,udp,udp6} plus an
// `ss` child process (the fallback, selected automatically for any sample the helper cannot serve).
// Per-process traffic, per process family, comes from the same helper's kernel counters (eBPF) where they
// load, else from those sockets (processTrafficCollector.ts, docs/traffic.md).

import { readdirSync, statfsSync } from 'node:fs';
import os from 'node:os';
import ipaddr from 'ipaddr.js';
import type { Logger } from '../log.ts';
import { type CommandRunner, createCommandRunner } from '../system/commandRunner.ts';
import { type ProcessInfo, readAncestry } from '../system/procfs.ts';
import { type InterfaceMap, interfaceMapFromIpJson, interfaceMapFromOs, interfaceOf } from './interfaceAddresses.ts';
import { familyBoundary, ProcessDirectory } from './processFamilies.ts';
import { ProcessTrafficCollector, type ProcessTrafficPoll, type TrafficCounters } from './processTrafficCollector.ts';
import { type InterfaceCounters, networkDeltas, parseProcNetDev } from './procNetDev.ts';
import { type Endianness, parseProcNetSockets, type SocketEntry, TCP_ESTABLISHED, TCP_LISTEN, UDP_UNCONNECTED } from './procNetSockets.ts';
import { ProcReader } from './procReader.ts';
import type { CustomMetricValue, HostSample, ListeningPort, ProcessRef, ProcessSample, TcpConnection, TrafficDelta } from './sample.ts';
import { defaultSockDiagPath } from './sockDiagLocation.ts';
import { DUMP_PARTS, type DumpPart } from './sockDiagProtocol.ts';
import { errnoName, SockDiagSource } from './sockDiagSource.ts';
import { SocketOwners } from './socketOwners.ts';
import { SOURCE_COMMAND_TIMEOUT_MS, SourceHealth } from './sourceHealth.ts';
import { parseSsTcpInfo, ssTcpInfoArgs, type TcpSocketCounters } from './ssTcpInfo.ts';
import { type CpuTimes, cpuUsagePercent, diskUsedPercent, parseMemUsedBytes, parseProcStatCpu } from './systemStats.ts';

/** Names of the custom metrics we produce (API CreateCustomMetric: `[a-zA-Z0-9:_-]+`, no `aws:` prefix). */
export const CUSTOM_METRIC_NAMES = {
  cpuUsage: 'cpu_usage', // percent of all CPUs busy over the interval (the Python agent SDK's name)
  memoryUsed: 'memory_used_bytes', // MemTotal − MemAvailable
  diskUsed: 'disk_used_percent', // df Use% of collector.diskPath
  processCount: 'process_count',
  networkInterfaces: 'network_interfaces', // interfaces in /proc/net/dev (loopback only with includeLoopback)
  agentRss: 'agent_rss_bytes',
  unattributedBytes: 'unattributed_bytes', // per-process traffic of the interval no process could be named for (docs/traffic.md)
} as const;

export interface HostCollectorOptions {
  includeLoopback: boolean;
  perProcess: boolean;
  customMetrics: boolean;
  /** per-socket TCP byte counters (tcp_info): from the helper's dump, or one `ss` child process per sample */
  tcpBytes: boolean;
  /**
   * Per-process TCP bytes include connections to loopback and the host's own addresses
   * (collector.perProcessIncludeLoopback). Default: includeLoopback.
   */
  perProcessIncludeLoopback?: boolean;
  /** TCP ports of MQTT brokers, for per-process message estimates (collector.mqttPorts). Default: none. */
  mqttPorts?: readonly number[];
  /** the dedge-sockdiag executable (absolute), or false for /proc/net + ss only. Default: defaultSockDiagPath(). */
  sockDiagHelper?: string | false;
  /** count per-process traffic in the kernel (eBPF) where it loads (collector.ebpf). Default true */
  ebpf?: boolean;
  /** enforcement.protectedProcesses: family boundaries, like every process the rails protect (processFamilies.ts) */
  protectedProcesses?: readonly string[];
  /** tests: the family boundary predicate (default: the rails' protected processes plus launchers, for this process) */
  familyBoundary?: (info: ProcessInfo) => boolean;
  /** each poll's family deltas as they happen (eBPF mode): the agent judges per-process byte behaviors on them */
  onProcessTraffic?: (poll: ProcessTrafficPoll) => void;
  logger: Logger;
  /** directory holding dev, tcp, tcp6, udp, udp6; default /proc/self/net. /proc/PID/net reads PID's namespace. */
  procNetDir?: string;
  procRoot?: string;
  /** runs ss / ip; its namespace is the one sampled (tests: a namespace they created). Default: this namespace */
  runner?: CommandRunner;
  diskPath?: string;
  endianness?: Endianness;
}

export class HostCollector {
  private readonly o: HostCollectorOptions;
  private readonly health: SourceHealth;
  private readonly reader = new ProcReader();
  private readonly owners: SocketOwners;
  private readonly runner: CommandRunner;
  private readonly procNet: string;
  private readonly endianness: Endianness;
  private previousT: number | undefined;
  private previousDev: Map<string, InterfaceCounters> | undefined;
  private readonly sockDiag: SockDiagSource | undefined;
  private readonly traffic: ProcessTrafficCollector;
  private readonly perProcessLoopback: boolean;
  private readonly mqttPorts: ReadonlySet<number>;
  private readonly partFallbackLogged = new Set<DumpPart>();
  private previousCpu: CpuTimes | undefined;
  private lastSocketSource: 'sockdiag' | 'proc' = 'proc';
  private lastSocketCount = 0;

  constructor(options: HostCollectorOptions) {
    this.o = options;
    this.health = new SourceHealth(options.logger);
    this.owners = new SocketOwners({ procRoot: options.procRoot ?? '/proc' });
    this.runner = options.runner ?? createCommandRunner();
    this.procNet = options.procNetDir ?? '/proc/self/net';
    this.endianness = options.endianness ?? os.endianness();
    this.perProcessLoopback = options.perProcessIncludeLoopback ?? options.includeLoopback;
    this.mqttPorts = new Set(options.mqttPorts ?? []);
    const wantTraffic = options.perProcess && options.tcpBytes;
    // eBPF counts every destination: with loopback excluded from per-process traffic it cannot be used.
    const ebpfOffReason =
      options.ebpf === false
        ? 'disabled by configuration (collector.ebpf is false)'
        : !this.perProcessLoopback
          ? 'collector.perProcessIncludeLoopback is false (eBPF counts every destination)'
          : undefined;
    if (options.sockDiagHelper !== false) {
      this.sockDiag = new SockDiagSource({
        helperPath: options.sockDiagHelper ?? defaultSockDiagPath(),
        logger: options.logger,
        netns: this.runner.netns,
        traffic: !wantTraffic ? false : ebpfOffReason === undefined ? true : 'no-ebpf',
      });
    }
    const procRoot = options.procRoot ?? '/proc';
    const isBoundary =
      options.familyBoundary ??
      familyBoundary({
        selfPid: process.pid,
        selfAncestors: new Set(
          readAncestry(process.pid, procRoot)
            .slice(1)
            .map((p) => p.pid),
        ),
        protectedProcesses: options.protectedProcesses ?? [],
      });
    this.traffic = new ProcessTrafficCollector({
      sockDiag: wantTraffic ? this.sockDiag : undefined,
      ...(ebpfOffReason !== undefined ? { ebpfOffReason } : {}),
      perProcessLoopback: this.perProcessLoopback,
      mqttPorts: this.mqttPorts,
      directory: new ProcessDirectory({ procRoot, isBoundary }),
      ...(options.onProcessTraffic ? { onPoll: options.onProcessTraffic } : {}),
      logger: options.logger,
    });
  }

  /** One poll of the per-process kernel counters between samples (eBPF mode; a no-op otherwise). */
  pollProcessTraffic(now: number): Promise<void> {
    return this.traffic.poll(now);
  }

  /** Per-process traffic: mode, why not eBPF, unattributed bytes so far. */
  get trafficStats(): TrafficCounters {
    return { ...this.traffic.stats };
  }

  /** Whether polling between samples is useful now (the kernel counters are the source). */
  get trafficPolling(): boolean {
    return this.o.perProcess && this.o.tcpBytes && this.traffic.polling;
  }

  /** pid of the running dedge-sockdiag helper, if any (benchmarks read its CPU time). */
  get sockDiagPid(): number | undefined {
    return this.sockDiag?.pid;
  }

  /** Which source served the last sample's sockets. */
  get socketSource(): 'sockdiag' | 'proc' {
    return this.lastSocketSource;
  }

  /** How many sockets (all of the namespace's TCP and UDP sockets) the last sample read. */
  get socketCount(): number {
    return this.lastSocketCount;
  }

  /** Stops the helper (it also exits by itself when this process goes away). */
  async stop(): Promise<void> {
    await this.sockDiag?.stop();
  }

  async sample(now: number): Promise<HostSample> {
    this.health.beginSample();
    const intervalMs = this.previousT === undefined ? 0 : Math.max(0, now - this.previousT);
    this.previousT = now;

    const ifaces = await this.interfaceMap();
    const wantTcp = this.o.perProcess && this.o.tcpBytes;
    // The sample's last poll of the kernel counters first: the interval's per-process traffic ends now.
    if (wantTcp) await this.traffic.beforeSample(now);
    const diag = this.sockDiag ? await this.sockDiag.dump(now) : undefined;
    this.lastSocketSource = diag ? 'sockdiag' : 'proc';
    // Fallback: ss runs as a child process while we read /proc, so its wall time overlaps ours.
    const tcpPromise = !diag && wantTcp ? this.tcpCounters(ifaces) : Promise.resolve(undefined);

    const sockets = diag ? this.socketsFromDump(diag.sockets, diag.status) : this.readSockets();
    this.lastSocketCount = sockets?.length ?? 0;
    const owners = this.o.perProcess && sockets ? this.attribute(sockets, now) : new Map<number, ProcessRef>();
    const { network, perInterface, devNames } = this.readNetwork();
    let tcp = await tcpPromise;
    if (diag && wantTcp) {
      tcp = diag.tcp;
      this.health.ok('tcp-bytes');
    }
    const tcpFrom = diag ? 'sockdiag' : 'ss';

    const listening: ListeningPort[] = [];
    const established: TcpConnection[] = [];
    const procs = new Map<number, ProcessSample>();
    const sampleOf = (ref: ProcessRef): ProcessSample => {
      let p = procs.get(ref.pid);
      if (!p) {
        p = {
          ...ref,
          traffic: { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 },
          listeningTcpPorts: [],
          listeningUdpPorts: [],
          establishedConnections: 0,
          remoteAddresses: [],
        };
        procs.set(ref.pid, p);
      }
      return p;
    };
    const procOf = (inode: number): ProcessSample | undefined => {
      const ref = owners.get(inode);
      return ref ? sampleOf(ref) : undefined;
    };
    const remoteSets = new Map<number, Set<string>>();
    const tcpByInode = new Map<number, SocketEntry>();

    for (const s of sockets ?? []) {
      if (s.protocol === 'tcp' && s.inode !== 0) tcpByInode.set(s.inode, s);
      const isListen =
        (s.protocol === 'tcp' && s.state === TCP_LISTEN) || (s.protocol === 'udp' && s.state === UDP_UNCONNECTED && s.localPort > 0);
      if (isListen) {
        const lp: ListeningPort = { protocol: s.protocol, address: s.localAddress, port: s.localPort };
        const itf = ifaces && interfaceOf(ifaces, s.localAddress);
        if (itf !== undefined) lp.interface = itf;
        const p = procOf(s.inode);
        if (p) {
          lp.pid = p.pid;
          (s.protocol === 'tcp' ? p.listeningTcpPorts : p.listeningUdpPorts).push(s.localPort);
        }
        listening.push(lp);
      } else if (s.protocol === 'tcp' && s.state === TCP_ESTABLISHED) {
        const c: TcpConnection = {
          localAddress: s.localAddress,
          localPort: s.localPort,
          remoteAddress: s.remoteAddress,
          remotePort: s.remotePort,
        };
        const itf = ifaces && interfaceOf(ifaces, s.localAddress);
        if (itf !== undefined) c.localInterface = itf;
        const p = procOf(s.inode);
        if (p) {
          c.pid = p.pid;
          p.establishedConnections++;
          let set = remoteSets.get(p.pid);
          if (!set) {
            set = new Set();
            remoteSets.set(p.pid, set);
          }
          set.add(s.remoteAddress);
        }
        established.push(c);
      }
    }
    for (const [pid, set] of remoteSets) procs.get(pid)!.remoteAddresses = [...set];
    const coverage = wantTcp
      ? await this.traffic.completeSample({ now, tcp, tcpFrom, tcpByInode, owners, ifaces, procOf, processes: procs, sampleOf })
      : undefined;

    const sample: HostSample = {
      t: now,
      intervalMs,
      listening,
      established,
      processes: [...procs.values()].map(dedupePorts),
      custom: this.o.customMetrics ? this.customMetrics(devNames) : {},
      degraded: [],
    };
    if (network) sample.network = network;
    if (perInterface) sample.perInterface = perInterface;
    if (coverage) {
      sample.processTraffic = coverage;
      if (this.o.customMetrics) sample.custom[CUSTOM_METRIC_NAMES.unattributedBytes] = { number: coverage.unattributedBytes };
    }
    sample.degraded = this.health.degraded();
    return sample;
  }

  private async interfaceMap(): Promise<InterfaceMap | undefined> {
    try {
      const map =
        this.runner.netns === undefined
          ? interfaceMapFromOs(os.networkInterfaces())
          : interfaceMapFromIpJson(await this.runner.run('ip', ['-j', 'addr', 'show'], { timeoutMs: SOURCE_COMMAND_TIMEOUT_MS }));
      this.health.ok('interfaces');
      return map;
    } catch (err) {
      this.health.fail('interfaces', err);
      return undefined;
    }
  }

  /**
   * The helper's sockets; a dump part the kernel refused (no IPv6, no udp_diag module: ENOENT) is read
   * from its /proc/net file instead, and said once. TCP/IPv4 never fails here (sockDiagSource.ts).
   */
  private socketsFromDump(sockets: SocketEntry[], status: Record<DumpPart, number>): SocketEntry[] | undefined {
    const failed = DUMP_PARTS.filter((p) => status[p] !== 0);
    if (failed.length === 0) {
      this.health.ok('sockets');
      return sockets;
    }
    for (const part of failed) {
      if (this.partFallbackLogged.has(part)) continue;
      this.partFallbackLogged.add(part);
      this.o.logger.info(
        { part, reason: errnoName(status[part]) },
        `sock_diag cannot dump ${part}; reading ${this.procNet}/${PROC_FILE[part]} for it`,
      );
    }
    const rest = this.readSockets(failed.map((p) => PROC_FILE[p]));
    return rest ? [...sockets, ...rest] : undefined;
  }

  private readSockets(files: readonly ProcSocketFile[] = ['tcp', 'tcp6', 'udp', 'udp6']): SocketEntry[] | undefined {
    const all: SocketEntry[] = [];
    let bad = 0;
    try {
      for (const file of files) {
        const proto = file.startsWith('tcp') ? 'tcp' : 'udp';
        let text: string;
        try {
          text = this.reader.read(`${this.procNet}/${file}`);
        } catch (err) {
          // A kernel without IPv6 has no tcp6/udp6: that is not a failure.
          if ((err as NodeJS.ErrnoException).code === 'ENOENT' && file.endsWith('6')) continue;
          throw err;
        }
        const parsed = parseProcNetSockets(text, proto, this.endianness);
        bad += parsed.badLines.length;
        for (const e of parsed.entries) all.push(e);
      }
    } catch (err) {
      this.health.fail('sockets', err);
      return undefined;
    }
    if (bad > 0) this.health.fail('sockets', new Error(`${bad} unparsable lines skipped`));
    else this.health.ok('sockets');
    return all;
  }

  private attribute(sockets: SocketEntry[], now: number): Map<number, ProcessRef> {
    try {
      const live = new Set<number>();
      for (const s of sockets) if (s.inode !== 0) live.add(s.inode);
      const result = this.owners.resolve(live, now);
      this.health.ok('processes');
      return result;
    } catch (err) {
      this.health.fail('processes', err);
      return new Map();
    }
  }

  private async tcpCounters(ifaces: InterfaceMap | undefined): Promise<Map<number, TcpSocketCounters> | undefined> {
    try {
      // The kernel-side filter saves ss most of its formatting work, but MQTT message estimates need the
      // loopback sockets too (a local broker), so with MQTT ports configured ss dumps everything and
      // addProcessTraffic filters the bytes.
      const filter = !this.perProcessLoopback && this.mqttPorts.size === 0;
      const exclude = filter ? ['127.0.0.0/8', '::1', ...[...(ifaces?.byAddress.keys() ?? [])].filter(isUnicastHostAddress)] : [];
      const text = await this.runner.run('ss', ssTcpInfoArgs(exclude), { timeoutMs: SOURCE_COMMAND_TIMEOUT_MS });
      const parsed = parseSsTcpInfo(text);
      if (parsed.badLines.length > 0) this.health.fail('tcp-bytes', new Error(`${parsed.badLines.length} unparsable ss lines skipped`));
      else this.health.ok('tcp-bytes');
      return parsed.sockets;
    } catch (err) {
      this.health.fail('tcp-bytes', err);
      return undefined;
    }
  }

  private readNetwork(): { network?: TrafficDelta; perInterface?: Record<string, TrafficDelta>; devNames?: string[] } {
    try {
      const parsed = parseProcNetDev(this.reader.read(`${this.procNet}/dev`));
      if (parsed.badLines.length > 0) this.health.fail('network', new Error(`${parsed.badLines.length} unparsable lines skipped`));
      else this.health.ok('network');
      const previous = this.previousDev;
      this.previousDev = parsed.interfaces;
      const devNames = [...parsed.interfaces.keys()];
      // Deltas only, and no network_stats at all without a previous sample (docs/reports.md).
      if (!previous) return { devNames };
      const { total, perInterface } = networkDeltas(previous, parsed.interfaces, this.o.includeLoopback);
      return { network: total, perInterface, devNames };
    } catch (err) {
      this.health.fail('network', err);
      this.previousDev = undefined;
      return {};
    }
  }

  private customMetrics(devNames: string[] | undefined): Record<string, CustomMetricValue> {
    const out: Record<string, CustomMetricValue> = {};
    const n = CUSTOM_METRIC_NAMES;
    const attempt = (source: string, fn: () => void) => {
      try {
        fn();
        this.health.ok(source);
      } catch (err) {
        this.health.fail(source, err);
      }
    };
    const procRoot = this.o.procRoot ?? '/proc';
    attempt('custom:cpu', () => {
      const cpu = parseProcStatCpu(this.reader.read(`${procRoot}/stat`));
      if (!cpu) throw new Error(`${procRoot}/stat: no cpu line`);
      const prev = this.previousCpu;
      this.previousCpu = cpu;
      const pct = prev && cpuUsagePercent(prev, cpu);
      if (pct !== undefined) out[n.cpuUsage] = { number: pct };
    });
    attempt('custom:memory', () => {
      const used = parseMemUsedBytes(this.reader.read(`${procRoot}/meminfo`));
      if (used === undefined) throw new Error(`${procRoot}/meminfo: no MemTotal/MemAvailable`);
      out[n.memoryUsed] = { number: used };
    });
    attempt('custom:disk', () => {
      const pct = diskUsedPercent(statfsSync(this.o.diskPath ?? '/'));
      if (pct !== undefined) out[n.diskUsed] = { number: pct };
    });
    attempt('custom:processes', () => {
      out[n.processCount] = { number: countPids(procRoot) };
    });
    if (devNames) out[n.networkInterfaces] = { number: devNames.filter((d) => this.o.includeLoopback || d !== 'lo').length };
    out[n.agentRss] = { number: process.memoryUsage.rss() };
    return out;
  }
}

type ProcSocketFile = 'tcp' | 'tcp6' | 'udp' | 'udp6';
const PROC_FILE: Record<DumpPart, ProcSocketFile> = { tcp4: 'tcp', tcp6: 'tcp6', udp4: 'udp', udp6: 'udp6' };

function countPids(procRoot: string): number {
  let count = 0;
  for (const name of readdirSync(procRoot)) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) count++;
  }
  return count;
}

/** Own addresses: traffic to them goes over lo, so it is excluded from per-process bytes like from network_stats. */
function isUnicastHostAddress(a: string): boolean {
  return ipaddr.isValid(a) && ipaddr.parse(a).range() !== 'unspecified';
}

function dedupePorts(p: ProcessSample): ProcessSample {
  p.listeningTcpPorts = [...new Set(p.listeningTcpPorts)].sort((a, b) => a - b);
  p.listeningUdpPorts = [...new Set(p.listeningUdpPorts)].sort((a, b) => a - b);
  return p;
}
