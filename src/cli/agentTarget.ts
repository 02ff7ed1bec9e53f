// What the operator commands share: which agent (`--work-dir`, default the current directory — Greengrass
// runs a component with its work folder as cwd, <root>/work/<component>), how to ask it over its control
// socket, and where its persisted state is when it does not answer.
import { resolve } from 'node:path';
import { AgentNotRunning, sendControlRequest, whoAmI } from '../control/controlClient.ts';
import { controlSocketPath } from '../control/controlSocket.ts';
import { resolveStateDir } from '../control/offlineState.ts';
import { MAX_WINDOW_SECONDS } from '../control/protocol.ts';
import { UsageError } from './args.ts';
import { EXIT_INVALID } from './errors.ts';

export const TARGET_OPTIONS = {
  'work-dir': { type: 'string' },
  'state-dir': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const TARGET_HELP = `  --work-dir DIR   the agent's work folder, where its control socket is (default: the current
                   directory; under Greengrass /greengrass/v2/work/com.defender-edge.DefenderEdge)
  --state-dir DIR  its state folder, read when the agent is not running (default: the configured
                   stateDir, relative to the work folder)
  --json           print JSON instead of text`;

export interface AgentTarget {
  workDir: string;
  socketPath: string;
  stateDir: () => string;
}

export function agentTarget(values: { 'work-dir'?: string | undefined; 'state-dir'?: string | undefined }): AgentTarget {
  const workDir = resolve(values['work-dir'] ?? '.');
  return { workDir, socketPath: controlSocketPath(workDir), stateDir: () => resolveStateDir(workDir, values['state-dir']) };
}

/** A refusal from the agent (`path: message`) or a failure to reach it: printed, exit 1. */
export class CommandFailed extends Error {
  override name = 'CommandFailed';
}

/** Asks the running agent; `undefined` when none answers (the caller falls back to the persisted state). */
export async function askAgent(t: AgentTarget, request: Record<string, unknown>): Promise<unknown> {
  let answer: Awaited<ReturnType<typeof sendControlRequest>>;
  try {
    answer = await sendControlRequest(t.socketPath, { ...request, by: whoAmI() });
  } catch (err) {
    if (err instanceof AgentNotRunning) return undefined;
    throw new CommandFailed((err as Error).message);
  }
  if (!answer.ok) throw new CommandFailed(answer.error ?? 'the agent refused the request');
  return answer.result;
}

/** 600, 600s, 10m, 2h, 1d → seconds (whole, 0 … 30 days). */
export function parseSeconds(text: string, option: string, min = 0): number {
  const m = /^(\d{1,9})([smhd]?)$/.exec(text.trim());
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m?.[2] ?? ''] ?? 1;
  const seconds = m === null ? Number.NaN : Number(m[1]) * unit;
  if (!Number.isInteger(seconds) || seconds < min || seconds > MAX_WINDOW_SECONDS)
    throw new UsageError(
      `${option}: must be a duration from ${min} to ${MAX_WINDOW_SECONDS} seconds (e.g. 600, 10m, 2h), got ${JSON.stringify(text)}`,
    );
  return seconds;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLines(lines: string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Runs a command body; a CommandFailed is printed as `defender-edge <name>: message` and exits 1. */
export async function runOperatorCommand(name: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof CommandFailed) {
      process.stderr.write(`defender-edge ${name}: ${err.message}\n`);
      return EXIT_INVALID;
    }
    throw err;
  }
}
