// The whole agent (`defender-edge run`) as a real child process, in a network namespace the test created
// and in a private pid namespace (pidns.ts): an enforcing agent then sees — and can act on — only the
// processes of that namespace, never anything else on this shared machine. It is PID 1 there, so when it
// ends the kernel ends whatever it left in the namespace too.
import { type ChildProcess, execFile } from 'node:child_process';
import readline from 'node:readline';
import { CLI } from './ipc.ts';
import { startInPidNs } from './pidns.ts';

export interface AgentProcess {
  /** `ip` exec'd into `unshare` */
  child: ChildProcess;
  /** the agent's pid in our namespace (unshare's child) */
  agentPid: () => number;
  /** its JSON log lines so far */
  logs: Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM to the agent (a clean stop), SIGKILL after timeoutMs */
  stop: (timeoutMs?: number) => Promise<void>;
}

export interface AgentProcessOptions {
  netns: string;
  /** its work folder (cwd, as Greengrass gives a component) */
  workDir: string;
  ipcSocket: string;
  token: string;
  thingName: string;
  args?: string[];
}

export async function startAgentProcess(o: AgentProcessOptions): Promise<AgentProcess> {
  const ns = await startInPidNs([process.execPath, CLI, 'run', ...(o.args ?? [])], {
    netns: o.netns,
    cwd: o.workDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: o.ipcSocket,
      SVCUID: o.token,
      AWS_IOT_THING_NAME: o.thingName,
    },
  });
  const logs: Array<Record<string, unknown>> = [];
  // Read both pipes to the end: a full pipe would block the agent's synchronous logging.
  readline.createInterface({ input: ns.child.stdout! }).on('line', (l) => {
    try {
      logs.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      logs.push({ raw: l });
    }
  });
  ns.child.stderr!.on('data', (d: Buffer) => logs.push({ stderr: d.toString() }));
  return { child: ns.child, agentPid: () => ns.init, logs, exited: ns.exited, stop: (timeoutMs = 15_000) => ns.stop(timeoutMs) };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `defender-edge <args…>` as an operator would type it (in our own namespaces). */
export function runCli(args: string[], cwd?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, timeout: 60_000, maxBuffer: 16 * 2 ** 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}
