import { Ajv, type ErrorObject } from 'ajv';
import { configSchema, type ComponentConfig } from './schema.ts';

export type ConfigResult = { ok: true; config: ComponentConfig } | { ok: false; errors: string[] };

/** A further check on an already schema-valid configuration (e.g. behaviors); returns `path: message` errors. */
export type ConfigCheck = (config: ComponentConfig) => string[];

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true });
const validateSchema = ajv.compile(configSchema);

/** `/a/0/b` → `a[0].b`, the form every `path: message` error in the project uses. */
export function jsonPointerToPath(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc === '' ? seg : `${acc}.${seg}`), '');
}

function formatAjvError(e: ErrorObject): string {
  let path = jsonPointerToPath(e.instancePath);
  let message = e.message ?? 'is invalid';
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    path = path === '' ? extra : `${path}.${extra}`;
    message = 'is not a known setting';
  } else if (e.keyword === 'enum') {
    message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
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
  const copy = structuredClone(raw) as Record<string, unknown>;
  if (!validateSchema(copy)) {
    return { ok: false, errors: (validateSchema.errors ?? []).map(formatAjvError) };
  }
  const config = copy as unknown as ComponentConfig;
  const errors = checks.flatMap((check) => check(config));
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config };
}

/** The configuration with every default filled in: what an empty DefaultConfiguration means. */
export function defaultConfig(): ComponentConfig {
  const result = validateConfig({});
  if (!result.ok) throw new Error(`default configuration is invalid: ${result.errors.join('; ')}`);
  return result.config;
}
