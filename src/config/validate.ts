import { Ajv, type ErrorObject } from 'ajv';
import { describeValue } from '../describeValue.ts';
import { COERCE_KEYWORD, coerceBySchema } from './coerce.ts';
import { type ComponentConfig, configSchema } from './schema.ts';

export type ConfigResult = { ok: true; config: ComponentConfig } | { ok: false; errors: string[] };

/** A further check on an already schema-valid configuration (e.g. behaviors); returns `path: message` errors. */
export type ConfigCheck = (config: ComponentConfig) => string[];

// verbose: errors carry the offending value, so a type error can name it.
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true, verbose: true });
// An annotation for coerce.ts; Ajv validates nothing with it.
ajv.addKeyword({ keyword: COERCE_KEYWORD, schemaType: 'object' });
const validateSchema = ajv.compile(configSchema);

/** `/a/0/b` → `a[0].b`, the form every `path: message` error in the project uses. */
export function jsonPointerToPath(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : joinKey(acc, seg)), '');
}

/**
 * `a` + `b` → `a.b`; a key that is not a plain name (spaces, `: `, newlines, quotes, empty) is shown
 * JSON-quoted, `a["x: y"]`, so a hostile key cannot blur the `path: message` (found by fuzzing, test/fuzz/).
 */
function joinKey(parent: string, key: string): string {
  const cut = key.length > 64 ? `${key.slice(0, 64)}…` : key;
  if (!/^[A-Za-z0-9_$-]+$/.test(key)) return `${parent}[${JSON.stringify(cut)}]`;
  return parent === '' ? cut : `${parent}.${cut}`;
}

function formatAjvError(e: ErrorObject): string {
  let path = jsonPointerToPath(e.instancePath);
  let message = e.message ?? 'is invalid';
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    path = joinKey(path, extra);
    message = 'is not a known setting';
  } else if (e.keyword === 'enum') {
    message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  // e.g. `sampling.intervalMs: must be integer, got string "fast"`: what arrived, not only what was expected
  // (for the keywords about the value itself; `required` and unknown keys are about the enclosing object).
  if (e.keyword !== 'additionalProperties' && e.keyword !== 'required') message = `${message}, got ${describeValue(e.data)}`;
  return `${path === '' ? '(root)' : path}: ${message}`;
}

/**
 * Validate a raw configuration (as GetConfiguration returns it) against the one schema, fill defaults,
 * then run the module checks. Never throws on bad input; the input object is not modified.
 */
export function validateConfig(raw: unknown, checks: readonly ConfigCheck[] = []): ConfigResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, errors: ['(root): must be an object'] };
  }
  // structuredClone (and Ajv) recurse: a hostile configuration nested thousands deep would overflow the
  // stack and throw out of the validation hook (found by fuzzing, test/fuzz/). Measured without recursion first.
  const deep = tooDeepAt(raw, MAX_CONFIG_DEPTH);
  if (deep !== null) return { ok: false, errors: [`${deep === '' ? '(root)' : deep}: nests deeper than ${MAX_CONFIG_DEPTH} levels`] };
  let copy: Record<string, unknown>;
  try {
    // Numbers and booleans that arrive as strings (nucleus lite) become numbers and booleans where the
    // schema types them (coerce.ts); nothing else is converted.
    copy = coerceBySchema(structuredClone(raw), configSchema) as Record<string, unknown>;
  } catch (err) {
    return { ok: false, errors: [`(root): is not plain JSON data (${(err as Error).message})`] };
  }
  if (!validateSchema(copy)) {
    const schemaErrors = (validateSchema.errors ?? []).map(formatAjvError);
    // All errors in one pass: a deployment costs minutes, so the module checks (behaviors …) run too, on
    // the settings the schema did not refuse. A check may throw on a shape the schema refused; its errors
    // are then already said.
    const refused = new Set(schemaErrors.map(topLevelKey));
    const more = checks.flatMap((check) => {
      try {
        return check(copy as unknown as ComponentConfig).filter((e) => !refused.has(topLevelKey(e)));
      } catch {
        return [];
      }
    });
    return { ok: false, errors: [...schemaErrors, ...more] };
  }
  const config = copy as unknown as ComponentConfig;
  const errors = checks.flatMap((check) => check(config));
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config };
}

/** `behaviors[1].criteria: …` → `behaviors`; `(root): …` → `(root)`. */
function topLevelKey(error: string): string {
  return /^[^.[:]*/.exec(error)?.[0] ?? '';
}

/** Far deeper than the schema goes (behaviors[i].criteria.value.ports[j] is 5 levels). */
export const MAX_CONFIG_DEPTH = 32;

/** The path of the first value nested deeper than `max`, or null; iterative, so any depth is safe. */
function tooDeepAt(root: unknown, max: number): string | null {
  const stack: Array<{ v: unknown; depth: number; path: string }> = [{ v: root, depth: 0, path: '' }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) return path;
    for (const [k, child] of Object.entries(v)) {
      if (typeof child === 'object' && child !== null)
        stack.push({ v: child, depth: depth + 1, path: Array.isArray(v) ? `${path}[${k}]` : joinKey(path, k) });
    }
  }
  return null;
}

/** The configuration with every default filled in: what an empty DefaultConfiguration means. */
export function defaultConfig(): ComponentConfig {
  const result = validateConfig({});
  if (!result.ok) throw new Error(`default configuration is invalid: ${result.errors.join('; ')}`);
  return result.config;
}
