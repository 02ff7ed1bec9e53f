// Parsing of a Device Defender MetricValue (API `MetricValue`) from untrusted
// JSON: a behavior's `criteria.value`, a per-thing override, or one datapoint of `defender-edge evaluate`.
// Returns typed data or `path: message` errors; never throws.
import ipaddr from 'ipaddr.js';
import { describeValue } from '../describeValue.ts';
import { isPlainObject } from '../plainObject.ts';
import type { MetricValue } from './contracts.ts';

export type ValueContainer = 'count' | 'number' | 'numbers' | 'ports' | 'cidrs' | 'strings';
export const valueContainers: readonly ValueContainer[] = ['count', 'cidrs', 'ports', 'number', 'numbers', 'strings'];

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: string[] };

export { describeValue };

/**
 * A number written either as a JSON number or as a decimal string: the Greengrass recipe reference recommends
 * numbers as strings in a recipe's DefaultConfiguration (configuration values may come back converted,
 * docs/greengrass-ipc.md), and CloudFormation models `value.count` as a string
 * (AWS::IoT::SecurityProfile MetricValue).
 */
export function readNumber(x: unknown): number | undefined {
  if (typeof x === 'number') return Number.isFinite(x) ? x : undefined;
  if (typeof x === 'string' && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(x.trim())) return Number(x);
  return undefined;
}

/** CIDR text as the API allows it: 2–43 chars of `[a-fA-F0-9:./]` (API `MetricValue`), and it must parse. */
export function cidrProblem(x: unknown): string | null {
  if (typeof x !== 'string') return `must be a string, got ${describeValue(x)}`;
  if (x.length < 2 || x.length > 43 || !/^[a-fA-F0-9:./]+$/.test(x)) return `"${x}" must be 2–43 characters of [a-fA-F0-9:./]`;
  const ok = x.includes('/') ? ipaddr.isValidCIDR(x) : ipaddr.isValid(x);
  return ok ? null : `"${x}" is not an IPv4 or IPv6 address or CIDR`;
}

function listOf<T>(path: string, x: unknown, item: (v: unknown, p: string) => Parsed<T>): Parsed<T[]> {
  if (!Array.isArray(x)) return { ok: false, errors: [`${path}: must be an array, got ${describeValue(x)}`] };
  const out: T[] = [];
  const errors: string[] = [];
  x.forEach((v, i) => {
    const r = item(v, `${path}[${i}]`);
    if (r.ok) out.push(r.value);
    else errors.push(...r.errors);
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: out };
}

function count(x: unknown, p: string): Parsed<number> {
  const n = readNumber(x);
  // API: `count` is a long >= 0.
  if (n === undefined || !Number.isSafeInteger(n) || n < 0)
    return { ok: false, errors: [`${p}: must be a non-negative integer, got ${describeValue(x)}`] };
  return { ok: true, value: n };
}

function finite(x: unknown, p: string): Parsed<number> {
  const n = readNumber(x);
  if (n === undefined) return { ok: false, errors: [`${p}: must be a finite number, got ${describeValue(x)}`] };
  return { ok: true, value: n };
}

function port(x: unknown, p: string): Parsed<number> {
  const n = readNumber(x);
  // API: ports are integers 0–65535.
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > 65_535)
    return { ok: false, errors: [`${p}: must be a port number 0–65535, got ${describeValue(x)}`] };
  return { ok: true, value: n };
}

function cidr(x: unknown, p: string): Parsed<string> {
  const problem = cidrProblem(x);
  return problem === null ? { ok: true, value: x as string } : { ok: false, errors: [`${p}: ${problem}`] };
}

function str(x: unknown, p: string): Parsed<string> {
  if (typeof x !== 'string' || x.length === 0 || x.length > 1024)
    return { ok: false, errors: [`${p}: must be a non-empty string (at most 1024 characters), got ${describeValue(x)}`] };
  return { ok: true, value: x };
}

/** Parse `{count|number|numbers|ports|cidrs|strings}` with exactly one container. `path` names the object. */
export function parseMetricValue(x: unknown, path: string): Parsed<MetricValue> {
  if (!isPlainObject(x))
    return { ok: false, errors: [`${path}: must be an object with one of ${valueContainers.join(', ')}, got ${describeValue(x)}`] };
  const keys = Object.keys(x);
  const unknown = keys.filter((k) => !(valueContainers as readonly string[]).includes(k));
  if (unknown.length > 0)
    return { ok: false, errors: unknown.map((k) => `${path}.${k}: is not a known field (one of ${valueContainers.join(', ')})`) };
  if (keys.length !== 1) return { ok: false, errors: [`${path}: must contain exactly one of ${valueContainers.join(', ')}`] };
  const key = keys[0] as ValueContainer;
  const p = `${path}.${key}`;
  const v = x[key];
  switch (key) {
    case 'count': {
      const r = count(v, p);
      return r.ok ? { ok: true, value: { count: r.value } } : r;
    }
    case 'number': {
      const r = finite(v, p);
      return r.ok ? { ok: true, value: { number: r.value } } : r;
    }
    case 'numbers': {
      const r = listOf(p, v, finite);
      return r.ok ? { ok: true, value: { numbers: r.value } } : r;
    }
    case 'ports': {
      const r = listOf(p, v, port);
      return r.ok ? { ok: true, value: { ports: r.value } } : r;
    }
    case 'cidrs': {
      const r = listOf(p, v, cidr);
      return r.ok ? { ok: true, value: { cidrs: r.value } } : r;
    }
    case 'strings': {
      const r = listOf(p, v, str);
      return r.ok ? { ok: true, value: { strings: r.value } } : r;
    }
  }
}

/** Which container a MetricValue uses. */
export function containerOf(v: MetricValue): ValueContainer {
  if ('count' in v) return 'count';
  if ('number' in v) return 'number';
  if ('numbers' in v) return 'numbers';
  if ('ports' in v) return 'ports';
  if ('cidrs' in v) return 'cidrs';
  return 'strings';
}
