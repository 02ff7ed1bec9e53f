// The one way the component runs external programs (ss, ip, nft): execFile with an argument array, never
// a shell string, optionally inside a named network namespace (`ip netns exec NS prog …`) so tests can run
// the gateway side in a namespace they created while the component itself stays in the host namespace.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { validateNetnsName } from './netnsName.ts';

const PROGRAM = /^[a-zA-Z0-9_./][a-zA-Z0-9_./-]{0,255}$/;

// Greengrass starts components with the nucleus's PATH, which on some images lacks /usr/sbin (where ip
// and nft live): a bare program name is looked up in these directories first, then on PATH.
const SEARCH_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BUFFER_BYTES = 64 * 2 ** 20;

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
  /** written to the child's stdin */
  input?: string;
  /** the command is killed (SIGKILL) and fails after this long: a wedged tool must not wedge its caller */
  timeoutMs?: number;
  maxBufferBytes?: number;
}

/** Runs programs in one network namespace; injected so tests and production share one code path. */
export interface CommandRunner {
  /** the namespace every command runs in; undefined = the component's own (production) */
  readonly netns: string | undefined;
  /** stdout of the program; rejects with a CommandError */
  run(program: string, args: readonly string[], options?: RunOptions): Promise<string>;
}

export interface CommandRunnerOptions {
  /** run every command inside this named network namespace (ip netns exec) */
  netns?: string;
}

/** Absolute path of a bare program name found in SEARCH_DIRS, else the name (execFile searches PATH). */
export function resolveProgram(program: string): string {
  if (program.includes('/')) return program;
  for (const dir of SEARCH_DIRS) {
    const path = `${dir}/${program}`;
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // try the next directory
    }
  }
  return program;
}

/** Turn a spawn/exit failure into a one-line reason: what degraded logs, samples and action records show. */
function classify(
  program: string,
  err: NodeJS.ErrnoException & { killed?: boolean; signal?: string | null },
  stderr: string,
): CommandError {
  const firstLine = stderr.trim().split('\n')[0] ?? '';
  if (err.code === 'ENOENT') return new CommandError('not-found', `${program}: not found`, stderr);
  if (err.code === 'EACCES' || err.code === 'EPERM') return new CommandError('permission', `${program}: permission denied`, stderr);
  if (err.killed || err.signal === 'SIGKILL') return new CommandError('timeout', `${program}: timed out`, stderr);
  if (/permission denied|operation not permitted/i.test(stderr)) return new CommandError('permission', `${program}: ${firstLine}`, stderr);
  // `ip netns exec` reports a missing program or namespace on stderr with its own exit code.
  if (/exec of ".*" failed: No such file or directory/.test(stderr)) return new CommandError('not-found', `${program}: not found`, stderr);
  if (/Cannot open network namespace/i.test(stderr)) return new CommandError('failed', `netns: ${firstLine}`, stderr);
  return new CommandError('failed', `${program}: ${firstLine || `exit code ${String(err.code)}`}`, stderr);
}

/** The real runner. Arguments are passed to execve as they are; no shell ever sees them. */
export function createCommandRunner(options: CommandRunnerOptions = {}): CommandRunner {
  const netns = options.netns === undefined ? undefined : validateNetnsName(options.netns);
  const paths = new Map<string, string>();
  const cached = (program: string): string => {
    let p = paths.get(program);
    if (p === undefined) {
      p = resolveProgram(program);
      paths.set(program, p);
    }
    return p;
  };
  return {
    netns,
    run(program, args, runOptions = {}) {
      if (!PROGRAM.test(program)) return Promise.reject(new CommandError('failed', `invalid program name '${program}'`));
      const [file, argv] =
        netns === undefined ? [cached(program), [...args]] : [cached('ip'), ['netns', 'exec', netns, cached(program), ...args]];
      return new Promise((resolve, reject) => {
        const child = execFile(
          file,
          argv,
          {
            timeout: runOptions.timeoutMs ?? DEFAULT_TIMEOUT_MS,
            killSignal: 'SIGKILL',
            maxBuffer: runOptions.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES,
            encoding: 'utf8',
            env: { ...process.env, LC_ALL: 'C' },
          },
          (err, stdout, stderr) => {
            if (err) reject(classify(program, err as NodeJS.ErrnoException, stderr));
            else resolve(stdout);
          },
        );
        child.stdin?.on('error', () => {}); // a child that exits before reading stdin must not crash us (EPIPE)
        child.stdin?.end(runOptions.input ?? '');
      });
    },
  };
}
