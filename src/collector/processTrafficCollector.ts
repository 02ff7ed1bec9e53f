// Per-process traffic for the host collector, in whichever mode the machine allows (docs/traffic.md):
//  - ebpf: the helper's kernel counters, polled (every collector.trafficPollMs by the agent, and once per
//    sample): per-process deltas (processCounters.ts) → family deltas (familyTraffic.ts), handed to
//    onPoll as they come so per-process byte behaviors are judged within a poll of the crossing, and
//    summed per sample for the sample's ProcessSamples. tcp_info is still read for MQTT estimates.
//  - sockdiag: per-socket tcp_info deltas between two dumps (processTraffic.ts) plus the last interval of
//    the TCP sockets the kernel destroyed in between (the helper's `destroyed`), per family.
//  - proc: the same from `ss` when the helper is unavailable (no destroyed sockets).
// Whatever the mode, traffic no process can be named for is counted as unattributed, never dropped.
import type { Logger } from '../log.ts';
import { FamilyAttribution, type FamilyShare } from './familyTraffic.ts';
import type { InterfaceMap } from './interfaceAddresses.ts';
import { addTraffic, isZeroTraffic, ProcessCounterDeltas, ZERO_TRAFFIC } from './processCounters.ts';
import { familyHead, type ProcessDirectory, refOf } from './processFamilies.ts';
import { addTrafficDeltas, type DumpView, destroyedDeltas, isLocalPeer, socketKey } from './processTraffic.ts';
import { trafficDelta } from './procNetDev.ts';
import type { SocketEntry } from './procNetSockets.ts';
import type { ProcessRef, ProcessSample, ProcessTrafficCoverage, ProcessTrafficMode, TrafficDelta } from './sample.ts';
import type { SockDiagSource } from './sockDiagSource.ts';
import type { TcpSocketCounters } from './ssTcpInfo.ts';

/** One poll's family deltas (ebpf mode), as they happened. */
export interface ProcessTrafficPoll {
  /** poll time, ms since the epoch: the end of the interval the deltas cover */
  t: number;
  /** since the previous poll (0 for the first) */
  intervalMs: number;
  /** families that moved anything, by their head */
  families: FamilyShare[];
}

export interface ProcessTrafficOptions {
  /** the helper, started with --traffic (undefined: no helper, /proc + ss only) */
  sockDiag: SockDiagSource | undefined;
  /** why the collector did not ask the helper for eBPF (configuration), if it did not */
  ebpfOffReason?: string;
  perProcessLoopback: boolean;
  mqttPorts: ReadonlySet<number>;
  directory: ProcessDirectory;
  onPoll?: (poll: ProcessTrafficPoll) => void;
  logger: Logger;
}

/** What a sample hands over: its sockets, their owners and counters, and its ProcessSamples. */
export interface SampleTrafficInput {
  now: number;
  /** this sample's tcp_info counters by inode, and where they came from; undefined when unreadable */
  tcp: Map<number, TcpSocketCounters> | undefined;
  tcpFrom: 'sockdiag' | 'ss';
  tcpByInode: Map<number, SocketEntry>;
  owners: Map<number, ProcessRef>;
  ifaces: InterfaceMap | undefined;
  /** the ProcessSample of a socket's owner (created on first use) */
  procOf: (inode: number) => ProcessSample | undefined;
  /** the sample's ProcessSamples so far, by pid */
  processes: Map<number, ProcessSample>;
  /** the ProcessSample of a process, created with no sockets when it has none */
  sampleOf: (ref: ProcessRef) => ProcessSample;
}

export interface TrafficCounters {
  mode: ProcessTrafficMode;
  reason?: string;
  /** bytes no process could be named for, since the start */
  unattributedBytes: number;
  /** eBPF: bytes of processes outside the agent's pid namespace (a container's host), since the start: not ours to name */
  outsideBytes: number;
  /** eBPF: processes the kernel map had no room for (cumulative, from the helper) */
  lostProcesses: number;
  polls: number;
}

const bytesOf = (d: TrafficDelta) => d.bytesIn + d.bytesOut;

export class ProcessTrafficCollector {
  private readonly o: ProcessTrafficOptions;
  private readonly counters = new ProcessCounterDeltas();
  private readonly attribution: FamilyAttribution;
  /** ebpf: family deltas since the last sample */
  private interval = new Map<string, FamilyShare>();
  private intervalUnattributed = 0;
  private lastPollT: number | undefined;
  /** the helper generation of the last reading, and the one the previous sample ended with */
  private generation = 0;
  private sampleGeneration: number | undefined;
  private procsMode: 'ebpf' | 'sockdiag' | 'off' | undefined;
  private procsReason = '';
  private previousTcp: Map<number, TcpSocketCounters> | undefined;
  /** which source gave previousTcp: ss may have filtered sockets out that the helper reports */
  private previousTcpFrom: 'sockdiag' | 'ss' | undefined;
  private previousView: DumpView | undefined;
  /** family heads of the previous sample's socket owners, for destroyed sockets whose owner is gone now */
  private previousHeads = new Map<number, ProcessRef>();
  private inFlight: Promise<void> | undefined;
  readonly stats: TrafficCounters = { mode: 'off', unattributedBytes: 0, outsideBytes: 0, lostProcesses: 0, polls: 0 };

  constructor(options: ProcessTrafficOptions) {
    this.o = options;
    this.attribution = new FamilyAttribution(options.directory);
  }

  /** True while per-process traffic comes from the kernel counters (worth polling between samples). */
  get polling(): boolean {
    return this.o.sockDiag !== undefined && this.procsMode !== 'sockdiag' && this.procsMode !== 'off';
  }

  /** One poll of the kernel counters between samples (ebpf mode); no-op otherwise or while one runs. */
  async poll(now: number): Promise<void> {
    if (!this.polling || this.inFlight) return;
    this.inFlight = this.pollOnce(now);
    try {
      await this.inFlight;
    } finally {
      this.inFlight = undefined;
    }
  }

  private async pollOnce(now: number): Promise<void> {
    const r = await this.o.sockDiag?.procs(now);
    if (!r) {
      this.procsMode = undefined; // the helper is unavailable: the sample says so (mode proc)
      return;
    }
    this.procsMode = r.mode;
    this.procsReason = r.reason;
    if (r.mode !== 'ebpf') return;
    this.generation = r.generation;
    this.stats.polls++;
    this.stats.lostProcesses = r.lostProcesses;
    this.o.directory.beginRound();
    const deltas = this.counters.take(r);
    this.stats.outsideBytes += bytesOf(deltas.outside);
    const { families, unattributed } = this.attribution.attribute(deltas, now);
    const intervalMs = this.lastPollT === undefined ? 0 : Math.max(0, now - this.lastPollT);
    this.lastPollT = now;
    const moved: FamilyShare[] = [];
    for (const [key, share] of families) {
      if (isZeroTraffic(share.delta)) continue;
      moved.push(share);
      const acc = this.interval.get(key);
      if (acc === undefined) this.interval.set(key, { head: share.head, alive: share.alive, delta: { ...share.delta } });
      else addTraffic(acc.delta, share.delta);
    }
    this.intervalUnattributed += bytesOf(unattributed);
    this.stats.unattributedBytes += bytesOf(unattributed);
    if (moved.length > 0) this.o.onPoll?.({ t: now, intervalMs, families: moved });
  }

  /** The sample's final poll (ebpf), before its sockets are read: the sample's totals end here. */
  async beforeSample(now: number): Promise<void> {
    if (this.o.sockDiag === undefined) return;
    await this.inFlight;
    // Also asked in sockdiag mode: the answer says which mode the (possibly new) helper is in.
    await this.pollOnce(now);
  }

  /** Fills the sample's per-process traffic (per family) and says where it came from. */
  async completeSample(input: SampleTrafficInput): Promise<ProcessTrafficCoverage> {
    const ebpf = this.procsMode === 'ebpf';
    // A helper that died and was restarted within the interval (its counters start from zero) missed
    // what moved in between: for that interval the TCP bytes of live sockets (tcp_info, which survives the
    // helper) make up for it, family by family, below.
    const restarted = ebpf && this.sampleGeneration !== undefined && this.generation !== this.sampleGeneration;
    this.sampleGeneration = ebpf ? this.generation : undefined;
    let unattributed = 0;
    if (!ebpf) this.o.directory.beginRound();
    if (input.tcp) unattributed += this.tcpDeltas(input, !ebpf || restarted);
    if (!ebpf && this.procsMode === 'sockdiag' && input.tcpFrom === 'sockdiag') unattributed += await this.destroyed(input);
    // Socket owners that belong to another process's family: their traffic counts there.
    const heads = new Map<number, ProcessRef>();
    for (const p of [...input.processes.values()]) {
      const head = this.headOf(p);
      if (head === undefined) continue; // gone since its sockets were read
      heads.set(p.pid, head);
      if (head.pid === p.pid) continue;
      const into = input.sampleOf(head);
      addTraffic(into.traffic, p.traffic);
      p.traffic = { ...ZERO_TRAFFIC };
      p.family = head.pid;
    }
    this.previousHeads = heads;
    if (ebpf) {
      const counted = new Map<number, TrafficDelta>();
      for (const share of this.interval.values()) {
        const p = input.sampleOf(share.head);
        if (restarted) counted.set(p.pid, { ...share.delta });
        addTraffic(p.traffic, share.delta);
      }
      if (restarted) this.makeUpForRestart(input, counted);
      unattributed += this.intervalUnattributed;
      this.interval = new Map();
      this.intervalUnattributed = 0;
    } else {
      this.stats.unattributedBytes += unattributed;
    }
    this.stats.mode = ebpf ? 'ebpf' : this.procsMode === 'sockdiag' ? 'sockdiag' : 'proc';
    const coverage: ProcessTrafficCoverage = {
      mode: this.stats.mode,
      polled: ebpf && this.o.onPoll !== undefined,
      unattributedBytes: unattributed,
    };
    const reason = ebpf ? undefined : this.reason(input.tcpFrom);
    if (reason !== undefined) coverage.reason = reason;
    if (reason !== undefined) this.stats.reason = reason;
    else delete this.stats.reason;
    return coverage;
  }

  /**
   * After a helper restart: per family, the larger of what the kernel counters saw (since the restart)
   * and what tcp_info saw (the whole interval, TCP only); the difference is handed over like a poll, so
   * the evaluator gets it too.
   */
  private makeUpForRestart(input: SampleTrafficInput, counted: Map<number, TrafficDelta>): void {
    const extra: FamilyShare[] = [];
    for (const p of input.processes.values()) {
      if (p.family !== undefined) continue;
      const ebpf = counted.get(p.pid) ?? ZERO_TRAFFIC;
      // p.traffic holds tcp_info + eBPF: the larger of the two, per counter, is tcp + ebpf - min(tcp, ebpf).
      const tcp = trafficDelta(ebpf, p.traffic);
      const more: TrafficDelta = {
        bytesIn: Math.max(0, tcp.bytesIn - ebpf.bytesIn),
        bytesOut: Math.max(0, tcp.bytesOut - ebpf.bytesOut),
        packetsIn: Math.max(0, tcp.packetsIn - ebpf.packetsIn),
        packetsOut: Math.max(0, tcp.packetsOut - ebpf.packetsOut),
      };
      p.traffic = { ...ebpf };
      addTraffic(p.traffic, more);
      if (!isZeroTraffic(more)) extra.push({ head: p, alive: true, delta: more });
    }
    if (extra.length > 0) {
      this.o.logger.info({ families: extra.length }, 'dedge-sockdiag helper restarted: TCP bytes of the interval taken from tcp_info');
      this.o.onPoll?.({ t: input.now, intervalMs: 0, families: extra });
    }
  }

  /** The family head of a process that is still the one at its pid (same start time), else undefined. */
  private headOf(p: ProcessRef): ProcessRef | undefined {
    const live = this.o.directory.get(p.pid);
    if (live === undefined || (p.startTime !== undefined && live.startTime !== p.startTime)) return undefined;
    return refOf(familyHead(live, this.o.directory.get));
  }

  private reason(tcpFrom: 'sockdiag' | 'ss'): string {
    if (this.procsMode === 'sockdiag') return this.o.ebpfOffReason ?? this.procsReason;
    if (this.o.sockDiag === undefined) return 'no dedge-sockdiag helper: /proc/net and ss';
    const why = this.o.sockDiag.stats.lastError;
    return `dedge-sockdiag helper unavailable${why ? ` (${why})` : ''}: ${tcpFrom === 'ss' ? '/proc/net and ss' : 'sock_diag only'}`;
  }

  /**
   * tcp_info deltas since the previous sample (never across a change of source: ss may have filtered out
   * sockets the helper reports, which would then look new and count their whole life). With `bytes`
   * false only the MQTT estimates. Returns the bytes of sockets no process holds.
   */
  private tcpDeltas(input: SampleTrafficInput, bytes: boolean): number {
    const tcp = input.tcp!;
    const previous = this.previousTcpFrom === input.tcpFrom ? this.previousTcp : undefined;
    this.previousTcp = tcp;
    this.previousTcpFrom = input.tcpFrom;
    if (!previous) return 0;
    return bytesOf(
      addTrafficDeltas({
        current: tcp,
        previous,
        sockets: input.tcpByInode,
        owners: input.owners,
        procOf: input.procOf,
        isLocalPeer: (a) => isLocalPeer(a, input.ifaces),
        perProcessLoopback: this.o.perProcessLoopback,
        mqttPorts: this.o.mqttPorts,
        bytes,
      }),
    );
  }

  /** sockdiag mode: the destroyed sockets' last interval, to their owners' families. Returns unattributed bytes. */
  private async destroyed(input: SampleTrafficInput): Promise<number> {
    const current: DumpView = { inodeByKey: new Map(), tcp: input.tcp ?? new Map(), owners: input.owners };
    for (const [inode, s] of input.tcpByInode) current.inodeByKey.set(socketKey(s), inode);
    const views = this.previousView ? [current, this.previousView] : [current];
    const previousHeads = this.previousHeads;
    this.previousView = current;
    const r = await this.o.sockDiag!.destroyed(input.now);
    if (!r) return 0;
    if (r.error !== 0) return 0; // not subscribed (the helper says why in its mode): nothing to add
    if (r.lost)
      this.o.logger.warn('destroyed-socket notifications were lost (the helper fell behind): some closed sockets are not counted');
    const d = destroyedDeltas(r.sockets, views, {
      isLocalPeer: (a) => isLocalPeer(a, input.ifaces),
      perProcessLoopback: this.o.perProcessLoopback,
    });
    for (const { owner, delta } of d.byOwner) {
      // The owner's family now; if the owner is gone, the family it had at the last sample; else its own name.
      const ref = this.headOf(owner) ?? previousHeads.get(owner.pid) ?? owner;
      addTraffic(input.sampleOf(ref).traffic, delta);
    }
    return bytesOf(d.unattributed);
  }
}
