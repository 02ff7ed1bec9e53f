// Custom metrics (docs/reports.md#custom-metrics; API CreateCustomMetric,
// https://docs.aws.amazon.com/iot/latest/apireference/API_CreateCustomMetric.html):
// `custom_metrics` is an object keyed by the metric name exactly as created (1–128 chars, [a-zA-Z0-9:_-]+,
// not starting with `aws:`); each value is an array holding ONE object with one of `number`, `number_list`,
// `string_list`, `ip_list`. A bare object is rejected by the service (troubleshooting guide).
//
// Data requirements (the C++ v2 SDK's Device Defender sample README): numbers with up to 15 significant digits,
// strings of letters, digits and `:_-/.`, valid IPv4/IPv6 addresses. The service accepts data outside these
// rules but neither shows nor retains it, so here it is accepted with a WARNING rather than an error.

import { isPlainObject } from '../plainObject.ts';
import type { CustomMetricValue } from './model.ts';
import { isIPv4, isIPv6 } from './remoteAddress.ts';
import { childPath, isWellFormedString, type ValidationIssues } from './validationIssues.ts';

const NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const STRING_ITEM = /^[A-Za-z0-9:_\-/.]*$/;
const VALUE_KEYS = ['number', 'number_list', 'string_list', 'ip_list'] as const;

/**
 * Why `name` cannot be a custom metric name, or null. `__proto__` matches the API's pattern but is refused:
 * as an object key it is a prototype-pollution vector, and CBOR decoders mangle it (cborWellFormed.ts).
 */
export function customMetricNameProblem(name: string): string | null {
  if (!NAME.test(name)) return 'must be 1–128 characters of letters, digits, ":", "_" or "-"';
  if (name.startsWith('aws:')) return 'must not begin with "aws:" (reserved for AWS metrics)';
  if (name === '__proto__') return 'is a reserved name';
  return null;
}

function finiteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** More than 15 significant digits: the service keeps only 15 (docs/reports.md#custom-metrics). */
function beyondPrecision(value: number): boolean {
  return Number(value.toPrecision(15)) !== value;
}

/**
 * Read one custom metric value (the array with one object) into the model, recording errors and warnings
 * at `path`. Returns undefined when it is invalid.
 */
export function readCustomMetricValue(raw: unknown, path: string, issues: ValidationIssues): CustomMetricValue | undefined {
  if (!Array.isArray(raw)) {
    issues.error(path, 'must be an array holding one value object, e.g. [{"number": 1}]');
    return undefined;
  }
  if (raw.length !== 1) {
    issues.error(path, `must hold exactly one value object (has ${raw.length})`);
    return undefined;
  }
  const itemPath = `${path}[0]`;
  const item: unknown = raw[0];
  if (!isPlainObject(item)) {
    issues.error(itemPath, 'must be an object with one of number, number_list, string_list, ip_list');
    return undefined;
  }
  const keys = Object.keys(item);
  const unknown = keys.filter((k) => !(VALUE_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    issues.error(childPath(itemPath, unknown[0]!), 'is not a custom metric value field (number, number_list, string_list, ip_list)');
    return undefined;
  }
  if (keys.length !== 1) {
    issues.error(
      itemPath,
      keys.length === 0
        ? 'must have one of number, number_list, string_list, ip_list'
        : `must have exactly one value field (has ${keys.join(', ')})`,
    );
    return undefined;
  }
  const key = keys[0] as (typeof VALUE_KEYS)[number];
  const valuePath = childPath(itemPath, key);
  const value: unknown = item[key];
  if (key === 'number') {
    if (!finiteNumber(value)) {
      issues.error(valuePath, 'must be a finite number');
      return undefined;
    }
    if (beyondPrecision(value)) issues.warn(valuePath, 'has more than 15 significant digits; the service does not retain such values');
    return { number: value };
  }
  if (!Array.isArray(value)) {
    issues.error(valuePath, 'must be an array');
    return undefined;
  }
  const errorsBefore = issues.errors.length;
  if (key === 'number_list') {
    const out: number[] = [];
    for (let i = 0; i < value.length && !issues.full; i++) {
      const v: unknown = value[i];
      if (!finiteNumber(v)) issues.error(`${valuePath}[${i}]`, 'must be a finite number');
      else {
        if (beyondPrecision(v))
          issues.warn(`${valuePath}[${i}]`, 'has more than 15 significant digits; the service does not retain such values');
        out.push(v);
      }
    }
    return issues.errors.length === errorsBefore ? { number_list: out } : undefined;
  }
  const out: string[] = [];
  for (let i = 0; i < value.length && !issues.full; i++) {
    const v: unknown = value[i];
    const itemAt = `${valuePath}[${i}]`;
    if (!isWellFormedString(v)) {
      issues.error(itemAt, 'must be a string');
      continue;
    }
    if (key === 'string_list' && !STRING_ITEM.test(v)) {
      issues.warn(itemAt, 'has characters other than letters, digits and ":_-/."; the service does not retain such values');
    }
    if (key === 'ip_list' && !isIPv4(v) && !isIPv6(v)) {
      issues.warn(itemAt, 'is not an IPv4 or IPv6 address; the service does not retain such values');
    }
    out.push(v);
  }
  if (issues.errors.length !== errorsBefore) return undefined;
  return key === 'string_list' ? { string_list: out } : { ip_list: out };
}
