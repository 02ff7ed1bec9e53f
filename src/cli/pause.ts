// `defender-edge pause SECONDS` / `defender-edge resume`: every decision dry-run for a while (actions
// already in force stay; lift them with `actions lift`), and back. Both audited with who.

import { isoSeconds } from '../control/textFormat.ts';
import type { PauseState } from '../enforce/activeStore.ts';
import { describeOperator } from '../enforce/decisionText.ts';
import {
  agentTarget,
  askAgent,
  CommandFailed,
  parseSeconds,
  printJson,
  printLines,
  runOperatorCommand,
  TARGET_HELP,
  TARGET_OPTIONS,
} from './agentTarget.ts';
import { parseCommandArgs, UsageError } from './args.ts';

const PAUSE_USAGE = `usage: defender-edge pause SECONDS [--json] [--work-dir DIR]

Every enforcement decision is dry-run for SECONDS (600, 10m, 2h …, at most 30 days): logged and audited,
nothing changed. Actions already in force stay. Survives a restart of the agent. Ends early with
\`defender-edge resume\`.
${TARGET_HELP}`;

const RESUME_USAGE = `usage: defender-edge resume [--json] [--work-dir DIR]

Ends a pause: decisions follow enforcement.mode again.
${TARGET_HELP}`;

function notRunning(path: string): CommandFailed {
  return new CommandFailed(`no agent answers on ${path}: nothing to pause or resume`);
}

export async function pauseCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, TARGET_OPTIONS);
  if (values.help) {
    process.stdout.write(`${PAUSE_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`expected SECONDS\n${PAUSE_USAGE}`);
  const seconds = parseSeconds(positionals[0]!, 'SECONDS', 1);
  return runOperatorCommand('pause', async () => {
    const t = agentTarget(values);
    const r = (await askAgent(t, { command: 'pause', seconds })) as { pause: PauseState } | undefined;
    if (r === undefined) throw notRunning(t.socketPath);
    if (values.json) printJson(r);
    else printLines([`enforcement paused until ${isoSeconds(r.pause.until)}: decisions are dry-run (by ${describeOperator(r.pause.by)})`]);
    return 0;
  });
}

export async function resumeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, TARGET_OPTIONS);
  if (values.help) {
    process.stdout.write(`${RESUME_USAGE}\n`);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(RESUME_USAGE);
  return runOperatorCommand('resume', async () => {
    const t = agentTarget(values);
    const r = (await askAgent(t, { command: 'resume' })) as { wasPaused: boolean } | undefined;
    if (r === undefined) throw notRunning(t.socketPath);
    if (values.json) printJson(r);
    else printLines([r.wasPaused ? 'enforcement resumed' : 'enforcement was not paused']);
    return 0;
  });
}
