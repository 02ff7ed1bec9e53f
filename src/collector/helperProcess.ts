// The one manager of the dedge-sockdiag helper process: spawns it (absolute path, argument array,
// optionally inside a network namespace), sends request lines on its stdin, cuts its stdout into whole
// responses (sockDiagProtocol.ts ResponseAssembler) and hands each to the caller's decoder. Requests are
// answered in order, one at a time (the helper is single-threaded); a few may wait, more are refused.
//
// Failure policy: any failure (helper missing, not executable, crashed, timed out, garbled output, or the
// caller's decoder refusing the answer) kills the helper and the request resolves undefined; the next
// request restarts it. After `maxConsecutiveFailures` failures in a row the helper backs off (retryAfterMs,
// doubling up to maxRetryAfterMs) and requests resolve undefined until then. Logged once per episode
// (warn), with recovery at info. `generation` counts starts: a new helper's counters start from zero.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.ts';
import { validateNetnsName } from '../system/netnsName.ts';
import { ResponseAssembler } from './sockDiagProtocol.ts';

export interface HelperProcessOptions {
  /** absolute path of the dedge-sockdiag executable */
  helperPath: string;
  args: readonly string[];
  logger: Logger;
  /** run the helper inside this named network namespace (ip netns exec) */
  netns?: string;
  /** an answer that takes longer than this is a failure (a dump of 10,000 sockets takes milliseconds) */
  requestTimeoutMs?: number;
  maxConsecutiveFailures?: number;
  retryAfterMs?: number;
  maxRetryAfterMs?: number;
  /** log lines for the first failure of an episode and for giving up (they say what the caller falls back to) */
  messages?: { failed: string; unavailable: string };
}

export interface HelperStats {
  spawns: number;
  /** answers decoded */
  answers: number;
  failures: number;
  /** backing off until this time (ms since the epoch, the caller's clock); undefined = available */
  retryAt?: number;
  lastError?: string;
}

/** A failure of the helper, with a one-line reason. */
export class SockDiagError extends Error {
  override name = 'SockDiagError';
}

interface Pending {
  resolve: (buf: Buffer) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const STDERR_TAIL = 1024;
const IDLE_EXIT_WARN_MS = 10 * 60_000;
/** requests that may wait behind the one in flight (a 1 s sample and a 100 ms poll meet at most a few) */
const MAX_WAITING = 4;

export class HelperProcess {
  private readonly o: Required<Omit<HelperProcessOptions, 'netns'>> & { netns?: string };
  private child: ChildProcess | undefined;
  private readonly assembler = new ResponseAssembler();
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private waiting = 0;
  private stderrTail = '';
  private seq = 0;
  private starts = 0;
  private consecutiveFailures = 0;
  private backoffMs: number;
  private gaveUpLogged = false;
  private lastIdleExitWarnAt: number | undefined;
  private lastNow = 0;
  private stopped = false;
  readonly stats: HelperStats = { spawns: 0, answers: 0, failures: 0 };

  constructor(options: HelperProcessOptions) {
    this.o = {
      requestTimeoutMs: 5000,
      maxConsecutiveFailures: 3,
      retryAfterMs: 60_000,
      maxRetryAfterMs: 15 * 60_000,
      messages: { failed: 'dedge-sockdiag helper failed; the next request restarts it', unavailable: 'dedge-sockdiag helper unavailable' },
      ...options,
    };
    this.backoffMs = this.o.retryAfterMs;
  }

  /** pid of the running helper (benchmarks read its CPU time from /proc/PID/stat) */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** how many times the helper was started: counters it keeps restart with each start */
  get generation(): number {
    return this.starts;
  }

  /**
   * One request: `line(seq)` is written, the answer goes through `decode` (which throws on an answer it
   * cannot trust). Resolves undefined when the helper is unavailable, stopped, too busy, or failed.
   */
  request<T>(line: (seq: number) => string, decode: (buf: Buffer, seq: number) => T, now: number): Promise<T | undefined> {
    if (this.stopped || this.waiting >= MAX_WAITING) return Promise.resolve(undefined);
    this.waiting++;
    const run = async (): Promise<T | undefined> => {
      this.waiting--;
      if (this.stopped) return undefined;
      this.lastNow = now;
      if (this.stats.retryAt !== undefined && now < this.stats.retryAt) return undefined;
      let seq = 0;
      try {
        seq = this.seq = (this.seq + 1) >>> 0;
        const value = decode(await this.exchange(line(seq)), seq);
        this.succeeded();
        return value;
      } catch (err) {
        this.failed(err, now);
        return undefined;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result;
    return result;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const child = this.child;
    if (!child) return;
    this.rejectPending(new SockDiagError('stopped'));
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // The helper exits by itself when its stdin ends (its BPF programs go with it); a stuck one is killed.
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
    await exited;
    clearTimeout(timer);
  }

  private exchange(line: string): Promise<Buffer> {
    const child = this.child ?? this.start();
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(
        () => this.failChild(new SockDiagError(`no answer within ${this.o.requestTimeoutMs} ms`)),
        this.o.requestTimeoutMs,
      );
      this.pending = { resolve, reject, timer };
      this.setRef(true);
      child.stdin!.write(line);
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
    let argv: [string, string[]] = [file, [...this.o.args]];
    if (this.o.netns !== undefined) {
      validateNetnsName(this.o.netns);
      argv = ['ip', ['netns', 'exec', this.o.netns, file, ...this.o.args]];
    }
    // The helper needs no environment; PATH only so that `ip` is found for a namespace.
    const child = spawn(argv[0], argv[1], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
    });
    this.stats.spawns++;
    this.starts++;
    this.child = child;
    this.o.logger.debug({ pid: child.pid, path: file, args: this.o.args, netns: this.o.netns }, 'dedge-sockdiag helper started');
    this.stderrTail = '';
    this.assembler.reset();
    child.stdin!.on('error', () => {}); // EPIPE when it died: the exit handler reports it
    child.stdout!.on('data', (chunk: Buffer) => {
      if (this.child !== child) return;
      let complete: Buffer | undefined;
      try {
        complete = this.assembler.push(chunk);
      } catch (err) {
        this.failChild(err as Error);
        return;
      }
      if (!complete) return;
      const p = this.pending;
      if (!p) {
        this.failChild(new SockDiagError('answer without a request'));
        return;
      }
      this.settle();
      p.resolve(complete);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (this.child === child) this.failChild(new SockDiagError(`${file}: cannot start (${err.code ?? err.message})`));
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      const why = signal !== null ? `killed by ${signal}` : `exited with code ${code}`;
      const stderr = this.stderrTail.trim().split('\n').pop();
      const err = new SockDiagError(`helper ${why}${stderr ? `: ${stderr}` : ''}`);
      if (this.pending) this.rejectPending(err);
      else if (!this.stopped) this.noteIdleExit(err);
    });
    // Never keep the agent alive for the helper's sake: its pipes hold the event loop only while a
    // request is in flight (the helper exits on its own when our end of stdin closes).
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

  private settle(): void {
    if (!this.pending) return;
    clearTimeout(this.pending.timer);
    this.pending = undefined;
    this.setRef(false);
  }

  private rejectPending(err: Error): void {
    const p = this.pending;
    this.settle();
    p?.reject(err);
  }

  /** The helper cannot be trusted any more: fail the request in flight and kill it. */
  private failChild(err: Error): void {
    const child = this.child;
    this.child = undefined;
    this.assembler.reset();
    this.rejectPending(err);
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  private noteIdleExit(err: Error): void {
    // Died between requests: restarted by the next one, which resets the failure streak if it works,
    // so a helper that keeps dying is warned about at most every IDLE_EXIT_WARN_MS.
    this.stats.failures++;
    this.stats.lastError = err.message;
    this.consecutiveFailures++;
    const quiet = this.lastIdleExitWarnAt !== undefined && this.lastNow - this.lastIdleExitWarnAt < IDLE_EXIT_WARN_MS;
    if (quiet) {
      this.o.logger.debug({ err }, 'dedge-sockdiag helper died again; restarting it at the next sample');
    } else {
      this.lastIdleExitWarnAt = this.lastNow;
      this.o.logger.warn({ err }, 'dedge-sockdiag helper died; restarting it at the next sample');
    }
  }

  private succeeded(): void {
    this.stats.answers++;
    if (this.consecutiveFailures > 0 || this.gaveUpLogged) {
      this.o.logger.info({ pid: this.child?.pid }, 'dedge-sockdiag helper serving again');
    }
    this.consecutiveFailures = 0;
    this.backoffMs = this.o.retryAfterMs;
    this.gaveUpLogged = false;
    delete this.stats.retryAt;
  }

  private failed(err: unknown, now: number): void {
    const reason = err instanceof Error ? err.message : String(err);
    this.failChild(err instanceof Error ? err : new SockDiagError(reason));
    this.stats.failures++;
    this.stats.lastError = reason;
    this.consecutiveFailures++;
    if (this.consecutiveFailures === 1) this.o.logger.warn({ err }, this.o.messages.failed);
    if (this.consecutiveFailures >= this.o.maxConsecutiveFailures) {
      this.stats.retryAt = now + this.backoffMs;
      const log = { err, failures: this.consecutiveFailures, retryInMs: this.backoffMs };
      if (!this.gaveUpLogged) this.o.logger.warn(log, this.o.messages.unavailable);
      else this.o.logger.debug(log, 'dedge-sockdiag helper still unavailable');
      this.gaveUpLogged = true;
      this.consecutiveFailures = 0;
      this.backoffMs = Math.min(this.backoffMs * 2, this.o.maxRetryAfterMs);
    }
  }
}
