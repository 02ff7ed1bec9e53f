// Per-process traffic records of the dedge-sockdiag helper (`procs` request, helper started with
// --traffic): the record layout is documented at the top of native/sockdiag/dedge-sockdiag.c, what the
// counters mean at the top of native/ebpf/dedge_traffic.bpf.c. Pure: bytes in, typed data out; malformed
// output is a SockDiagProtocolError, never a guess.
import type { SocketEntry } from './procNetSockets.ts';
import { PROTOCOL_VERSION, RECORD_SIZE, SockDiagDecoder, SockDiagProtocolError } from './sockDiagProtocol.ts';
import type { TcpSocketCounters } from './ssTcpInfo.ts';

const TYPE_SOCKET = 0x53; // 'S'
const TYPE_END = 0x45; // 'E'
const TYPE_PROCESS = 0x50; // 'P'
const TYPE_MODE = 0x4d; // 'M'
const PROC_EXITED = 1;
const PROC_PPID_AT_FORK = 2;

/** Where per-process traffic comes from: the eBPF counters, or (eBPF unavailable) the caller's own
 * per-socket attribution from sock_diag dumps; off when the helper was started without --traffic. */
export const TRAFFIC_MODES = ['off', 'ebpf', 'sockdiag'] as const;
export type TrafficMode = (typeof TRAFFIC_MODES)[number];

export interface ProcessCounters {
  tgid: number;
  /** parent's tgid: recorded at fork when ppidAtFork, else the parent at first sight */
  ppid: number;
  ppidAtFork: boolean;
  /** real uid of the thread first counted */
  uid: number;
  /** cumulative since firstSeenNs */
  bytesOut: number;
  bytesIn: number;
  packetsOut: number;
  packetsIn: number;
  /** comm at first sight */
  comm: string;
  /** the whole thread group exited; this is its last record (the helper forgets it now) */
  exited: boolean;
  /** comm at exit, when exited */
  exitComm?: string;
  /** CLOCK_MONOTONIC ns when first counted: with tgid, identifies the process (a tgid can be reused) */
  firstSeenNs: bigint;
}

export interface TrafficResponse {
  seq: number;
  mode: TrafficMode;
  /** errno: why eBPF failed (mode sockdiag), or of this read (mode ebpf; processes may be incomplete) */
  error: number;
  /** why eBPF is not in use, '' in ebpf mode */
  reason: string;
  processes: ProcessCounters[];
  /** processes whose traffic could not be recorded because the kernel map was full (cumulative) */
  lostProcesses: number;
  /** TCP sockets whose segment counts were lost (cumulative) */
  lostSocketSegments: number;
}

/** `procs <seq>`: the helper's request line (with its newline). */
export function procsRequest(seq: number): string {
  if (!Number.isInteger(seq) || seq < 0 || seq > 0xffffffff) throw new RangeError(`seq: must be an integer 0..2^32-1, got ${seq}`);
  return `procs ${seq}\n`;
}

/**
 * Collects stdout chunks until one whole response has arrived, for either request: socket records closed
 * by an end record (`dump`), or process records closed by a mode record (`procs`). Checks each record's
 * type as it completes, so garbage (or a record of the other kind mid-response) fails at once.
 */
export class HelperResponseAssembler {
  private chunks: Buffer[] = [];
  private total = 0;
  private checked = 0;
  /** the record type allowed before the closing one, fixed by the response's first record */
  private body: number | undefined;

  push(chunk: Buffer): Buffer | undefined {
    if (chunk.length === 0) return undefined;
    this.chunks.push(chunk);
    this.total += chunk.length;
    if (this.total - this.checked < RECORD_SIZE) return undefined;
    const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.total);
    this.chunks = [buf];
    while (this.checked + RECORD_SIZE <= this.total) {
      const type = buf[this.checked]!;
      const closing = type === TYPE_END ? TYPE_SOCKET : type === TYPE_MODE ? TYPE_PROCESS : undefined;
      if (closing !== undefined) {
        if (this.body !== undefined && this.body !== closing)
          throw new SockDiagProtocolError(
            `record at byte ${this.checked}: ${String.fromCharCode(type)} cannot close a response of ${String.fromCharCode(this.body)} records`,
          );
        if (this.checked + RECORD_SIZE !== this.total)
          throw new SockDiagProtocolError(`${this.total - this.checked - RECORD_SIZE} unexpected bytes after the last record`);
        this.reset();
        return buf;
      }
      if (type !== TYPE_SOCKET && type !== TYPE_PROCESS)
        throw new SockDiagProtocolError(`record at byte ${this.checked}: unknown type 0x${type.toString(16).padStart(2, '0')}`);
      if (this.body === undefined) this.body = type;
      else if (this.body !== type)
        throw new SockDiagProtocolError(
          `record at byte ${this.checked}: ${String.fromCharCode(type)} record among ${String.fromCharCode(this.body)} records`,
        );
      this.checked += RECORD_SIZE;
    }
    return undefined;
  }

  get pending(): number {
    return this.total;
  }

  reset(): void {
    this.chunks = [];
    this.total = 0;
    this.checked = 0;
    this.body = undefined;
  }
}

/** Decodes one complete `procs` response. */
export function decodeTrafficResponse(buf: Buffer): TrafficResponse {
  if (buf.length === 0 || buf.length % RECORD_SIZE !== 0)
    throw new SockDiagProtocolError(`response of ${buf.length} bytes is not a whole number of ${RECORD_SIZE}-byte records`);
  const end = buf.length - RECORD_SIZE;
  if (buf[end] !== TYPE_MODE) throw new SockDiagProtocolError('response does not close with a mode record');
  if (buf[end + 1] !== PROTOCOL_VERSION)
    throw new SockDiagProtocolError(`helper speaks protocol version ${buf[end + 1]}, expected ${PROTOCOL_VERSION}`);
  const mode = TRAFFIC_MODES[buf[end + 2]!];
  if (mode === undefined) throw new SockDiagProtocolError(`unknown traffic mode ${buf[end + 2]}`);
  const count = buf.readUInt32LE(end + 4);
  if (count !== end / RECORD_SIZE)
    throw new SockDiagProtocolError(`mode record counts ${count} processes, response holds ${end / RECORD_SIZE}`);
  if (mode !== 'ebpf' && count !== 0) throw new SockDiagProtocolError(`${count} process records in ${mode} mode`);
  const processes: ProcessCounters[] = [];
  for (let o = 0; o < end; o += RECORD_SIZE) {
    if (buf[o] !== TYPE_PROCESS)
      throw new SockDiagProtocolError(`record at byte ${o}: type 0x${buf[o]!.toString(16)}, expected a process record`);
    const flags = buf[o + 1]!;
    if ((flags & ~(PROC_EXITED | PROC_PPID_AT_FORK)) !== 0)
      throw new SockDiagProtocolError(`record at byte ${o}: unknown flags 0x${flags.toString(16)}`);
    const p: ProcessCounters = {
      tgid: buf.readUInt32LE(o + 4),
      ppid: buf.readUInt32LE(o + 8),
      ppidAtFork: (flags & PROC_PPID_AT_FORK) !== 0,
      uid: buf.readUInt32LE(o + 12),
      bytesOut: readU64(buf, o + 16),
      bytesIn: readU64(buf, o + 24),
      packetsOut: readU64(buf, o + 32),
      packetsIn: readU64(buf, o + 40),
      comm: cString(buf, o + 48, 16),
      exited: (flags & PROC_EXITED) !== 0,
      firstSeenNs: buf.readBigUInt64LE(o + 80),
    };
    if (p.exited) p.exitComm = cString(buf, o + 64, 16);
    processes.push(p);
  }
  return {
    seq: buf.readUInt32LE(end + 12),
    mode,
    error: buf.readInt32LE(end + 8),
    reason: cString(buf, end + 32, RECORD_SIZE - 32),
    processes,
    lostProcesses: readU64(buf, end + 16),
    lostSocketSegments: readU64(buf, end + 24),
  };
}

/** Text up to the first NUL, as UTF-8 (how /proc/PID/comm reads). */
function cString(buf: Buffer, at: number, len: number): string {
  const nul = buf.indexOf(0, at);
  return buf.toString('utf8', at, nul === -1 || nul > at + len ? at + len : nul);
}

/** u64 little-endian as a number: byte counters stay far below 2^53 (8 PiB). */
function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + 4) * 0x1_0000_0000 + buf.readUInt32LE(at);
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

/** `destroyed <seq>`: the helper's request line (with its newline). */
export function destroyedRequest(seq: number): string {
  return procsRequest(seq).replace('procs', 'destroyed');
}

const FLAG_BYTES = 1;
const FLAG_SEGS = 2;
const FLAG_DATA_SEGS = 4;

/**
 * Decodes one `destroyed` response: socket records (inode and uid 0: no file holds a socket being freed)
 * then an end record. The caller matches each to the socket of an earlier dump by protocol, addresses and
 * ports (unique among live TCP sockets) to find its owner, and counts what the socket did after that dump.
 */
export function decodeDestroyedResponse(buf: Buffer, decoder = new SockDiagDecoder()): DestroyedResponse {
  const r = decoder.decode(buf);
  const sockets: DestroyedSocket[] = r.sockets.map((socket, i) => {
    const o = i * RECORD_SIZE;
    const flags = buf[o + 4]!;
    const counters: TcpSocketCounters = {
      bytesAcked: (flags & FLAG_BYTES) !== 0 ? readU64(buf, o + 52) : 0,
      bytesReceived: (flags & FLAG_BYTES) !== 0 ? readU64(buf, o + 60) : 0,
      segsOut: (flags & FLAG_SEGS) !== 0 ? buf.readUInt32LE(o + 68) : 0,
      segsIn: (flags & FLAG_SEGS) !== 0 ? buf.readUInt32LE(o + 72) : 0,
    };
    if ((flags & FLAG_DATA_SEGS) !== 0) {
      counters.dataSegsOut = buf.readUInt32LE(o + 76);
      counters.dataSegsIn = buf.readUInt32LE(o + 80);
    }
    return { socket, counters };
  });
  return { seq: r.seq, error: r.status.tcp4, lost: r.status.tcp6 !== 0, sockets };
}
