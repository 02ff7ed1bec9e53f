// A component configuration given on the command line (`check-config`, `collect --config`, `evaluate
// --profile`): a JSON or YAML file holding either the configuration object itself or a Greengrass recipe,
// whose ComponentConfiguration.DefaultConfiguration is what a first deployment installs. Recipe format:
// https://docs.aws.amazon.com/greengrass/v2/developerguide/component-recipe-reference.html

import type { ComponentConfig } from './schema.ts';
import { readStructuredFile } from './structuredFile.ts';
import { type ConfigCheck, validateConfig } from './validate.ts';

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A recipe is recognised by its required RecipeFormatVersion key, or by ComponentName with ComponentConfiguration. */
export function isRecipe(doc: Record<string, unknown>): boolean {
  return 'RecipeFormatVersion' in doc || ('ComponentName' in doc && 'ComponentConfiguration' in doc);
}

/** The configuration a document holds, and the prefix its error paths need to point into the file. */
export function configurationOf(doc: Record<string, unknown>): { config: unknown; prefix: string } {
  if (!isRecipe(doc)) return { config: doc, prefix: '' };
  const cc = doc.ComponentConfiguration;
  const dc = isObject(cc) ? cc.DefaultConfiguration : undefined;
  // A recipe without DefaultConfiguration installs with every default.
  return { config: dc ?? {}, prefix: 'ComponentConfiguration.DefaultConfiguration.' };
}

export type ConfigFileResult = { ok: true; config: ComponentConfig; recipe: boolean } | { ok: false; errors: string[] };

/** Read and validate a configuration or recipe file; errors are `path: message` lines naming the file's own paths. */
export function readConfigFile(path: string, checks: readonly ConfigCheck[]): ConfigFileResult {
  const file = readStructuredFile(path);
  if (!file.ok) return { ok: false, errors: [file.error] };
  if (!isObject(file.value)) return { ok: false, errors: [`${path}: (root): must be an object`] };
  const { config, prefix } = configurationOf(file.value);
  const r = validateConfig(config, checks);
  if (!r.ok) return { ok: false, errors: r.errors.map((e) => `${prefix}${e}`) };
  return { ok: true, config: r.config, recipe: prefix !== '' };
}
