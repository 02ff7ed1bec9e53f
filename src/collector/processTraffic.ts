// Per-process TCP traffic and MQTT message estimates from two snapshots of per-socket tcp_info counters
// (the sock_diag and /proc + ss paths; with eBPF the bytes come from the kernel's per-process counters and
// only the MQTT estimates from here), and the last interval of TCP sockets the kernel destroyed between
// two snapshots (sockdiag mode, docs/traffic.md). Pure: counters, sockets and owners in; the owning
// processes' ProcessSample fields incremented.
import type { InterfaceMap } from './interfaceAddresses.ts';
import { counterDelta } from './procNetDev.ts';
import { type SocketEntry, TCP_LISTEN } from './procNetSockets.ts';
import type { ProcessRef, ProcessSample, TrafficDelta } from './sample.ts';
import type { DestroyedSocket } from './sockDiagProtocol.ts';
import type { TcpSocketCounters } from './ssTcpInfo.ts';

export interface TrafficDeltaInput {
  /** this sample's counters by socket inode */
  current: Map<number, TcpSocketCounters>;
  /** the previous sample's counters (same source) */
  previous: Map<number, TcpSocketCounters>;
  /** this sample's TCP sockets by inode (ports and peer address) */
  sockets: Map<number, SocketEntry>;
  owners: Map<number, ProcessRef>;
  /** the ProcessSample of an inode's owner, created on first use */
  procOf: (inode: number) => ProcessSample | undefined;
  /** a peer on this host (loopback or an own address) */
  isLocalPeer: (address: string) => boolean;
  /** count bytes to local peers (collector.perProcessIncludeLoopback) */
  perProcessLoopback: boolean;
  /** collector.mqttPorts */
  mqttPorts: ReadonlySet<number>;
  /** count bytes and segments (false: the kernel's per-process counters do, only MQTT estimates here). Default true */
  bytes?: boolean;
}

/**
 * Bytes and segments: per socket, the change of tcp_info counters since the previous sample; a socket
 * first seen now was opened during the interval and counts from zero. Sockets that closed since the
 * previous sample are counted from the kernel's destroy notifications (destroyedDeltas) where the helper
 * has them. Sockets whose peer is on this host are left out unless perProcessLoopback. Returns the traffic
 * of sockets no process holds (unattributed).
 *
 * MQTT message estimates (messagesSent / messagesReceived / messageBytes, docs/sockdiag.md): over TCP
 * sockets whose remote port (clients) or local port (a broker's accepted connections) is an MQTT port, the
 * change of tcp_info data_segs_out / data_segs_in, i.e. payload-carrying segments. An ESTIMATE: one MQTT
 * PUBLISH ≈ one data segment because MQTT clients set TCP_NODELAY and write one packet per publish;
 * batched small messages count as one, a message over the MSS as several, and CONNECT/SUBSCRIBE/PINGREQ
 * and QoS acks count too. Local peers always count here (the local broker is the case this is for),
 * whatever perProcessLoopback says; messageBytes is the TCP payload on those sockets (MQTT headers
 * included). A process without such a socket gets no message fields at all (unknown, not 0).
 */
export function addTrafficDeltas(input: TrafficDeltaInput): TrafficDelta {
  const { current, previous, sockets, owners, procOf, mqttPorts } = input;
  const unattributed: TrafficDelta = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 };
  const countBytes = input.bytes ?? true;
  for (const [inode, now] of current) {
    const before = previous.get(inode);
    const entry = sockets.get(inode);
    if (!owners.has(inode)) {
      // No process holds it (another pid namespace, a kernel socket): its traffic is known, its owner is not.
      if (countBytes && (input.perProcessLoopback || (entry && !input.isLocalPeer(entry.remoteAddress))))
        addCounterDelta(unattributed, before, now);
      continue;
    }
    const p = procOf(inode)!;
    if (entry && mqttPorts.size > 0 && entry.state !== TCP_LISTEN && (mqttPorts.has(entry.remotePort) || mqttPorts.has(entry.localPort))) {
      if (now.dataSegsOut !== undefined && now.dataSegsIn !== undefined) {
        p.messagesSent = (p.messagesSent ?? 0) + counterDelta(before?.dataSegsOut ?? 0, now.dataSegsOut);
        p.messagesReceived = (p.messagesReceived ?? 0) + counterDelta(before?.dataSegsIn ?? 0, now.dataSegsIn);
        p.messageBytes =
          (p.messageBytes ?? 0) +
          counterDelta(before?.bytesAcked ?? 0, now.bytesAcked) +
          counterDelta(before?.bytesReceived ?? 0, now.bytesReceived);
      }
    }
    if (!countBytes || (!input.perProcessLoopback && (!entry || input.isLocalPeer(entry.remoteAddress)))) continue;
    addCounterDelta(p.traffic, before, now);
  }
  return unattributed;
}

function addCounterDelta(t: TrafficDelta, before: TcpSocketCounters | undefined, now: TcpSocketCounters): void {
  t.bytesOut += counterDelta(before?.bytesAcked ?? 0, now.bytesAcked);
  t.bytesIn += counterDelta(before?.bytesReceived ?? 0, now.bytesReceived);
  t.packetsOut += counterDelta(before?.segsOut ?? 0, now.segsOut);
  t.packetsIn += counterDelta(before?.segsIn ?? 0, now.segsIn);
}

/** A TCP socket's identity among live sockets: protocol, addresses and ports (what a destroyed record still has). */
export function socketKey(s: SocketEntry): string {
  return `${s.protocol} ${s.localAddress} ${s.localPort} ${s.remoteAddress} ${s.remotePort}`;
}

/** One dump as destroyed sockets are matched against it: sockets by key, their counters and owners by inode. */
export interface DumpView {
  inodeByKey: Map<string, number>;
  tcp: Map<number, TcpSocketCounters>;
  owners: Map<number, ProcessRef>;
}

export interface DestroyedDeltas {
  /** per owner seen in a dump: what its destroyed sockets did after that dump */
  byOwner: Array<{ owner: ProcessRef; delta: TrafficDelta }>;
  /** destroyed sockets no dump saw (they lived entirely between two), or without an owner: whole lives */
  unattributed: TrafficDelta;
}

/**
 * The last interval of destroyed TCP sockets (sockdiag mode): each is matched by key to the newest dump
 * that saw it (`views`, newest first), and its final counters minus that dump's are its owner's. Peers on
 * this host are left out unless perProcessLoopback, as for live sockets.
 */
export function destroyedDeltas(
  destroyed: readonly DestroyedSocket[],
  views: readonly DumpView[],
  o: { isLocalPeer: (address: string) => boolean; perProcessLoopback: boolean },
): DestroyedDeltas {
  const byOwner = new Map<number, { owner: ProcessRef; delta: TrafficDelta }>();
  const unattributed: TrafficDelta = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 };
  for (const d of destroyed) {
    if (!o.perProcessLoopback && o.isLocalPeer(d.socket.remoteAddress)) continue;
    const key = socketKey(d.socket);
    let matched = false;
    for (const v of views) {
      const inode = v.inodeByKey.get(key);
      if (inode === undefined) continue;
      matched = true;
      const owner = v.owners.get(inode);
      if (owner === undefined) {
        addCounterDelta(unattributed, v.tcp.get(inode), d.counters);
        break;
      }
      let entry = byOwner.get(owner.pid);
      if (entry === undefined) {
        entry = { owner, delta: { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 } };
        byOwner.set(owner.pid, entry);
      }
      addCounterDelta(entry.delta, v.tcp.get(inode), d.counters);
      break;
    }
    if (!matched) addCounterDelta(unattributed, undefined, d.counters);
  }
  return { byOwner: [...byOwner.values()], unattributed };
}

/**
 * A peer on this host: loopback, or one of our own addresses (that traffic goes over lo too). Without an
 * interface map only loopback is known. The same set ss's kernel filter excludes (ssTcpInfo.ts).
 */
export function isLocalPeer(address: string, ifaces: InterfaceMap | undefined): boolean {
  return address.startsWith('127.') || address === '::1' || (ifaces?.byAddress.has(address) ?? false);
}
