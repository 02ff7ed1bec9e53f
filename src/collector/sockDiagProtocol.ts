// The wire protocol of the dedge-sockdiag helper (native/sockdiag/dedge-sockdiag.c, which documents the
// record layout): a request line on the helper's stdin, fixed-size little-endian records on its stdout,
// the last one closing the response. The one decoder base for every answer: the envelope (whole records,
// closing record, version, count), the assembler that cuts stdout into responses, socket records (`dump`
// and `destroyed`); process and mode records (`procs`) are decoded in sockDiagTraffic.ts on top of it.
// Pure: bytes in, typed data out; malformed output is a SockDiagProtocolError, never a guess.
import ipaddr from 'ipaddr.js';
import type { SocketEntry } from './procNetSockets.ts';
import type { TcpSocketCounters } from './ssTcpInfo.ts';

export const RECORD_SIZE = 88;
export const PROTOCOL_VERSION = 1;

/** Record types (first byte): a response is body records of one kind closed by the matching closing record. */
export const RECORD = {
  socket: 0x53, // 'S'
  end: 0x45, // 'E' closes socket records (dump, destroyed)
  process: 0x50, // 'P'
  mode: 0x4d, // 'M' closes process records (procs)
} as const;
const CLOSES: ReadonlyMap<number, number> = new Map([
  [RECORD.end, RECORD.socket],
  [RECORD.mode, RECORD.process],
]);

const FLAG_BYTES = 1;
const FLAG_SEGS = 2;
const FLAG_DATA_SEGS = 4;

/** The four dumps of one request, in the order of the end record's status fields. */
export const DUMP_PARTS = ['tcp4', 'tcp6', 'udp4', 'udp6'] as const;
export type DumpPart = (typeof DUMP_PARTS)[number];

/**
 * TCP states worth dumping: all but SYN_RECV (3), TIME_WAIT (6) and NEW_SYN_RECV (12). Those are
 * request and timewait mini-sockets: no file descriptor holds them (inode 0), they carry no tcp_info,
 * and no metric uses them (a busy server has thousands in TIME_WAIT).
 */
export const DEFAULT_TCP_STATES = (0xffffffff & ~((1 << 3) | (1 << 6) | (1 << 12))) >>> 0;
export const ALL_STATES = 0xffffffff;

export class SockDiagProtocolError extends Error {
  override name = 'SockDiagProtocolError';
}

export interface SockDiagResponse {
  seq: number;
  /** every socket of the dumps that succeeded (same shape as the /proc/net parser's entries) */
  sockets: SocketEntry[];
  /** tcp_info counters of TCP sockets a file descriptor holds (inode ≠ 0), keyed by inode */
  tcp: Map<number, TcpSocketCounters>;
  /** errno of each dump, 0 when it succeeded */
  status: Record<DumpPart, number>;
  /** dumps the kernel marked as interrupted (the socket table changed while dumping: entries may be missing) */
  interrupted: DumpPart[];
  /** TCP of both families came from one AF_UNSPEC dump (one hash-table walk), not one dump per family */
  tcpOneDump: boolean;
}

/** A TCP socket the kernel freed, with its final tcp_info counters (sockdiag mode, `destroyed` request). */
export interface DestroyedSocket {
  socket: SocketEntry;
  counters: TcpSocketCounters;
}

export interface DestroyedResponse {
  seq: number;
  /** errno of the subscription: 0 = subscribed; ENOPROTOOPT when the helper is not in sockdiag mode */
  error: number;
  /** notifications were lost since the previous request (the helper's receive buffer overflowed) */
  lost: boolean;
  sockets: DestroyedSocket[];
}

/** Request flag: dump TCP per family with sock_diag v2 requests instead of one AF_UNSPEC dump. */
export const FLAG_TCP_PER_FAMILY = 1;

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${name}: must be an integer 0..2^32-1, got ${v}`);
}

/** `dump <seq> <tcp-states> <udp-states> [<flags>]`: the helper's request line (with its newline). */
export function dumpRequest(seq: number, tcpStates = DEFAULT_TCP_STATES, udpStates = ALL_STATES, flags = 0): string {
  checkU32('seq', seq);
  checkU32('tcpStates', tcpStates);
  checkU32('udpStates', udpStates);
  if (flags !== 0 && flags !== FLAG_TCP_PER_FAMILY) throw new RangeError(`flags: must be 0 or ${FLAG_TCP_PER_FAMILY}, got ${flags}`);
  return `dump ${seq} ${tcpStates.toString(16)} ${udpStates.toString(16)}${flags === 0 ? '' : ` ${flags.toString(16)}`}\n`;
}

/** `procs <seq>`: per-process traffic counters (helper started with --traffic). */
export function procsRequest(seq: number): string {
  checkU32('seq', seq);
  return `procs ${seq}\n`;
}

/** `destroyed <seq>`: the TCP sockets freed since the last such request (sockdiag mode). */
export function destroyedRequest(seq: number): string {
  checkU32('seq', seq);
  return `destroyed ${seq}\n`;
}

/**
 * Collects stdout chunks until one whole response has arrived, of either kind: socket records closed by
 * an end record (`dump`, `destroyed`), or process records closed by a mode record (`procs`). Checks each
 * record's type byte as it completes — without joining chunks until the response is whole — so garbage
 * (or a record of the other kind mid-response) fails at once instead of waiting for a timeout.
 */
export class ResponseAssembler {
  private chunks: Buffer[] = [];
  private total = 0;
  /** offset of the next record whose type byte is unchecked, and where that byte sits in `chunks` */
  private checked = 0;
  private chunkIndex = 0;
  private chunkOffset = 0;
  /** the record type allowed before the closing one, fixed by the response's first record */
  private body: number | undefined;

  /** Adds a chunk; returns the complete response when this chunk completed it. */
  push(chunk: Buffer): Buffer | undefined {
    if (chunk.length === 0) return undefined;
    this.chunks.push(chunk);
    this.total += chunk.length;
    while (this.checked + RECORD_SIZE <= this.total) {
      const type = this.byteAtCursor();
      const closes = CLOSES.get(type);
      if (closes !== undefined) {
        if (this.body !== undefined && this.body !== closes)
          throw new SockDiagProtocolError(
            `record at byte ${this.checked}: ${String.fromCharCode(type)} cannot close a response of ${String.fromCharCode(this.body)} records`,
          );
        if (this.checked + RECORD_SIZE !== this.total)
          throw new SockDiagProtocolError(
            `${this.total - this.checked - RECORD_SIZE} unexpected bytes after the ${type === RECORD.end ? 'end' : 'mode'} record`,
          );
        const response = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.total);
        this.reset();
        return response;
      }
      if (type !== RECORD.socket && type !== RECORD.process)
        throw new SockDiagProtocolError(`record at byte ${this.checked}: unknown type 0x${type.toString(16).padStart(2, '0')}`);
      if (this.body === undefined) this.body = type;
      else if (this.body !== type)
        throw new SockDiagProtocolError(
          `record at byte ${this.checked}: ${String.fromCharCode(type)} record among ${String.fromCharCode(this.body)} records`,
        );
      this.checked += RECORD_SIZE;
      this.chunkOffset += RECORD_SIZE;
    }
    return undefined;
  }

  /** Bytes received towards the current response. */
  get pending(): number {
    return this.total;
  }

  reset(): void {
    this.chunks = [];
    this.total = 0;
    this.checked = 0;
    this.chunkIndex = 0;
    this.chunkOffset = 0;
    this.body = undefined;
  }

  private byteAtCursor(): number {
    while (this.chunkOffset >= this.chunks[this.chunkIndex]!.length) {
      this.chunkOffset -= this.chunks[this.chunkIndex]!.length;
      this.chunkIndex++;
    }
    return this.chunks[this.chunkIndex]![this.chunkOffset]!;
  }
}

/**
 * The envelope of one complete response: whole records, closed by `closing`, in our protocol version,
 * with as many body records as the closing record's count (a u32 at byte 4 in both closing kinds).
 * Returns the closing record's offset; every body record's type is checked too.
 */
export function checkEnvelope(buf: Buffer, closing: typeof RECORD.end | typeof RECORD.mode, what: string): number {
  if (buf.length === 0 || buf.length % RECORD_SIZE !== 0)
    throw new SockDiagProtocolError(`response of ${buf.length} bytes is not a whole number of ${RECORD_SIZE}-byte records`);
  const end = buf.length - RECORD_SIZE;
  if (buf[end] !== closing)
    throw new SockDiagProtocolError(`response does not close with ${closing === RECORD.end ? 'an end' : 'a mode'} record`);
  if (buf[end + 1] !== PROTOCOL_VERSION)
    throw new SockDiagProtocolError(`helper speaks protocol version ${buf[end + 1]}, expected ${PROTOCOL_VERSION}`);
  const count = buf.readUInt32LE(end + 4);
  if (count !== end / RECORD_SIZE)
    throw new SockDiagProtocolError(
      `${closing === RECORD.end ? 'end' : 'mode'} record counts ${count} ${what}, response holds ${end / RECORD_SIZE}`,
    );
  const body = CLOSES.get(closing)!;
  for (let o = 0; o < end; o += RECORD_SIZE) {
    const type = buf[o]!;
    if (type === body) continue;
    const hex = `0x${type.toString(16).padStart(2, '0')}`;
    const known = type === RECORD.socket || type === RECORD.process;
    const expected = body === RECORD.socket ? 'a socket record' : 'a process record';
    throw new SockDiagProtocolError(`record at byte ${o}: ${known ? `type ${hex}, expected ${expected}` : `unknown type ${hex}`}`);
  }
  return end;
}

/** u64 little-endian as a number: byte and packet counters stay far below 2^53 (8 PiB). */
export function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + 4) * 0x1_0000_0000 + buf.readUInt32LE(at);
}

/** NUL-padded text of at most `len` bytes, as UTF-8 (how /proc/PID/comm reads). */
export function cString(buf: Buffer, at: number, len: number): string {
  const nul = buf.indexOf(0, at);
  return buf.toString('utf8', at, nul === -1 || nul > at + len ? at + len : nul);
}

const CACHE_LIMIT = 20_000;

/**
 * Turns socket responses (`dump`, `destroyed`) into sockets and counters. Keeps the text form of
 * addresses it has seen (they repeat on every sample); the caches are per decoder and bounded.
 */
export class SockDiagDecoder {
  private readonly v4 = new Map<number, string>();
  private readonly v6 = new Map<string, string>();

  /** One `dump` answer: sockets, and tcp_info counters of the TCP sockets a file holds (by inode). */
  decode(buf: Buffer): SockDiagResponse {
    const end = checkEnvelope(buf, RECORD.end, 'sockets');
    const status = {} as Record<DumpPart, number>;
    DUMP_PARTS.forEach((part, i) => {
      status[part] = buf.readInt32LE(end + 8 + 4 * i);
    });
    const interruptedMask = buf[end + 2]!;
    const interrupted = DUMP_PARTS.filter((_, i) => (interruptedMask & (1 << i)) !== 0);
    const sockets: SocketEntry[] = [];
    const tcp = new Map<number, TcpSocketCounters>();
    for (let o = 0; o < end; o += RECORD_SIZE) {
      const entry = this.socket(buf, o);
      sockets.push(entry);
      const counters = entry.protocol === 'tcp' && entry.inode !== 0 ? tcpCounters(buf, o) : undefined;
      if (counters) tcp.set(entry.inode, counters);
    }
    return { seq: buf.readUInt32LE(end + 24), sockets, tcp, status, interrupted, tcpOneDump: buf[end + 3] === 1 };
  }

  /**
   * One `destroyed` answer: socket records (inode and uid 0: no file holds a socket being freed) then an
   * end record whose status[0] is the subscription's errno and status[1] ENOBUFS when notifications were
   * lost. The caller matches each socket to one of an earlier dump by protocol, addresses and ports.
   */
  decodeDestroyed(buf: Buffer): DestroyedResponse {
    const end = checkEnvelope(buf, RECORD.end, 'sockets');
    const sockets: DestroyedSocket[] = [];
    for (let o = 0; o < end; o += RECORD_SIZE) {
      const socket = this.socket(buf, o);
      sockets.push({ socket, counters: tcpCounters(buf, o) ?? { bytesAcked: 0, bytesReceived: 0, segsOut: 0, segsIn: 0 } });
    }
    return { seq: buf.readUInt32LE(end + 24), error: buf.readInt32LE(end + 8), lost: buf.readInt32LE(end + 12) !== 0, sockets };
  }

  private socket(buf: Buffer, o: number): SocketEntry {
    const family = buf[o + 1];
    const proto = buf[o + 2];
    if (family !== 4 && family !== 6) throw new SockDiagProtocolError(`record at byte ${o}: family ${family}, expected 4 or 6`);
    if (proto !== 6 && proto !== 17) throw new SockDiagProtocolError(`record at byte ${o}: protocol ${proto}, expected 6 or 17`);
    return {
      protocol: proto === 6 ? 'tcp' : 'udp',
      localAddress: family === 4 ? this.ipv4(buf, o + 20) : this.ipv6(buf, o + 20),
      localPort: buf.readUInt16LE(o + 6),
      remoteAddress: family === 4 ? this.ipv4(buf, o + 36) : this.ipv6(buf, o + 36),
      remotePort: buf.readUInt16LE(o + 8),
      state: buf[o + 3]!,
      uid: buf.readUInt32LE(o + 16),
      inode: buf.readUInt32LE(o + 12),
    };
  }

  private ipv4(buf: Buffer, at: number): string {
    const key = buf.readUInt32BE(at);
    let text = this.v4.get(key);
    if (text === undefined) {
      text = `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
      if (this.v4.size >= CACHE_LIMIT) this.v4.clear();
      this.v4.set(key, text);
    }
    return text;
  }

  /** RFC 5952 text; an IPv4-mapped address (a dual-stack socket talking IPv4) as plain IPv4, like procNetSockets.ts. */
  private ipv6(buf: Buffer, at: number): string {
    const key = buf.toString('latin1', at, at + 16);
    let text = this.v6.get(key);
    if (text === undefined) {
      const addr = ipaddr.fromByteArray([...buf.subarray(at, at + 16)]) as ipaddr.IPv6;
      text = addr.isIPv4MappedAddress() ? addr.toIPv4Address().toString() : addr.toString();
      if (this.v6.size >= CACHE_LIMIT) this.v6.clear();
      this.v6.set(key, text);
    }
    return text;
  }
}

/** The tcp_info counters of a TCP socket record, or undefined when the kernel gave none (flag bit clear, or UDP). */
function tcpCounters(buf: Buffer, o: number): TcpSocketCounters | undefined {
  const flags = buf[o + 4]!;
  if (buf[o + 2] !== 6 || (flags & FLAG_BYTES) === 0) return undefined;
  const c: TcpSocketCounters = {
    bytesAcked: readU64(buf, o + 52),
    bytesReceived: readU64(buf, o + 60),
    segsOut: (flags & FLAG_SEGS) !== 0 ? buf.readUInt32LE(o + 68) : 0,
    segsIn: (flags & FLAG_SEGS) !== 0 ? buf.readUInt32LE(o + 72) : 0,
  };
  if ((flags & FLAG_DATA_SEGS) !== 0) {
    c.dataSegsOut = buf.readUInt32LE(o + 76);
    c.dataSegsIn = buf.readUInt32LE(o + 80);
  }
  return c;
}
