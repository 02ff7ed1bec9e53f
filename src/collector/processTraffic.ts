// Per-process TCP traffic and MQTT message estimates from two snapshots of per-socket tcp_info counters.
// Pure: counters, sockets and owners in; the owning processes' ProcessSample fields incremented.
import type { InterfaceMap } from './interfaceAddresses.ts';
import { counterDelta } from './procNetDev.ts';
import { type SocketEntry, TCP_LISTEN } from './procNetSockets.ts';
import type { ProcessRef, ProcessSample } from './sample.ts';
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
}

/**
 * Bytes and segments: per socket, the change of tcp_info counters since the previous sample; a socket
 * first seen now was opened during the interval and counts from zero. Sockets that closed between two
 * samples lose their last interval's bytes (known limit). Sockets whose peer is on this host are left out
 * unless perProcessLoopback.
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
export function addTrafficDeltas(input: TrafficDeltaInput): void {
  const { current, previous, sockets, owners, procOf, mqttPorts } = input;
  for (const [inode, now] of current) {
    if (!owners.has(inode)) continue;
    const before = previous.get(inode);
    const entry = sockets.get(inode);
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
    if (!input.perProcessLoopback && (!entry || input.isLocalPeer(entry.remoteAddress))) continue;
    const t = p.traffic;
    t.bytesOut += counterDelta(before?.bytesAcked ?? 0, now.bytesAcked);
    t.bytesIn += counterDelta(before?.bytesReceived ?? 0, now.bytesReceived);
    t.packetsOut += counterDelta(before?.segsOut ?? 0, now.segsOut);
    t.packetsIn += counterDelta(before?.segsIn ?? 0, now.segsIn);
  }
}

/**
 * A peer on this host: loopback, or one of our own addresses (that traffic goes over lo too). Without an
 * interface map only loopback is known. The same set ss's kernel filter excludes (ssTcpInfo.ts).
 */
export function isLocalPeer(address: string, ifaces: InterfaceMap | undefined): boolean {
  return address.startsWith('127.') || address === '::1' || (ifaces?.byAddress.has(address) ?? false);
}
