// `defender-edge violations list`: the recent violations (bounded, persisted in the state folder), newest first.

import { offlineViolations } from '../control/offlineState.ts';
import { renderViolations } from '../control/render.ts';
import type { ViolationSummary } from '../control/statusModel.ts';
import { agentTarget, askAgent, printJson, printLines, runOperatorCommand, TARGET_HELP, TARGET_OPTIONS } from './agentTarget.ts';
import { parseCommandArgs, UsageError } from './args.ts';

const USAGE = `usage: defender-edge violations list [--limit N] [--json] [--work-dir DIR] [--state-dir DIR]

The most recent violations (default 50, at most 1000), newest first; \`defender-edge explain ID\` tells one.

${TARGET_HELP}`;

export async function violationsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...TARGET_OPTIONS, limit: { type: 'string' } });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals[0] !== 'list' || positionals.length > 1) throw new UsageError(USAGE);
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new UsageError(`--limit: must be an integer from 1 to 1000, got ${JSON.stringify(values.limit)}`);
  return runOperatorCommand('violations list', async () => {
    const t = agentTarget(values);
    const online = (await askAgent(t, { command: 'violations.list', limit })) as { violations: ViolationSummary[] } | undefined;
    const list = online?.violations ?? offlineViolations(t.stateDir(), limit);
    if (values.json) printJson({ running: online !== undefined, violations: list });
    else printLines(renderViolations(list, Date.now()));
    return 0;
  });
}
