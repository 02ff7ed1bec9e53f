// The collector's side of the dedge-sockdiag helper: ONE helper process (helperProcess.ts) serving every
// request the collector makes — `dump` once per sample (a netlink sock_diag dump replaces reading
// /proc/net/{tcp,tcp6,udp,udp6} and spawning `ss`, docs/sockdiag.md), and with `traffic` also `procs`
// (per-process counters kept in the kernel by eBPF, polled every ~100 ms) and `destroyed` (the final
// counters of TCP sockets freed since the last request, in sockdiag mode) — docs/traffic.md.
//
// Failure policy (helperProcess.ts): any failure kills the helper and that request resolves undefined —
// for a dump, the caller uses /proc + ss for that sample; the next request restarts the helper, and a
// helper that keeps failing is backed off. The traffic mode and why eBPF is not in use come with every
// `procs` answer and are logged when they change.
import { constants as osConstants } from 'node:os';
import type { Logger } from '../log.ts';
import { HelperProcess, type HelperStats, SockDiagError } from './helperProcess.ts';
import {
  type DestroyedResponse,
  destroyedRequest,
  dumpRequest,
  procsRequest,
  SockDiagDecoder,
  SockDiagProtocolError,
  type SockDiagResponse,
} from './sockDiagProtocol.ts';
import { decodeTrafficResponse, type TrafficResponse } from './sockDiagTraffic.ts';

export { SockDiagError } from './helperProcess.ts';

export interface SockDiagSourceOptions {
  /** absolute path of the dedge-sockdiag executable */
  helperPath: string;
  logger: Logger;
  /** run the helper inside this named network namespace (ip netns exec), so it dumps that namespace's sockets */
  netns?: string;
  /**
   * Start the helper with --traffic: per-process counters (eBPF) or, where eBPF cannot load, destroyed-socket
   * notifications. 'no-ebpf' adds --no-ebpf (sockdiag mode without trying). Default: false (sockets only).
   */
  traffic?: boolean | 'no-ebpf';
  /** an answer that takes longer than this is a failure (a dump of 10,000 sockets takes milliseconds) */
  requestTimeoutMs?: number;
  maxConsecutiveFailures?: number;
  retryAfterMs?: number;
  maxRetryAfterMs?: number;
}

export interface SockDiagStats extends HelperStats {
  /** dumps answered */
  dumps: number;
}

export interface TrafficReading extends TrafficResponse {
  /** counts helper starts: counters are cumulative within one generation and restart with the next */
  generation: number;
  /** the helper's pid (benchmarks read its CPU time) */
  pid: number;
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));

function checkSeq(got: number, expected: number): void {
  if (got !== expected) throw new SockDiagProtocolError(`answer to request ${got}, expected ${expected}`);
}

export class SockDiagSource {
  private readonly helper: HelperProcess;
  private readonly decoder = new SockDiagDecoder();
  private readonly logger: Logger;
  private lastMode: string | undefined;
  private dumps = 0;

  constructor(options: SockDiagSourceOptions) {
    const { traffic = false, helperPath, logger, netns, ...limits } = options;
    this.logger = logger;
    this.helper = new HelperProcess({
      helperPath,
      logger,
      ...(netns !== undefined ? { netns } : {}),
      ...limits,
      args: traffic === false ? [] : traffic === 'no-ebpf' ? ['--traffic', '--no-ebpf'] : ['--traffic'],
      messages: {
        failed: 'dedge-sockdiag helper failed; this sample reads /proc/net and ss instead, the next restarts it',
        unavailable: 'dedge-sockdiag helper unavailable; collecting sockets from /proc/net and ss until the next attempt',
      },
    });
  }

  /** pid of the running helper, if any (benchmarks read its CPU time from /proc/PID/stat) */
  get pid(): number | undefined {
    return this.helper.pid;
  }

  get stats(): SockDiagStats {
    return { ...this.helper.stats, dumps: this.dumps };
  }

  /** One dump of every TCP and UDP socket with tcp_info, or undefined when the helper is unavailable. */
  async dump(now: number): Promise<SockDiagResponse | undefined> {
    const r = await this.helper.request(
      (seq) => dumpRequest(seq),
      (buf, seq) => {
        const response = this.decoder.decode(buf);
        checkSeq(response.seq, seq);
        // TCP over IPv4 is the core of the dump; the kernel refusing it (e.g. EPROTONOSUPPORT under
        // qemu-user, EPERM under a seccomp policy) means the helper cannot serve. The other parts may be
        // missing (no IPv6; no udp_diag module): the caller reads those from /proc/net instead.
        if (response.status.tcp4 !== 0) throw new SockDiagError(`sock_diag dump refused: ${errnoName(response.status.tcp4)}`);
        return response;
      },
      now,
    );
    if (r) this.dumps++;
    return r;
  }

  /** Every counted process's cumulative counters and the traffic mode, or undefined when the helper is unavailable. */
  async procs(now: number): Promise<TrafficReading | undefined> {
    const r = await this.helper.request(
      (seq) => procsRequest(seq),
      (buf, seq) => {
        const response = decodeTrafficResponse(buf);
        checkSeq(response.seq, seq);
        return response;
      },
      now,
    );
    if (!r) return undefined;
    this.noteMode(r);
    return { ...r, generation: this.helper.generation, pid: this.helper.pid ?? 0 };
  }

  /** TCP sockets freed since the last call, with their final counters (sockdiag mode), or undefined. */
  destroyed(now: number): Promise<DestroyedResponse | undefined> {
    return this.helper.request(
      (seq) => destroyedRequest(seq),
      (buf, seq) => {
        const response = this.decoder.decodeDestroyed(buf);
        checkSeq(response.seq, seq);
        return response;
      },
      now,
    );
  }

  /** The generation of the running helper: a new one restarts every counter it keeps. */
  get generation(): number {
    return this.helper.generation;
  }

  stop(): Promise<void> {
    return this.helper.stop();
  }

  private noteMode(r: TrafficResponse): void {
    const mode = `${r.mode}:${r.reason}`;
    if (mode === this.lastMode) return;
    this.lastMode = mode;
    if (r.mode === 'ebpf') this.logger.info({ mode: r.mode }, 'per-process traffic: eBPF counters in the kernel');
    else
      this.logger.warn(
        { mode: r.mode, error: r.error === 0 ? undefined : errnoName(r.error), reason: r.reason },
        'per-process traffic: eBPF unavailable, sockets sampled with sock_diag',
      );
  }
}

/** "EPROTONOSUPPORT" for 93: the name an operator can look up. */
export function errnoName(n: number): string {
  return ERRNO_NAMES.get(n) ?? `errno ${n}`;
}
