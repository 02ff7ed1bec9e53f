// The dedge-sockdiag helper for tests: the development build (compiled on first use, cached by source
// hash, scripts/buildSockDiag.ts) and a raw driver that speaks its protocol line by line.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { buildSockDiag, type SockDiagArch } from '../../scripts/buildSockDiag.ts';
import { ResponseAssembler } from '../../src/collector/sockDiagProtocol.ts';

export const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);

export async function ensureHelper(arch: SockDiagArch = process.arch as SockDiagArch): Promise<string> {
  return (await buildSockDiag({ root: ROOT, arch })).path;
}

/** Runs `file args…` and exchanges request lines for whole responses. */
export class RawHelper {
  readonly child: ChildProcess;
  private readonly assembler = new ResponseAssembler();
  private waiter: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;

  constructor(file: string, args: string[] = []) {
    this.child = spawn(file, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdout!.on('data', (chunk: Buffer) => {
      try {
        const whole = this.assembler.push(chunk);
        if (whole) {
          const w = this.waiter;
          this.waiter = undefined;
          w?.resolve(whole);
        }
      } catch (err) {
        this.waiter?.reject(err as Error);
      }
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => this.waiter?.reject(new Error('helper exited before answering')));
  }

  request(line: string, timeoutMs = 20_000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(line)} within ${timeoutMs} ms`)), timeoutMs);
      this.waiter = {
        resolve: (b) => {
          clearTimeout(timer);
          resolve(b);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.child.stdin!.write(line);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(timer);
  }
}
