// Per-process traffic records of the dedge-sockdiag helper (`procs` request, helper started with
// --traffic), decoded on the protocol's one decoder base (sockDiagProtocol.ts): the record layout is
// documented at the top of native/sockdiag/dedge-sockdiag.c, what the counters mean at the top of
// native/ebpf/dedge_traffic.bpf.c. Pure: bytes in, typed data out; malformed output is a
// SockDiagProtocolError, never a guess.
import { checkEnvelope, cString, RECORD, RECORD_SIZE, readU64, SockDiagProtocolError } from './sockDiagProtocol.ts';

const PROC_EXITED = 1;
const PROC_PPID_AT_FORK = 2;

/** Where per-process traffic comes from: the eBPF counters, or (eBPF unavailable) the caller's own
 * per-socket attribution from sock_diag dumps; off when the helper was started without --traffic. */
export const TRAFFIC_MODES = ['off', 'ebpf', 'sockdiag'] as const;
export type TrafficMode = (typeof TRAFFIC_MODES)[number];

export interface ProcessCounters {
  tgid: number;
  /** parent's tgid: recorded at fork when ppidAtFork, else the parent at first sight; 0 = not visible from the helper's pid namespace */
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

/** Decodes one complete `procs` response. */
export function decodeTrafficResponse(buf: Buffer): TrafficResponse {
  const end = checkEnvelope(buf, RECORD.mode, 'processes');
  const mode = TRAFFIC_MODES[buf[end + 2]!];
  if (mode === undefined) throw new SockDiagProtocolError(`unknown traffic mode ${buf[end + 2]}`);
  const count = end / RECORD_SIZE;
  if (mode !== 'ebpf' && count !== 0) throw new SockDiagProtocolError(`${count} process records in ${mode} mode`);
  const processes: ProcessCounters[] = [];
  for (let o = 0; o < end; o += RECORD_SIZE) {
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
