// Numbers and booleans written as strings, turned back into numbers and booleans where the ONE schema
// (schema.ts) says the setting is one. Nucleus lite hands a component its configuration with every recipe
// scalar as a string (it decodes recipe YAML without resolving scalar types), so `intervalMs: 1000` comes
// back as `"1000"` and `host: true` as `"true"`. Only an exact spelling is converted — a JSON number for
// `integer`/`number`, `true`/`false` for `boolean` — and only where the schema types the value: a string
// that is not a number stays a string and fails validation with its path and value. Pure: returns a copy
// where something changed, the same object where nothing did.
import type { SchemaObject } from 'ajv';

/**
 * Annotation keyword: coercion types for a value the schema does not validate itself (the behaviors, which
 * src/localrules checks), written in the same dialect (type, properties, items, additionalProperties).
 */
export const COERCE_KEYWORD = 'x-coerce';

const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?$/;

/** The scalar a schema node types, if it is one coercion applies to. */
function scalarType(schema: SchemaObject): 'integer' | 'number' | 'boolean' | undefined {
  const t = schema.type;
  return t === 'integer' || t === 'number' || t === 'boolean' ? t : undefined;
}

function coerceScalar(value: unknown, type: 'integer' | 'number' | 'boolean'): unknown {
  if (typeof value !== 'string') return value;
  if (type === 'boolean') return value === 'true' ? true : value === 'false' ? false : value;
  if (!JSON_NUMBER.test(value)) return value;
  const n = Number(value);
  return Number.isFinite(n) ? n : value;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** `value` with strings coerced where `schema` types a number or boolean. */
export function coerceBySchema(value: unknown, schema: SchemaObject | boolean | undefined): unknown {
  if (typeof schema !== 'object' || schema === null) return value;
  const extra = schema[COERCE_KEYWORD] as SchemaObject | undefined;
  let out = extra ? coerceBySchema(value, extra) : value;
  const scalar = scalarType(schema);
  if (scalar) return coerceScalar(out, scalar);
  if (Array.isArray(out) && typeof schema.items === 'object' && schema.items !== null && !Array.isArray(schema.items)) {
    const items = schema.items as SchemaObject;
    let changed = false;
    const next = out.map((v) => {
      const c = coerceBySchema(v, items);
      if (c !== v) changed = true;
      return c;
    });
    if (changed) out = next;
  } else if (isObject(out)) {
    const properties = (schema.properties ?? {}) as Record<string, SchemaObject>;
    const additional = schema.additionalProperties as SchemaObject | boolean | undefined;
    let copy: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(out)) {
      const sub = Object.hasOwn(properties, k) ? properties[k] : additional;
      const c = coerceBySchema(v, sub);
      if (c !== v) {
        copy ??= { ...out };
        // defineProperty, not assignment: a key named `__proto__` must stay a plain key.
        Object.defineProperty(copy, k, { value: c, enumerable: true, writable: true, configurable: true });
      }
    }
    if (copy) out = copy;
  }
  return out;
}
