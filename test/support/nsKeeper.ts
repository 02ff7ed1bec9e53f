// Child process for tests: PID 1 of a private pid namespace (started by test/support/pidns.ts) that starts
// programs inside it on request and reaps whatever ends there, so the programs it starts are siblings
// whose parent is the namespace's init, and their stops and exits are seen as they happen.
//   stdin, one JSON line per request: {"id": "r1", "argv": ["node", "x.js"], "env": {...}?, "cwd": "..."?,
//   "keepStdin": true? (its stdin stays open until the keeper ends, for programs that stop when it closes)},
//   or {"kill": "r1", "signal": "SIGTERM"} to signal a program it started
//   stdout, JSON lines: {"id", "pid"} once started (pid as this namespace numbers it), {"id", "line"} per
//   line the program prints, {"id", "exit", "signal"} when it ends, {"id", "error"} when it cannot start.
// It exits when its stdin ends; the kernel then ends everything left in the namespace.
import { spawn } from 'node:child_process';
import readline from 'node:readline';

const say = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);

const started = new Map<string, ReturnType<typeof spawn>>();

readline.createInterface({ input: process.stdin }).on('line', (text) => {
  let req: {
    id: string;
    argv: string[];
    env?: Record<string, string>;
    cwd?: string;
    keepStdin?: boolean;
    kill?: string;
    signal?: NodeJS.Signals;
  };
  try {
    req = JSON.parse(text) as typeof req;
  } catch {
    return;
  }
  if (req.kill !== undefined) {
    started.get(req.kill)?.kill(req.signal ?? 'SIGTERM');
    return;
  }
  const [file, ...args] = req.argv;
  const child = spawn(file!, args, {
    cwd: req.cwd,
    env: req.env ?? process.env,
    stdio: [req.keepStdin ? 'pipe' : 'ignore', 'pipe', 'inherit'],
  });
  started.set(req.id, child);
  child.once('error', (err) => say({ id: req.id, error: err.message }));
  child.once('spawn', () => say({ id: req.id, pid: child.pid }));
  readline.createInterface({ input: child.stdout! }).on('line', (line) => say({ id: req.id, line }));
  child.once('exit', (code, signal) => say({ id: req.id, exit: code, signal }));
});
process.stdin.once('end', () => process.exit(0));
// Orphans re-parented to PID 1 are reaped by Node's SIGCHLD handling only for its own children; the rest
// become zombies until the namespace ends with us — harmless for a test.
