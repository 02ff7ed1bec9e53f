import { describe, expect, it } from 'vitest';
import { addTrafficDeltas, destroyedDeltas, isLocalPeer, socketKey } from '../../src/collector/processTraffic.ts';
import type { SocketEntry } from '../../src/collector/procNetSockets.ts';
import type { ProcessRef, ProcessSample } from '../../src/collector/sample.ts';
import type { TcpSocketCounters } from '../../src/collector/ssTcpInfo.ts';

const sock = (inode: number, local: string, lport: number, remote: string, rport: number, state = 1): SocketEntry => ({
  protocol: 'tcp',
  localAddress: local,
  localPort: lport,
  remoteAddress: remote,
  remotePort: rport,
  state,
  uid: 0,
  inode,
});
const c = (
  bytesAcked: number,
  bytesReceived: number,
  segsOut: number,
  segsIn: number,
  dataSegsOut?: number,
  dataSegsIn?: number,
): TcpSocketCounters => {
  const x: TcpSocketCounters = { bytesAcked, bytesReceived, segsOut, segsIn };
  if (dataSegsOut !== undefined) x.dataSegsOut = dataSegsOut;
  if (dataSegsIn !== undefined) x.dataSegsIn = dataSegsIn;
  return x;
};

function run(o: {
  perProcessLoopback: boolean;
  mqttPorts?: number[];
  previous: [number, TcpSocketCounters][];
  current: [number, TcpSocketCounters][];
  sockets: SocketEntry[];
  owners: [number, number][];
}) {
  const procs = new Map<number, ProcessSample>();
  const refs = new Map<number, ProcessRef>(o.owners.map(([inode, pid]) => [inode, { pid, comm: `p${pid}` }]));
  addTrafficDeltas({
    current: new Map(o.current),
    previous: new Map(o.previous),
    sockets: new Map(o.sockets.map((s) => [s.inode, s])),
    owners: refs,
    procOf: (inode) => {
      const ref = refs.get(inode);
      if (!ref) return undefined;
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
    },
    isLocalPeer: (a) => isLocalPeer(a, { byAddress: new Map([['10.0.0.5', 'eth0']]), names: new Set(['lo', 'eth0']) }),
    perProcessLoopback: o.perProcessLoopback,
    mqttPorts: new Set(o.mqttPorts ?? []),
  });
  return procs;
}

describe('per-process traffic deltas', () => {
  const sockets = [
    sock(1, '127.0.0.1', 40000, '127.0.0.1', 1883), // rogue client → local broker
    sock(2, '127.0.0.1', 1883, '127.0.0.1', 40000), // the broker's accepted end
    sock(3, '10.0.0.5', 50000, '52.1.2.3', 8883), // a cloud MQTT connection
    sock(4, '10.0.0.5', 50001, '93.184.216.34', 443), // HTTPS: no messages
    sock(5, '0.0.0.0', 1883, '0.0.0.0', 0, 10), // the broker's listener
    sock(6, '10.0.0.5', 50002, '10.0.0.5', 9000), // to our own address: a local peer
  ];
  const owners: [number, number][] = [
    [1, 100],
    [2, 200],
    [3, 300],
    [4, 300],
    [5, 200],
    [6, 400],
  ];
  const previous: [number, TcpSocketCounters][] = [
    [1, c(1000, 50, 10, 10, 8, 5)],
    [2, c(50, 1000, 10, 10, 5, 8)],
    [3, c(0, 0, 1, 1, 0, 0)],
    [4, c(100, 100, 2, 2, 1, 1)],
    [5, c(0, 0, 0, 0, 0, 0)],
    [6, c(10, 0, 1, 0, 1, 0)],
  ];
  const current: [number, TcpSocketCounters][] = [
    [1, c(5000, 90, 50, 30, 48, 25)],
    [2, c(90, 5000, 30, 50, 25, 48)],
    [3, c(700, 300, 11, 9, 7, 3)],
    [4, c(1100, 2100, 12, 14, 9, 11)],
    [5, c(0, 0, 0, 0, 0, 0)],
    [6, c(60, 0, 3, 0, 3, 0)],
  ];

  it('counts bytes and segments per owner; MQTT messages from data segments on client and broker sides', () => {
    const p = run({ perProcessLoopback: true, mqttPorts: [1883, 8883], previous, current, sockets, owners });
    expect(p.get(100)).toMatchObject({
      traffic: { bytesOut: 4000, bytesIn: 40, packetsOut: 40, packetsIn: 20 },
      messagesSent: 40,
      messagesReceived: 20,
      messageBytes: 4040,
    });
    expect(p.get(200)).toMatchObject({ traffic: { bytesOut: 40, bytesIn: 4000 }, messagesSent: 20, messagesReceived: 40 });
    // cloud MQTT (8883) + HTTPS: bytes from both, messages from the MQTT one only
    expect(p.get(300)).toMatchObject({
      traffic: { bytesOut: 1700, bytesIn: 2300, packetsOut: 20, packetsIn: 20 },
      messagesSent: 7,
      messagesReceived: 3,
      messageBytes: 1000,
    });
    expect(p.get(400)?.traffic.bytesOut).toBe(50);
    expect(p.get(400)?.messagesSent).toBeUndefined();
  });

  it("without perProcessLoopback: no bytes to local peers, but the local broker's messages still count", () => {
    const p = run({ perProcessLoopback: false, mqttPorts: [1883], previous, current, sockets, owners });
    expect(p.get(100)).toMatchObject({ traffic: { bytesOut: 0, bytesIn: 0 }, messagesSent: 40, messagesReceived: 20 });
    expect(p.get(300)?.traffic.bytesOut).toBe(1700); // remote peers still count
    expect(p.get(400)?.traffic.bytesOut).toBe(0); // our own address is a local peer
  });

  it('a socket first seen counts from zero; no data_segs (old kernel) means no message fields; no owner, nothing', () => {
    const p = run({
      perProcessLoopback: true,
      mqttPorts: [1883],
      previous: [],
      current: [
        [1, c(300, 4, 3, 2)],
        [7, c(999, 999, 9, 9, 9, 9)],
      ],
      sockets: [sockets[0]!, sock(7, '127.0.0.1', 1, '127.0.0.1', 1883)],
      owners: [[1, 100]],
    });
    expect(p.get(100)).toMatchObject({ traffic: { bytesOut: 300, bytesIn: 4, packetsOut: 3, packetsIn: 2 } });
    expect(p.get(100)?.messagesSent).toBeUndefined();
    expect([...p.keys()]).toEqual([100]);
  });

  it('no MQTT ports configured: no message fields at all', () => {
    const p = run({ perProcessLoopback: true, previous, current, sockets, owners });
    expect([...p.values()].every((x) => x.messagesSent === undefined && x.messagesReceived === undefined)).toBe(true);
  });

  it('local peers: 127/8, ::1 and own addresses', () => {
    const ifaces = { byAddress: new Map([['fd00::5', 'eth0']]), names: new Set<string>() };
    expect(['127.0.0.1', '127.9.9.9', '::1', 'fd00::5'].map((a) => isLocalPeer(a, ifaces))).toEqual([true, true, true, true]);
    expect(['10.0.0.1', '::2', 'fd00::6'].map((a) => isLocalPeer(a, ifaces))).toEqual([false, false, false]);
    expect(isLocalPeer('fd00::5', undefined)).toBe(false);
  });
});

describe('destroyedDeltas (sockdiag mode: the last interval of sockets freed between two dumps)', () => {
  const view = (entries: Array<[SocketEntry, TcpSocketCounters, ProcessRef | undefined]>) => ({
    inodeByKey: new Map(entries.map(([s]) => [socketKey(s), s.inode])),
    tcp: new Map(entries.map(([s, k]) => [s.inode, k])),
    owners: new Map(entries.filter(([, , o]) => o !== undefined).map(([s, , o]) => [s.inode, o!])),
  });
  const gone = (s: SocketEntry, k: TcpSocketCounters) => ({ socket: { ...s, inode: 0, uid: 0 }, counters: k });
  const opts = { isLocalPeer: (a: string) => a.startsWith('127.'), perProcessLoopback: false };

  it('matches by addresses and ports to the newest dump that saw it and counts what happened after it', () => {
    const a = sock(11, '10.0.0.1', 40000, '10.0.0.9', 443);
    const b = sock(12, '10.0.0.1', 40001, '10.0.0.9', 443);
    const owner = { pid: 7, comm: 'rogue' };
    const current = view([[a, c(3000, 10, 5, 4), owner]]);
    const previous = view([
      [a, c(1000, 10, 2, 2), owner],
      [b, c(500, 0, 2, 1), owner],
    ]);
    const r = destroyedDeltas([gone(a, c(3500, 10, 6, 4)), gone(b, c(2500, 0, 4, 2))], [current, previous], opts);
    expect(r.byOwner).toEqual([{ owner, delta: { bytesOut: 500 + 2000, bytesIn: 0, packetsOut: 1 + 2, packetsIn: 1 } }]);
    expect(r.unattributed).toEqual({ bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 });
  });

  it('a socket no dump saw (a connection that lived between two) is unattributed, whole; local peers stay out', () => {
    const never = sock(0, '10.0.0.1', 40002, '10.0.0.9', 443);
    const local = sock(0, '127.0.0.1', 40003, '127.0.0.1', 8080);
    const r = destroyedDeltas([gone(never, c(2050, 0, 4, 3)), gone(local, c(9999, 0, 4, 3))], [view([])], opts);
    expect(r.byOwner).toEqual([]);
    expect(r.unattributed).toEqual({ bytesOut: 2050, bytesIn: 0, packetsOut: 4, packetsIn: 3 });
  });
});
