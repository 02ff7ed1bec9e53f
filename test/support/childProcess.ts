// Spawning helper children (optionally inside a network namespace) and reading their JSON-line output.
import { type ChildProcess, spawn } from 'node:child_process';
import readline from 'node:readline';

export const HELPERS = new URL('.', import.meta.url).pathname;

export interface Helper {
  child: ChildProcess;
  pid: number;
  /** next JSON line from stdout (rejects after timeoutMs or when the child exits first) */
  next: (timeoutMs?: number) => Promise<Record<string, unknown>>;
  send: (line: string) => void;
  stop: () => Promise<void>;
}

/** Start `node <helper script> args…`, inside `netns` when given (ip netns exec, argument array). */
export function startHelper(script: string, args: string[], options: { netns?: string; env?: NodeJS.ProcessEnv } = {}): Helper {
  const argv = [HELPERS + script, ...args];
  const child =
    options.netns === undefined
      ? spawn(process.execPath, argv, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...options.env } })
      : spawn('ip', ['netns', 'exec', options.netns, process.execPath, ...argv], {
          stdio: ['pipe', 'pipe', 'inherit'],
          env: { ...process.env, ...options.env },
        });
  const lines: string[] = [];
  const waiters: Array<(l: string | undefined) => void> = [];
  let exited = false;
  readline.createInterface({ input: child.stdout! }).on('line', (l) => {
    const w = waiters.shift();
    if (w) w(l);
    else lines.push(l);
  });
  child.on('exit', () => {
    exited = true;
    for (const w of waiters.splice(0)) w(undefined);
  });
  return {
    child,
    // `ip netns exec` execs the program in place, so the pid is the node process's pid.
    pid: child.pid!,
    next: (timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const l = lines.shift();
        if (l !== undefined) return resolve(JSON.parse(l) as Record<string, unknown>);
        if (exited) return reject(new Error(`${script} exited before printing`));
        const timer = setTimeout(() => reject(new Error(`${script}: no output within ${timeoutMs} ms`)), timeoutMs);
        waiters.push((line) => {
          clearTimeout(timer);
          if (line === undefined) reject(new Error(`${script} exited before printing`));
          else resolve(JSON.parse(line) as Record<string, unknown>);
        });
      }),
    send: (line) => child.stdin!.write(`${line}\n`),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

export function waitExit(h: Helper, timeoutMs = 15_000): Promise<number | null> {
  if (h.child.exitCode !== null) return Promise.resolve(h.child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('helper did not exit in time')), timeoutMs);
    h.child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}
