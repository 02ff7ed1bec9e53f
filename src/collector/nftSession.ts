// One long-lived `nft -j -i` process for reading the downstream accounting table: nft reads one command per
// line on stdin and answers each with one JSON line on stdout (errors go to stderr, with no stdout line),
// and every `list` is a fresh netlink dump, so counters are current. Compared with starting `nft -j list
// table` for every reading this saves a process start, the dynamic linking of libnftables and its JSON
// setup — about a third of the CPU of a reading (bench/footprint.bench.ts). Started on first use (inside the
// namespace when one is given), restarted after it exits or hangs, closed by close().
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { CommandError, resolveProgram } from '../system/commandRunner.ts';
import { validateNetnsName } from '../system/netnsName.ts';

export interface NftSessionOptions {
  netns?: string;
  /** a command not answered within this long kills the process (default 5000 ms) */
  timeoutMs?: number;
}

interface Pending {
  resolve: (line: string) => void;
  reject: (err: CommandError) => void;
  timer: NodeJS.Timeout;
}

export class NftSession {
  private readonly o: NftSessionOptions;
  private child: ChildProcessWithoutNullStreams | undefined;
  private stdout = '';
  private pending: Pending | undefined;
  /** requests run one at a time */
  private queue: Promise<unknown> = Promise.resolve();
  /** answers received since the process started: an nft without interactive mode exits before the first */
  private answered = 0;
  private closed = false;

  constructor(options: NftSessionOptions = {}) {
    if (options.netns !== undefined) validateNetnsName(options.netns);
    this.o = options;
  }

  /**
   * One command (`list table inet NAME`); resolves with its JSON line. Rejects with a CommandError when nft
   * reports an error (the first stderr line), exits, or does not answer in time. `unsupported` on the error
   * says the process ended before it ever answered (an nft built without interactive mode).
   */
  request(command: string): Promise<string> {
    if (/[\n\r]/.test(command)) return Promise.reject(new CommandError('failed', 'nft: a command is one line'));
    const run = this.queue.then(() => this.send(command));
    // settled without its value: the last answer (the whole table as JSON) is not kept alive by the queue
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** True when the last process ended before answering anything: use one process per reading instead. */
  get unsupported(): boolean {
    return this.child === undefined && this.exitedUnanswered;
  }

  private exitedUnanswered = false;

  private start(): ChildProcessWithoutNullStreams {
    const [file, args] =
      this.o.netns === undefined
        ? [resolveProgram('nft'), ['-j', '-i']]
        : [resolveProgram('ip'), ['netns', 'exec', this.o.netns, resolveProgram('nft'), '-j', '-i']];
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    this.answered = 0;
    this.stdout = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdin.on('error', () => {}); // EPIPE when it exits between two commands: the exit handler reports it
    child.stdout.on('data', (chunk: string) => {
      this.stdout += chunk;
      let nl = this.stdout.indexOf('\n');
      while (nl >= 0) {
        const line = this.stdout.slice(0, nl);
        this.stdout = this.stdout.slice(nl + 1);
        if (line.trim() !== '') this.settle(undefined, line);
        nl = this.stdout.indexOf('\n');
      }
    });
    // nft's error report is several lines ("<cmdline>:1:1-24: Error: Could not process rule: No such file or
    // directory", then the command and a caret line) and may arrive in pieces: the request fails on the first
    // whole line that says Error:, the context lines after it are not a new error.
    let stderr = '';
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      let nl = stderr.indexOf('\n');
      while (nl >= 0) {
        const line = stderr.slice(0, nl).trim();
        stderr = stderr.slice(nl + 1);
        if (/\bError:/.test(line)) {
          const kind = /permission denied|operation not permitted/i.test(line) ? 'permission' : 'failed';
          this.settle(new CommandError(kind, `nft: ${line}`, line));
        }
        nl = stderr.indexOf('\n');
      }
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      this.child = undefined;
      this.exitedUnanswered = this.answered === 0;
      this.settle(new CommandError(err.code === 'ENOENT' ? 'not-found' : 'failed', `nft: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      this.exitedUnanswered = this.answered === 0;
      this.settle(new CommandError('failed', `nft: exited (${signal ?? `code ${code}`})`));
    });
    return child;
  }

  private settle(err: CommandError | undefined, line?: string): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else {
      this.answered++;
      p.resolve(line!);
    }
  }

  private send(command: string): Promise<string> {
    if (this.closed) return Promise.reject(new CommandError('failed', 'nft: session closed'));
    this.child ??= this.start();
    const child = this.child;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(new CommandError('timeout', 'nft: timed out'));
        child.kill('SIGKILL');
      }, this.o.timeoutMs ?? 5000);
      this.pending = { resolve, reject, timer };
      child.stdin.write(`${command}\n`);
    });
  }

  /** Ends the process (stdin closed, then SIGKILL if it lingers); later requests fail. */
  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
    await exited;
    clearTimeout(timer);
  }
}
