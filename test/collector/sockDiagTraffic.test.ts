// The `procs` response of the helper, decoded from records encoded here by hand after the layout
// documented at the top of native/sockdiag/dedge-sockdiag.c (an independent writer of the same format),
// and the assembler that splits the helper's stdout into responses of either kind.
import { describe, expect, it } from 'vitest';
import { procsRequest, RECORD_SIZE, ResponseAssembler, SockDiagProtocolError } from '../../src/collector/sockDiagProtocol.ts';
import { decodeTrafficResponse } from '../../src/collector/sockDiagTraffic.ts';

interface Proc {
  flags: number;
  tgid: number;
  ppid: number;
  uid: number;
  counters: [bigint, bigint, bigint, bigint];
  comm: string;
  exitComm?: string;
  firstNs: bigint;
}

function procRecord(p: Proc): Buffer {
  const b = Buffer.alloc(RECORD_SIZE);
  b[0] = 0x50;
  b[1] = p.flags;
  b.writeUInt32LE(p.tgid, 4);
  b.writeUInt32LE(p.ppid, 8);
  b.writeUInt32LE(p.uid, 12);
  for (const [i, c] of p.counters.entries()) b.writeBigUInt64LE(c, 16 + 8 * i);
  b.write(p.comm, 48, 16, 'utf8');
  if (p.exitComm !== undefined) b.write(p.exitComm, 64, 16, 'utf8');
  b.writeBigUInt64LE(p.firstNs, 80);
  return b;
}

function modeRecord(m: {
  mode: number;
  count: number;
  errno?: number;
  seq: number;
  lost?: [bigint, bigint];
  reason?: string;
  version?: number;
}): Buffer {
  const b = Buffer.alloc(RECORD_SIZE);
  b[0] = 0x4d;
  b[1] = m.version ?? 1;
  b[2] = m.mode;
  b.writeUInt32LE(m.count, 4);
  b.writeInt32LE(m.errno ?? 0, 8);
  b.writeUInt32LE(m.seq, 12);
  b.writeBigUInt64LE(m.lost?.[0] ?? 0n, 16);
  b.writeBigUInt64LE(m.lost?.[1] ?? 0n, 24);
  if (m.reason) b.write(m.reason, 32, RECORD_SIZE - 32, 'utf8');
  return b;
}

const alive: Proc = {
  flags: 0,
  tgid: 4242,
  ppid: 1,
  uid: 1000,
  counters: [2n ** 40n + 5n, 7n, 3n, 2n],
  comm: 'rogue',
  firstNs: 123456789012345678n,
};
const child: Proc = {
  flags: 3,
  tgid: 4300,
  ppid: 4242,
  uid: 0,
  counters: [2048n, 0n, 5n, 4n],
  comm: 'rogue',
  exitComm: 'curl-exited-now',
  firstNs: 99n,
};

describe('procsRequest', () => {
  it('is one line with the decimal sequence number; rejects what is not a u32', () => {
    expect(procsRequest(7)).toBe('procs 7\n');
    expect(procsRequest(0xffffffff)).toBe('procs 4294967295\n');
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) expect(() => procsRequest(bad)).toThrow(RangeError);
  });
});

describe('decodeTrafficResponse', () => {
  it('decodes process records and the mode record of eBPF mode', () => {
    const r = decodeTrafficResponse(
      Buffer.concat([procRecord(alive), procRecord(child), modeRecord({ mode: 1, count: 2, seq: 9, lost: [3n, 4n] })]),
    );
    expect(r).toEqual({
      seq: 9,
      mode: 'ebpf',
      error: 0,
      reason: '',
      lostProcesses: 3,
      lostSocketSegments: 4,
      processes: [
        {
          tgid: 4242,
          ppid: 1,
          ppidAtFork: false,
          uid: 1000,
          bytesOut: 2 ** 40 + 5,
          bytesIn: 7,
          packetsOut: 3,
          packetsIn: 2,
          comm: 'rogue',
          exited: false,
          firstSeenNs: 123456789012345678n,
        },
        {
          tgid: 4300,
          ppid: 4242,
          ppidAtFork: true,
          uid: 0,
          bytesOut: 2048,
          bytesIn: 0,
          packetsOut: 5,
          packetsIn: 4,
          comm: 'rogue',
          exited: true,
          exitComm: 'curl-exited-now',
          firstSeenNs: 99n,
        },
      ],
    });
  });

  it('a full 16-byte comm has no NUL and is read whole', () => {
    const r = decodeTrafficResponse(
      Buffer.concat([procRecord({ ...alive, comm: 'abcdefghijklmnop' }), modeRecord({ mode: 1, count: 1, seq: 1 })]),
    );
    expect(r.processes[0]!.comm).toBe('abcdefghijklmnop');
  });

  it('reports sockdiag mode with the errno and the reason eBPF failed; off without --traffic', () => {
    expect(
      decodeTrafficResponse(modeRecord({ mode: 2, count: 0, errno: 1, seq: 3, reason: 'load: Operation not permitted' })),
    ).toMatchObject({
      mode: 'sockdiag',
      error: 1,
      reason: 'load: Operation not permitted',
      processes: [],
    });
    expect(decodeTrafficResponse(modeRecord({ mode: 0, count: 0, seq: 4, reason: 'not requested (--traffic)' })).mode).toBe('off');
  });

  it.each([
    ['empty', Buffer.alloc(0), /not a whole number/],
    ['a partial record', Buffer.alloc(RECORD_SIZE + 1), /not a whole number/],
    [
      'no mode record last',
      Buffer.concat([modeRecord({ mode: 1, count: 1, seq: 1 }), procRecord(alive)]),
      /does not close with a mode record/,
    ],
    ['another protocol version', modeRecord({ mode: 1, count: 0, seq: 1, version: 2 }), /protocol version 2/],
    ['an unknown mode', modeRecord({ mode: 7, count: 0, seq: 1 }), /unknown traffic mode 7/],
    [
      'a count that disagrees',
      Buffer.concat([procRecord(alive), modeRecord({ mode: 1, count: 2, seq: 1 })]),
      /counts 2 processes, response holds 1/,
    ],
    [
      'processes outside eBPF mode',
      Buffer.concat([procRecord(alive), modeRecord({ mode: 2, count: 1, seq: 1 })]),
      /1 process records in sockdiag mode/,
    ],
    [
      'a socket record among processes',
      Buffer.concat([Buffer.from([0x53, ...Buffer.alloc(RECORD_SIZE - 1)]), modeRecord({ mode: 1, count: 1, seq: 1 })]),
      /expected a process record/,
    ],
    ['unknown flags', Buffer.concat([procRecord({ ...alive, flags: 4 }), modeRecord({ mode: 1, count: 1, seq: 1 })]), /unknown flags 0x4/],
  ])('rejects %s', (_name, buf, message) => {
    expect(() => decodeTrafficResponse(buf)).toThrow(SockDiagProtocolError);
    expect(() => decodeTrafficResponse(buf)).toThrow(message);
  });
});

describe('ResponseAssembler', () => {
  const procs = Buffer.concat([procRecord(alive), procRecord(child), modeRecord({ mode: 1, count: 2, seq: 1 })]);
  const endRecord = Buffer.alloc(RECORD_SIZE);
  endRecord[0] = 0x45;
  const sockets = Buffer.concat([Buffer.from([0x53, ...Buffer.alloc(RECORD_SIZE - 1)]), endRecord]);

  it('returns each response whole, whatever the chunking, for both kinds of response in turn', () => {
    // One request at a time: a response never shares a chunk with the next one.
    const responses = [procs, sockets, modeRecord({ mode: 1, count: 0, seq: 2 }), endRecord];
    for (const size of [1, 7, RECORD_SIZE - 1, RECORD_SIZE, RECORD_SIZE + 3, procs.length]) {
      const a = new ResponseAssembler();
      for (const response of responses) {
        const out: Buffer[] = [];
        for (let i = 0; i < response.length; i += size) {
          const whole = a.push(response.subarray(i, i + size));
          if (whole) out.push(whole);
        }
        expect(out).toHaveLength(1);
        expect(out[0]!.equals(response)).toBe(true);
        expect(a.pending).toBe(0);
      }
    }
  });

  it('fails at once on garbage, on mixed kinds, and on bytes after the closing record', () => {
    expect(() => new ResponseAssembler().push(Buffer.alloc(RECORD_SIZE, 0x21))).toThrow(/unknown type 0x21/);
    expect(() => new ResponseAssembler().push(Buffer.concat([procRecord(alive), endRecord]))).toThrow(
      /E cannot close a response of P records/,
    );
    expect(() => new ResponseAssembler().push(Buffer.concat([procRecord(alive), sockets]))).toThrow(/S record among P records/);
    expect(() => new ResponseAssembler().push(Buffer.concat([modeRecord({ mode: 1, count: 0, seq: 1 }), Buffer.alloc(3)]))).toThrow(
      /3 unexpected bytes/,
    );
  });
});
