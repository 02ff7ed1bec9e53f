// `defender-edge actions list|lift`: the actions in force, read back from the kernel by the running agent
// (or from its persisted state when it does not run), and lifting one for good: the agent reverts it,
// audits who lifted it and when, and leaves its offender alone for the quiet window.

import type { ActionsList } from '../control/controlService.ts';
import { offlineActions } from '../control/offlineState.ts';
import { renderActions, renderLift } from '../control/render.ts';
import type { ActionRecord } from '../enforce/actionModel.ts';
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

const USAGE = `usage: defender-edge actions list [--json] [--work-dir DIR] [--state-dir DIR]
       defender-edge actions lift ID [--quiet-for SECONDS] [--json] [--work-dir DIR]

list   the actions in force; the running agent reads each back from the kernel first (an nft element
       deleted by hand, a link set up, a stopped process continued shows as lifted, not as in force)
lift   revert action ID (or a unique prefix of at least 4 characters) now; its offender is not acted on
       again for --quiet-for (600, 10m, 2h …; default enforcement.liftQuietSeconds; 0: at once).
       Audited with who and when. Needs the running agent.

${TARGET_HELP}`;

export async function actionsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...TARGET_OPTIONS, 'quiet-for': { type: 'string' } });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [sub, ...rest] = positionals;
  if (sub === 'list') {
    if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}\n${USAGE}`);
    if (values['quiet-for'] !== undefined) throw new UsageError('--quiet-for: only for `actions lift`');
    return runOperatorCommand('actions list', async () => {
      const t = agentTarget(values);
      const online = (await askAgent(t, { command: 'actions.list' })) as ActionsList | undefined;
      const list = online ?? offlineActions(t.workDir, t.stateDir(), Date.now());
      if (values.json) printJson({ running: online !== undefined, ...list });
      else {
        if (online === undefined)
          printLines([`agent not running: actions from its persisted state in ${t.stateDir()} (not read back from the kernel)`]);
        printLines(renderActions(list, Date.now()));
      }
      return 0;
    });
  }
  if (sub === 'lift') {
    if (rest.length !== 1) throw new UsageError(`actions lift: expected one action ID\n${USAGE}`);
    const quiet = values['quiet-for'] === undefined ? undefined : parseSeconds(values['quiet-for'], '--quiet-for');
    return runOperatorCommand('actions lift', async () => {
      const t = agentTarget(values);
      const result = (await askAgent(t, {
        command: 'actions.lift',
        actionId: rest[0],
        ...(quiet === undefined ? {} : { quietForSeconds: quiet }),
      })) as { record: ActionRecord } | undefined;
      if (result === undefined)
        throw new CommandFailed(
          `no agent answers on ${t.socketPath}: start it to lift an action (nft blocks expire in the kernel by themselves; an interface set down has a watchdog)`,
        );
      if (values.json) printJson(result.record);
      else printLines([renderLift(result.record)]);
      return 0;
    });
  }
  throw new UsageError(`${sub === undefined ? 'expected list or lift' : `unknown subcommand ${JSON.stringify(sub)}`}\n${USAGE}`);
}
