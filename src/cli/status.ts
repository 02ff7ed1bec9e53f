// `defender-edge status`: the running agent's view (connection, outbox, last sample, attribution, actions
// in force, recent violations, self-limit), or its persisted state when it does not answer. Exit 0 when
// the agent answered, 3 when it is not running (the one extra exit code, src/cli/errors.ts).

import { offlineStatus } from '../control/offlineState.ts';
import { renderStatus } from '../control/render.ts';
import type { AgentStatus } from '../control/statusModel.ts';
import { agentTarget, askAgent, printJson, printLines, runOperatorCommand, TARGET_HELP, TARGET_OPTIONS } from './agentTarget.ts';
import { parseCommandArgs, UsageError } from './args.ts';
import { EXIT_NOT_RUNNING } from './errors.ts';

const USAGE = `usage: defender-edge status [--json] [--work-dir DIR] [--state-dir DIR]

The agent's status from its control socket; when it does not answer, what its persisted state says
(exit 3).

${TARGET_HELP}`;

export async function statusCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, TARGET_OPTIONS);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}\n${USAGE}`);
  return runOperatorCommand('status', async () => {
    const t = agentTarget(values);
    const online = (await askAgent(t, { command: 'status' })) as AgentStatus | undefined;
    const status = online ?? offlineStatus(t.workDir, t.stateDir(), Date.now());
    if (values.json) printJson(status);
    else printLines(renderStatus(status));
    return status.running ? 0 : EXIT_NOT_RUNNING;
  });
}
