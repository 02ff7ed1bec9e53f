// Per-process traffic counters from the dedge-sockdiag helper started with --traffic (eBPF in the kernel,
// native/ebpf/dedge_traffic.bpf.c): spawns it once (absolute path, argument array, optionally inside a
// network namespace), sends `procs <seq>` per read and decodes the answer (sockDiagTraffic.ts). Cheap
// enough to poll every 100 ms: one lookup-batch system call over the per-process map in the helper and
// one pipe round trip; the work grows with the number of processes that used the network, not sockets.
//
// The mode (ebpf | sockdiag | off) and, when eBPF could not be loaded, the reason come with every reading,
// so the caller can report coverage. In sockdiag mode there are no process records: the caller keeps
// attributing sockets itself from sock_diag dumps (SockDiagSource).
//
// Failure policy, like SockDiagSource: a failure (missing, crashed, silent for requestTimeoutMs, garbled)
// kills the helper and read() returns undefined; the next read starts a new one (whose counters restart
// from zero: the caller must re-baseline, see `generation`). After maxConsecutiveFailures in a row it
// backs off (retryAfterMs, doubling up to maxRetryAfterMs). Logged once per episode.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.ts';
import { validateNetnsName } from '../system/netnsName.ts';
import { errnoName, SockDiagError } from './sockDiagSource.ts';
import { decodeTrafficResponse, HelperResponseAssembler, procsRequest, type TrafficResponse } from './sockDiagTraffic.ts';

export interface TrafficSourceOptions {
  /** absolute path of the dedge-sockdiag executable */
  helperPath: string;
  logger: Logger;
  /** run the helper inside this named network namespace (ip netns exec) */
  netns?: string;
  /** never try eBPF: report sockdiag mode (tests, or a kernel where loading misbehaves) */
  noEbpf?: boolean;
  requestTimeoutMs?: number;
  maxConsecutiveFailures?: number;
  retryAfterMs?: number;
  maxRetryAfterMs?: number;
}

export interface TrafficReading extends TrafficResponse {
  /** counts helper starts: counters are cumulative within one generation and restart with the next */
  generation: number;
  /** the helper's pid (benchmarks read its CPU time) */
  pid: number;
}

export class TrafficSource {
  private readonly o: Required<Omit<TrafficSourceOptions, 'netns'>> & { netns?: string };
  private child: ChildProcess | undefined;
  private readonly assembler = new HelperResponseAssembler();
  private pending: { resolve: (b: Buffer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;
  private stderrTail = '';
  private seq = 0;
  private generation = 0;
  private failures = 0;
  private backoffMs: number;
  private retryAt: number | undefined;
  private warned = false;
  private lastMode: string | undefined;
  private stopped = false;

  constructor(options: TrafficSourceOptions) {
    this.o = {
      noEbpf: false,
      requestTimeoutMs: 5000,
      maxConsecutiveFailures: 3,
      retryAfterMs: 60_000,
      maxRetryAfterMs: 15 * 60_000,
      ...options,
    };
    this.backoffMs = this.o.retryAfterMs;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Every counted process's cumulative counters and the mode, or undefined when the helper is unavailable. */
  async read(now: number = Date.now()): Promise<TrafficReading | undefined> {
    if (this.stopped || this.pending) return undefined; // one read at a time; never queue
    if (this.retryAt !== undefined && now < this.retryAt) return undefined;
    try {
      const r = decodeTrafficResponse(await this.request());
      if (r.seq !== this.seq) throw new SockDiagError(`answer to request ${r.seq}, expected ${this.seq}`);
      this.noteMode(r);
      if (this.failures > 0 || this.warned) this.o.logger.info({ pid: this.child?.pid }, 'dedge-sockdiag traffic helper serving again');
      this.failures = 0;
      this.warned = false;
      this.backoffMs = this.o.retryAfterMs;
      this.retryAt = undefined;
      return { ...r, generation: this.generation, pid: this.child!.pid! };
    } catch (err) {
      this.failed(err as Error, now);
      return undefined;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const child = this.child;
    if (!child) return;
    this.settle()?.reject(new SockDiagError('stopped'));
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin?.end(); // the helper exits when its input ends; its BPF programs go with it
    const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
    await exited;
    clearTimeout(timer);
  }

  private noteMode(r: TrafficResponse): void {
    const mode = `${r.mode}:${r.reason}`;
    if (mode === this.lastMode) return;
    this.lastMode = mode;
    if (r.mode === 'ebpf') this.o.logger.info({ mode: r.mode }, 'per-process traffic: eBPF counters in the kernel');
    else
      this.o.logger.warn(
        { mode: r.mode, error: r.error === 0 ? undefined : errnoName(r.error), reason: r.reason },
        'per-process traffic: eBPF unavailable, sockets sampled with sock_diag',
      );
  }

  private request(): Promise<Buffer> {
    const child = this.child ?? this.start();
    this.seq = (this.seq + 1) >>> 0;
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(
        () => this.failChild(new SockDiagError(`no answer within ${this.o.requestTimeoutMs} ms`)),
        this.o.requestTimeoutMs,
      );
      this.pending = { resolve, reject, timer };
      this.setRef(true);
      child.stdin!.write(procsRequest(this.seq));
    });
  }

  private start(): ChildProcess {
    const file = this.o.helperPath;
    if (!path.isAbsolute(file)) throw new SockDiagError(`helper path must be absolute, got '${file}'`);
    try {
      accessSync(file, fsConstants.X_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new SockDiagError(
        code === 'ENOENT' ? `${file}: not found (npm run build:sockdiag builds it)` : `${file}: not executable (${code})`,
      );
    }
    const args = ['--traffic', ...(this.o.noEbpf ? ['--no-ebpf'] : [])];
    let argv: [string, string[]] = [file, args];
    if (this.o.netns !== undefined) {
      validateNetnsName(this.o.netns);
      argv = ['ip', ['netns', 'exec', this.o.netns, file, ...args]];
    }
    const child = spawn(argv[0], argv[1], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
    });
    this.child = child;
    this.generation++;
    this.stderrTail = '';
    this.assembler.reset();
    child.stdin!.on('error', () => {});
    child.stdout!.on('data', (chunk: Buffer) => {
      if (this.child !== child) return;
      let whole: Buffer | undefined;
      try {
        whole = this.assembler.push(chunk);
      } catch (err) {
        this.failChild(err as Error);
        return;
      }
      if (!whole) return;
      const p = this.settle();
      if (!p) this.failChild(new SockDiagError('answer without a request'));
      else p.resolve(whole);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-1024);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (this.child === child) this.failChild(new SockDiagError(`${file}: cannot start (${err.code ?? err.message})`));
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      const stderr = this.stderrTail.trim().split('\n').pop();
      this.settle()?.reject(
        new SockDiagError(`helper ${signal !== null ? `killed by ${signal}` : `exited with code ${code}`}${stderr ? `: ${stderr}` : ''}`),
      );
    });
    child.unref();
    this.setRef(false);
    return child;
  }

  private setRef(on: boolean): void {
    const child = this.child;
    if (!child) return;
    for (const s of [child.stdin, child.stdout, child.stderr] as Array<{ ref?: () => void; unref?: () => void } | null>) {
      if (on) s?.ref?.();
      else s?.unref?.();
    }
  }

  private settle(): { resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined {
    const p = this.pending;
    if (!p) return undefined;
    clearTimeout(p.timer);
    this.pending = undefined;
    this.setRef(false);
    return p;
  }

  private failChild(err: Error): void {
    const child = this.child;
    this.child = undefined;
    this.assembler.reset();
    this.settle()?.reject(err);
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  private failed(err: Error, now: number): void {
    this.failChild(err);
    this.failures++;
    if (!this.warned) this.o.logger.warn({ reason: err.message }, 'dedge-sockdiag traffic helper failed; the next read restarts it');
    this.warned = true;
    if (this.failures >= this.o.maxConsecutiveFailures) {
      this.retryAt = now + this.backoffMs;
      this.o.logger.warn(
        { reason: err.message, retryInMs: this.backoffMs },
        'dedge-sockdiag traffic helper unavailable until the next attempt',
      );
      this.failures = 0;
      this.backoffMs = Math.min(this.backoffMs * 2, this.o.maxRetryAfterMs);
    }
  }
}
