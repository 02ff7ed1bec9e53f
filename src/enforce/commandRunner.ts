// Runs `nft` / `ip` with argument arrays (never a shell string), optionally inside a network namespace
// (`ip netns exec NS …`) so the same backends work on the host and inside namespaces a test creates.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { validateNetnsName } from './targetValidation.ts';

export class CommandError extends Error {
  override name = 'CommandError';
  readonly command: string[];
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(command: string[], exitCode: number | null, stderr: string, message?: string) {
    super(message ?? `${command.join(' ')} exited ${exitCode ?? 'by signal'}: ${stderr.trim().slice(0, 500)}`);
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** What a backend needs to run a tool; injected so tests and production share one code path. */
export interface CommandRunner {
  /** namespace every command runs in; undefined = the namespace of the agent (production) */
  readonly netns: string | undefined;
  run(tool: 'nft' | 'ip', args: readonly string[], input?: string): Promise<CommandResult>;
}

// Greengrass starts components with the nucleus's PATH, which on some images lacks /usr/sbin.
const SEARCH_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

function resolveTool(tool: string): string {
  for (const dir of SEARCH_DIRS) {
    const path = `${dir}/${tool}`;
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      /* try the next directory */
    }
  }
  return tool; // let spawn search PATH and report ENOENT with the tool's name
}

export interface CommandRunnerOptions {
  netns?: string;
  /** a command that does not finish in time is killed and fails (a wedged nft must not wedge enforcement) */
  timeoutMs?: number;
}

export function createCommandRunner(options: CommandRunnerOptions = {}): CommandRunner {
  const netns = options.netns === undefined ? undefined : validateNetnsName(options.netns);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const paths = new Map<string, string>();
  const pathOf = (tool: string): string => {
    let p = paths.get(tool);
    if (p === undefined) {
      p = resolveTool(tool);
      paths.set(tool, p);
    }
    return p;
  };
  return {
    netns,
    run(tool, args, input) {
      const argv = netns === undefined ? [pathOf(tool), ...args] : [pathOf('ip'), 'netns', 'exec', netns, pathOf(tool), ...args];
      return runArgv(argv, input, timeoutMs);
    },
  };
}

function runArgv(argv: string[], input: string | undefined, timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = argv as [string, ...string[]];
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new CommandError(argv, null, '', `${argv.join(' ')}: ${e.message}`)));
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) resolve({ stdout, stderr });
      else
        reject(
          new CommandError(
            argv,
            code,
            stderr,
            signal !== null ? `${argv.join(' ')} killed by ${signal} (timeout ${timeoutMs} ms?)` : undefined,
          ),
        );
    });
    child.stdin.on('error', () => {
      /* the close handler reports the failure */
    });
    child.stdin.end(input ?? '');
  });
}
