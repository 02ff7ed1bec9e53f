// The helper's wire format, decoded from records encoded here by hand after the layout documented in
// native/sockdiag/dedge-sockdiag.c (an independent writer of the same format), split into chunks at
// every possible boundary.
import { describe, expect, it } from 'vitest';
import {
  ALL_STATES,
  DEFAULT_TCP_STATES,
  dumpRequest,
  RECORD_SIZE,
  ResponseAssembler,
  SockDiagDecoder,
  SockDiagProtocolError,
} from '../../src/collector/sockDiagProtocol.ts';

interface Rec {
  family: 4 | 6;
  proto: 6 | 17;
  state: number;
  flags?: number;
  lport: number;
  rport: number;
  inode: number;
  uid: number;
  local: number[];
  remote: number[];
  counters?: [bigint, bigint, number, number, number, number];
}

function socketRecord(r: Rec): Buffer {
  const b = Buffer.alloc(RECORD_SIZE);
  b[0] = 0x53;
  b[1] = r.family;
  b[2] = r.proto;
  b[3] = r.state;
  b[4] = r.flags ?? 0;
  b.writeUInt16LE(r.lport, 6);
  b.writeUInt16LE(r.rport, 8);
  b.writeUInt32LE(r.inode, 12);
  b.writeUInt32LE(r.uid, 16);
  Buffer.from(r.local).copy(b, 20);
  Buffer.from(r.remote).copy(b, 36);
  if (r.counters) {
    b.writeBigUInt64LE(r.counters[0], 52);
    b.writeBigUInt64LE(r.counters[1], 60);
    [r.counters[2], r.counters[3], r.counters[4], r.counters[5]].forEach((v, i) => {
      b.writeUInt32LE(v, 68 + 4 * i);
    });
  }
  return b;
}

function endRecord(
  count: number,
  status: [number, number, number, number] = [0, 0, 0, 0],
  seq = 1,
  version = 1,
  interrupted = 0,
  oneTcpDump = 0,
): Buffer {
  const b = Buffer.alloc(RECORD_SIZE);
  b[0] = 0x45;
  b[1] = version;
  b[2] = interrupted;
  b[3] = oneTcpDump;
  b.writeUInt32LE(count, 4);
  status.forEach((s, i) => {
    b.writeInt32LE(s, 8 + 4 * i);
  });
  b.writeUInt32LE(seq, 24);
  return b;
}

const v6 = (text: number[]) => text; // 16 bytes
const LOOP6 = v6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const MAPPED = v6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]);

const RECORDS: Rec[] = [
  {
    family: 4,
    proto: 6,
    state: 10,
    flags: 7,
    lport: 1883,
    rport: 0,
    inode: 1001,
    uid: 0,
    local: [0, 0, 0, 0],
    remote: [0, 0, 0, 0],
    counters: [0n, 0n, 0, 0, 0, 0],
  },
  // 2^33 + 5 bytes acked: a counter beyond 32 bits
  {
    family: 4,
    proto: 6,
    state: 1,
    flags: 7,
    lport: 40000,
    rport: 1883,
    inode: 1002,
    uid: 1000,
    local: [127, 0, 0, 1],
    remote: [127, 0, 0, 1],
    counters: [2n ** 33n + 5n, 300n, 40, 30, 12, 11],
  },
  {
    family: 6,
    proto: 6,
    state: 1,
    flags: 3,
    lport: 443,
    rport: 50000,
    inode: 1003,
    uid: 0,
    local: LOOP6,
    remote: MAPPED,
    counters: [7n, 8n, 9, 10, 99, 99],
  },
  // inode 0 (not held by a descriptor): listed, but no counters to attribute
  {
    family: 4,
    proto: 6,
    state: 8,
    flags: 7,
    lport: 1,
    rport: 2,
    inode: 0,
    uid: 0,
    local: [10, 0, 0, 1],
    remote: [10, 0, 0, 2],
    counters: [1n, 1n, 1, 1, 1, 1],
  },
  // tcp_info too short for any counter (flags 0): no counters
  { family: 4, proto: 6, state: 1, flags: 0, lport: 3, rport: 4, inode: 1005, uid: 0, local: [10, 0, 0, 1], remote: [10, 0, 0, 3] },
  {
    family: 6,
    proto: 17,
    state: 7,
    lport: 5353,
    rport: 0,
    inode: 1006,
    uid: 0,
    local: v6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2a]),
    remote: v6(Array(16).fill(0)),
  },
];

describe('sockdiag request line', () => {
  it('writes seq in decimal and the state masks in hex; defaults skip SYN_RECV, TIME_WAIT, NEW_SYN_RECV', () => {
    expect(dumpRequest(7)).toBe(`dump 7 ${DEFAULT_TCP_STATES.toString(16)} ffffffff\n`);
    expect(DEFAULT_TCP_STATES & (1 << 6)).toBe(0);
    expect(DEFAULT_TCP_STATES & (1 << 10)).not.toBe(0); // LISTEN
    expect(DEFAULT_TCP_STATES & (1 << 1)).not.toBe(0); // ESTABLISHED
    expect(dumpRequest(0, 1 << 10, ALL_STATES)).toBe('dump 0 400 ffffffff\n');
    expect(() => dumpRequest(-1)).toThrow(/seq: must be an integer/);
    expect(() => dumpRequest(1, 2 ** 32)).toThrow(/tcpStates/);
    expect(dumpRequest(3, 2, 4, 1)).toBe('dump 3 2 4 1\n');
    expect(() => dumpRequest(3, 2, 4, 2)).toThrow(/flags: must be 0 or 1/);
  });
});

describe('sockdiag response decoding', () => {
  const response = Buffer.concat([...RECORDS.map(socketRecord), endRecord(RECORDS.length, [0, 0, 2, 0], 42)]);

  it('decodes sockets, counters (u64 included), per-part status and seq', () => {
    const r = new SockDiagDecoder().decode(response);
    expect(r.seq).toBe(42);
    expect(r.status).toEqual({ tcp4: 0, tcp6: 0, udp4: 2, udp6: 0 });
    expect(r.interrupted).toEqual([]);
    expect(r.tcpOneDump).toBe(false);
    expect(r.sockets).toEqual([
      {
        protocol: 'tcp',
        localAddress: '0.0.0.0',
        localPort: 1883,
        remoteAddress: '0.0.0.0',
        remotePort: 0,
        state: 10,
        uid: 0,
        inode: 1001,
      },
      {
        protocol: 'tcp',
        localAddress: '127.0.0.1',
        localPort: 40000,
        remoteAddress: '127.0.0.1',
        remotePort: 1883,
        state: 1,
        uid: 1000,
        inode: 1002,
      },
      { protocol: 'tcp', localAddress: '::1', localPort: 443, remoteAddress: '10.1.2.3', remotePort: 50000, state: 1, uid: 0, inode: 1003 },
      { protocol: 'tcp', localAddress: '10.0.0.1', localPort: 1, remoteAddress: '10.0.0.2', remotePort: 2, state: 8, uid: 0, inode: 0 },
      { protocol: 'tcp', localAddress: '10.0.0.1', localPort: 3, remoteAddress: '10.0.0.3', remotePort: 4, state: 1, uid: 0, inode: 1005 },
      { protocol: 'udp', localAddress: 'fe80::2a', localPort: 5353, remoteAddress: '::', remotePort: 0, state: 7, uid: 0, inode: 1006 },
    ]);
    expect([...r.tcp.keys()]).toEqual([1001, 1002, 1003]);
    expect(r.tcp.get(1002)).toEqual({
      bytesAcked: 2 ** 33 + 5,
      bytesReceived: 300,
      segsOut: 40,
      segsIn: 30,
      dataSegsOut: 12,
      dataSegsIn: 11,
    });
    // flags 3: bytes and segs, no data_segs (kernel < 4.6) → absent, not 0
    expect(r.tcp.get(1003)).toEqual({ bytesAcked: 7, bytesReceived: 8, segsOut: 9, segsIn: 10 });
  });

  it('assembles a response split at every byte boundary, and a run of one-byte chunks', () => {
    for (let cut = 1; cut < response.length; cut += 7) {
      const a = new ResponseAssembler();
      expect(a.push(response.subarray(0, cut))).toBeUndefined();
      const whole = a.push(response.subarray(cut));
      expect(whole?.equals(response)).toBe(true);
      expect(a.pending).toBe(0);
    }
    const a = new ResponseAssembler();
    let whole: Buffer | undefined;
    for (let i = 0; i < response.length; i++) {
      expect(whole).toBeUndefined();
      whole = a.push(response.subarray(i, i + 1));
    }
    expect(whole?.equals(response)).toBe(true);
    // the next response starts clean
    expect(a.push(endRecord(0))?.length).toBe(RECORD_SIZE);
  });

  it('reports garbage as soon as a record completes, and bytes after the end record', () => {
    const a = new ResponseAssembler();
    expect(() => a.push(Buffer.from('y\n'.repeat(RECORD_SIZE)))).toThrow(SockDiagProtocolError);
    expect(() => a.push(Buffer.from('y\n'.repeat(RECORD_SIZE)))).toThrow(/unknown type 0x79/);
    expect(() => new ResponseAssembler().push(Buffer.concat([endRecord(0), Buffer.alloc(3)]))).toThrow(
      /3 unexpected bytes after the end record/,
    );
  });

  it('rejects a wrong protocol version, a count mismatch, a bad family or protocol', () => {
    const d = new SockDiagDecoder();
    expect(() => d.decode(endRecord(0, [0, 0, 0, 0], 1, 2))).toThrow(/protocol version 2, expected 1/);
    expect(() => d.decode(Buffer.concat([socketRecord(RECORDS[0]!), endRecord(2)]))).toThrow(
      /end record counts 2 sockets, response holds 1/,
    );
    expect(() => d.decode(Buffer.concat([socketRecord({ ...RECORDS[0]!, family: 5 as 4 }), endRecord(1)]))).toThrow(/family 5/);
    expect(() => d.decode(Buffer.concat([socketRecord({ ...RECORDS[0]!, proto: 1 as 6 }), endRecord(1)]))).toThrow(/protocol 1/);
    expect(() => d.decode(Buffer.alloc(RECORD_SIZE + 1))).toThrow(/not a whole number/);
    expect(() => d.decode(socketRecord(RECORDS[0]!))).toThrow(/does not close with an end record/);
  });

  it('names interrupted dumps, and says whether TCP came from one dump', () => {
    expect(new SockDiagDecoder().decode(endRecord(0, [0, 0, 0, 0], 1, 1, 0b1010)).interrupted).toEqual(['tcp6', 'udp6']);
    expect(new SockDiagDecoder().decode(endRecord(0, [0, 0, 0, 0], 1, 1, 0, 1)).tcpOneDump).toBe(true);
  });
});
