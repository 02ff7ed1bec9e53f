// Shared helpers for the IPC integration tests (not a test file itself).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventstream_rpc, greengrasscoreipc } from 'aws-iot-device-sdk-v2';
import { sdkClientConfig } from '../../src/ipc/sdkClientConfig.ts';

/** A fresh short temp dir (socket paths must stay under 108 bytes). */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'dedge-ipc-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The real SDK client, as a component would create it. */
export function sdkClient(socketPath: string, token: string | undefined): greengrasscoreipc.Client {
  return greengrasscoreipc.createClient(sdkClientConfig(socketPath, token));
}

export async function closeAll(clients: greengrasscoreipc.Client[]): Promise<void> {
  for (const c of clients.splice(0)) {
    try {
      await c.close();
    } catch {
      // already closed by the test
    }
  }
}

/** Await a promise that must reject; returns the RpcError. */
export async function rpcFailure(p: Promise<unknown>): Promise<eventstream_rpc.RpcError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof eventstream_rpc.RpcError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

export const QOS0 = greengrasscoreipc.model.QOS.AT_MOST_ONCE;
export const QOS1 = greengrasscoreipc.model.QOS.AT_LEAST_ONCE;
export const RpcErrorType = eventstream_rpc.RpcErrorType;

// ---- the emulator CLI as a child process ----
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../bin/defender-edge.js', import.meta.url));

export interface EmulatorProcess {
  child: ChildProcess;
  /** The ready line; `mqtt`, `ca` and `deviceCerts` only with --mqtt. */
  ready: Promise<{
    ready: true;
    nucleus: 'classic' | 'lite';
    socket: string;
    thingName: string;
    components: Record<string, string>;
    mqtt?: string;
    ca?: string;
    deviceCerts?: Record<string, { certPath: string; keyPath: string }>;
  }>;
  /** Send one control command; resolves with its JSON answer line. */
  send(command: string): Promise<Record<string, unknown>>;
  /** The next JSON answer line, for a command sent some other way (`--control fifo:PATH`). */
  nextAnswer(): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

export function spawnEmulator(args: string[], cwd?: string): EmulatorProcess {
  const child = spawn(process.execPath, [CLI, 'emulator', '--log-level', 'warn', ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const pending: ((line: Record<string, unknown>) => void)[] = [];
  let resolveReady!: (v: never) => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<never>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  let first = true;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const obj = JSON.parse(line) as Record<string, unknown>;
    if (first) {
      first = false;
      resolveReady(obj as never);
    } else {
      pending.shift()?.(obj);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      rejectReady(new Error(`emulator exited (${code ?? signal}) before ready: ${err}`));
      resolve({ code, signal });
    });
  });
  return {
    child,
    ready,
    exited,
    stderr: () => err,
    send: (command) =>
      new Promise((resolve) => {
        pending.push(resolve);
        child.stdin!.write(`${command}\n`);
      }),
    nextAnswer: () =>
      new Promise((resolve) => {
        pending.push(resolve);
      }),
  };
}

/** Kill a child we started, if still running, and wait for it. */
export async function killEmulator(p: EmulatorProcess): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await p.exited;
}

/**
 * What a CLI test starts and must stop: emulator processes, IPC clients, temp dirs. `teardown` (from an
 * afterEach) stops clients first, then kills emulators, then removes the dirs.
 */
export class CliTestResources {
  readonly procs: EmulatorProcess[] = [];
  readonly clients: Array<{ stop(): Promise<void> }> = [];
  private readonly cleanups: Array<() => void> = [];

  /** A fresh temp dir removed at teardown. */
  dir(): string {
    const t = tempDir();
    this.cleanups.push(t.cleanup);
    return t.dir;
  }

  async teardown(): Promise<void> {
    for (const c of this.clients.splice(0)) await c.stop();
    for (const p of this.procs.splice(0)) await killEmulator(p);
    for (const c of this.cleanups.splice(0)) c();
  }
}
