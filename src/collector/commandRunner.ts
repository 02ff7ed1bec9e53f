// The one way the collector runs external programs (nft, ip, ss): execFile with an argument array, never
// a shell string, with an optional network namespace so tests can run the gateway side inside a
// namespace they created (`ip netns exec NS prog …`) while the component runs in the host namespace.
import { execFile } from 'node:child_process';

// Never a leading `-`: it would be read as an option by `ip netns exec`.
const NETNS_NAME = /^[a-zA-Z0-9_.][a-zA-Z0-9_.-]{0,63}$/;
const PROGRAM = /^[a-zA-Z0-9_./][a-zA-Z0-9_./-]{0,255}$/;

export type CommandFailureKind = 'not-found' | 'permission' | 'timeout' | 'failed';

/** A command that could not run or exited non-zero; `kind` lets callers report a short reason. */
export class CommandError extends Error {
  override name = 'CommandError';
  readonly kind: CommandFailureKind;
  readonly stderr: string;
  constructor(kind: CommandFailureKind, message: string, stderr = '') {
    super(message);
    this.kind = kind;
    this.stderr = stderr;
  }
}

export interface RunOptions {
  /** run inside this named network namespace (ip netns exec) */
  netns?: string;
  /** written to the child's stdin */
  input?: string;
  timeoutMs?: number;
  maxBufferBytes?: number;
}

export type CommandRunner = (program: string, args: readonly string[], options?: RunOptions) => Promise<string>;

export function validateNetnsName(name: string): void {
  if (!NETNS_NAME.test(name) || name === '.' || name === '..') throw new CommandError('failed', `netns: invalid namespace name '${name}'`);
}

/** Turn a spawn/exit failure into a one-line reason: what degraded logs and `HostSample.degraded` show. */
function classify(
  program: string,
  err: NodeJS.ErrnoException & { killed?: boolean; signal?: string | null },
  stderr: string,
): CommandError {
  const firstLine = stderr.trim().split('\n')[0] ?? '';
  if (err.code === 'ENOENT') return new CommandError('not-found', `${program}: not found`, stderr);
  if (err.code === 'EACCES' || err.code === 'EPERM') return new CommandError('permission', `${program}: permission denied`, stderr);
  if (err.killed || err.signal === 'SIGTERM') return new CommandError('timeout', `${program}: timed out`, stderr);
  if (/permission denied|operation not permitted/i.test(stderr)) return new CommandError('permission', `${program}: ${firstLine}`, stderr);
  // `ip netns exec` reports a missing program or namespace on stderr with its own exit code.
  if (/exec of ".*" failed: No such file or directory/.test(stderr)) return new CommandError('not-found', `${program}: not found`, stderr);
  if (/Cannot open network namespace/i.test(stderr)) return new CommandError('failed', `netns: ${firstLine}`, stderr);
  return new CommandError('failed', `${program}: ${firstLine || `exit code ${String(err.code)}`}`, stderr);
}

/** The real runner. Arguments are passed to execve as they are; no shell ever sees them. */
export const runCommand: CommandRunner = (program, args, options = {}) => {
  if (!PROGRAM.test(program)) return Promise.reject(new CommandError('failed', `invalid program name '${program}'`));
  let file = program;
  let argv = [...args];
  if (options.netns !== undefined) {
    try {
      validateNetnsName(options.netns);
    } catch (err) {
      return Promise.reject(err);
    }
    file = 'ip';
    argv = ['netns', 'exec', options.netns, program, ...args];
  }
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      argv,
      {
        timeout: options.timeoutMs ?? 5000,
        maxBuffer: options.maxBufferBytes ?? 64 * 2 ** 20,
        encoding: 'utf8',
        env: { ...process.env, LC_ALL: 'C' },
      },
      (err, stdout, stderr) => {
        if (err) reject(classify(program, err as NodeJS.ErrnoException, stderr));
        else resolve(stdout);
      },
    );
    child.stdin?.on('error', () => {}); // a child that exits before reading stdin must not crash us (EPIPE)
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
};
