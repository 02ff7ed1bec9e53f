// `defender-edge explain VIOLATION_ID`: one violation told whole — behavior, the window's datapoints
// against the threshold as a terminal chart, the rails, the action, the kernel's read-back, the outcome.
import type { ViolationDetail } from '../control/controlService.ts';
import { renderExplain } from '../control/explain.ts';
import { offlineViolation } from '../control/offlineState.ts';
import {
  agentTarget,
  askAgent,
  CommandFailed,
  printJson,
  printLines,
  runOperatorCommand,
  TARGET_HELP,
  TARGET_OPTIONS,
} from './agentTarget.ts';
import { parseCommandArgs, UsageError } from './args.ts';

const USAGE = `usage: defender-edge explain VIOLATION_ID [--ascii] [--width N] [--rows N] [--json] [--work-dir DIR] [--state-dir DIR]

VIOLATION_ID is an id from \`defender-edge violations list\` (or a unique prefix of at least 4 characters).
  --ascii      draw the chart with # and | instead of Unicode blocks
  --width N    chart width in columns (10-200, default 40)
  --rows N     most chart rows (1-1000, default 30); neighbouring datapoints are summed into one row
${TARGET_HELP}`;

export async function explainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    ...TARGET_OPTIONS,
    ascii: { type: 'boolean' },
    width: { type: 'string' },
    rows: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`expected one VIOLATION_ID\n${USAGE}`);
  const width = values.width === undefined ? 40 : Number(values.width);
  if (!Number.isInteger(width) || width < 10 || width > 200)
    throw new UsageError(`--width: must be an integer from 10 to 200, got ${JSON.stringify(values.width)}`);
  const rows = values.rows === undefined ? 30 : Number(values.rows);
  if (!Number.isInteger(rows) || rows < 1 || rows > 1000)
    throw new UsageError(`--rows: must be an integer from 1 to 1000, got ${JSON.stringify(values.rows)}`);
  const id = positionals[0]!;
  if (!/^[A-Za-z0-9-]{1,128}$/.test(id)) throw new UsageError(`VIOLATION_ID: must be an id or a prefix of one, got ${JSON.stringify(id)}`);
  return runOperatorCommand('explain', async () => {
    const t = agentTarget(values);
    let detail = (await askAgent(t, { command: 'violations.get', violationId: id })) as ViolationDetail | undefined;
    if (detail === undefined) {
      try {
        detail = offlineViolation(t.stateDir(), id);
      } catch (err) {
        throw new CommandFailed((err as Error).message);
      }
    }
    if (values.json) printJson(detail);
    else printLines(renderExplain(detail.violation, detail.actions, Date.now(), { width, rows, ascii: values.ascii ?? false }));
    return 0;
  });
}
