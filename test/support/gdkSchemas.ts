// Validation as gdk 1.6.2 does it: Draft 7 JSON Schema with Python regular expressions, recipe keys
// lower-cased recursively first (gdk's RecipeValidator `_convert_keys_to_lowercase`,
// https://github.com/aws-greengrass/aws-greengrass-gdk-cli/blob/v1.6.2/gdk/common/RecipeValidator.py).
// The schemas are verbatim copies in test/fixtures/gdk-schemas/ (source and licence in its README).
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';

const schemasDir = new URL('../fixtures/gdk-schemas/', import.meta.url);

/**
 * The schemas use Python's inline `(?i)` flag (e.g. `(?i)^(ZIP|NONE)$`), which JavaScript rejects;
 * turn a leading `(?i)` into the `i` flag. Like Python's `re.search`, patterns are unanchored.
 */
function pythonRegExp(pattern: string, flags: string): RegExp {
  return pattern.startsWith('(?i)') ? new RegExp(pattern.slice(4), `${flags}i`) : new RegExp(pattern, flags);
}
pythonRegExp.code = 'pythonRegExp';

function compile(file: string): ValidateFunction {
  // strict: false — the gdk schemas carry keywords Draft 7 does not know (`dependentRequired`, a
  // misspelt `anyof`); jsonschema's Draft7Validator ignores them too.
  const ajv = new Ajv({ strict: false, allErrors: true, code: { regExp: pythonRegExp } });
  return ajv.compile(JSON.parse(readFileSync(new URL(file, schemasDir), 'utf8')) as object);
}

export function lowerCaseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(lowerCaseKeys);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.toLowerCase(), lowerCaseKeys(v)]));
  }
  return value;
}

function errorsOf(validate: ValidateFunction, data: unknown): string[] {
  return validate(data) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'}: ${e.message ?? 'invalid'}`);
}

const recipeValidator = compile('recipe.schema.json');
const gdkConfigValidator = compile('gdk-config.schema.json');

/** `path: message` errors of a parsed recipe against gdk's recipe schema (after lower-casing keys). */
export function recipeSchemaErrors(recipe: unknown): string[] {
  return errorsOf(recipeValidator, lowerCaseKeys(recipe));
}

export function gdkConfigSchemaErrors(config: unknown): string[] {
  return errorsOf(gdkConfigValidator, config);
}
