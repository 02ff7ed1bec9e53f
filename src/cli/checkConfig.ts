// `defender-edge check-config FILE`: validate a component configuration (JSON or YAML) exactly as the
// agent validates a configuration update. FILE may be a plain configuration object or a Greengrass recipe,
// in which case its ComponentConfiguration.DefaultConfiguration is checked. Exit 0 valid, 1 invalid.

import { componentConfigChecks } from '../agent/configChecks.ts';
import { validateConfig } from '../config/validate.ts';
import { isPlainObject } from '../plainObject.ts';
import { parseCommandArgs, UsageError } from './args.ts';
import { readStructuredFile } from './structuredFile.ts';

const usage = `usage: defender-edge check-config FILE

FILE (.json, .yaml or .yml) is a component configuration object, or a recipe whose
ComponentConfiguration.DefaultConfiguration is checked. Prints "FILE: ok" and exits 0, or prints
one "path: message" line per error and exits 1.`;

/** A recipe is recognised by its required RecipeFormatVersion / ComponentName keys (greengrass.md §4). */
function configurationOf(doc: Record<string, unknown>): { config: unknown; prefix: string } {
  const isRecipe = 'RecipeFormatVersion' in doc || ('ComponentName' in doc && 'ComponentConfiguration' in doc);
  if (!isRecipe) return { config: doc, prefix: '' };
  const cc = doc.ComponentConfiguration;
  const dc = isPlainObject(cc) ? cc.DefaultConfiguration : undefined;
  // A recipe without DefaultConfiguration installs with every default.
  return { config: dc ?? {}, prefix: 'ComponentConfiguration.DefaultConfiguration.' };
}

export async function checkConfigCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`expected exactly one FILE\n${usage}`);
  const path = positionals[0]!;
  const file = readStructuredFile(path);
  if (!file.ok) {
    process.stderr.write(`${file.error}\n`);
    return 1;
  }
  if (!isPlainObject(file.value)) {
    process.stderr.write(`${path}: (root): must be an object\n`);
    return 1;
  }
  const { config, prefix } = configurationOf(file.value);
  const r = validateConfig(config, componentConfigChecks);
  if (r.ok) {
    process.stdout.write(`${path}: ok\n`);
    return 0;
  }
  process.stderr.write(`${r.errors.map((e) => `${prefix}${e}`).join('\n')}\n`);
  return 1;
}
