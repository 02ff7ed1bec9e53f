// `defender-edge check-config FILE`: validate a component configuration (JSON or YAML) exactly as the
// agent validates a configuration update. FILE may be a plain configuration object or a Greengrass recipe,
// in which case its ComponentConfiguration.DefaultConfiguration is checked. Exit 0 valid, 1 invalid.

import { componentConfigChecks } from '../agent/configChecks.ts';
import { readConfigFile } from '../config/configFile.ts';
import { parseCommandArgs, UsageError } from './args.ts';

const usage = `usage: defender-edge check-config FILE

FILE (.json, .yaml or .yml) is a component configuration object, or a recipe whose
ComponentConfiguration.DefaultConfiguration is checked. Prints "FILE: ok" and exits 0, or prints
one "path: message" line per error and exits 1.`;

export async function checkConfigCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`expected exactly one FILE\n${usage}`);
  const path = positionals[0]!;
  const r = readConfigFile(path, componentConfigChecks);
  if (!r.ok) {
    process.stderr.write(`${r.errors.join('\n')}\n`);
    return 1;
  }
  process.stdout.write(`${path}: ok\n`);
  return 0;
}
