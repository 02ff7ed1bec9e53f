// The behavior model: a security profile's `behaviors` array exactly as the AWS CLI's
// create-/describe-security-profile use it (API `Behavior`, docs/localrules.md#behaviors), plus our extensions
// in a separate `edge` object. Validation follows the service's rules; every error is
// `behaviors[i].field: message`.

import { isPlainObject } from '../plainObject.ts';
import { ACTION_TYPES, type ActionSpec, type ActionType, type MetricValue, type ScopeSpec } from './contracts.ts';
import {
  awsMetrics,
  type ComparisonOperator,
  cloudOnlyMetrics,
  comparisonOperators,
  customMetricInfo,
  customMetricNamePattern,
  type MetricInfo,
  operatorsFor,
} from './metrics.ts';
import { containerOf, describeValue, type Parsed, parseMetricValue, readNumber } from './metricValue.ts';

/** The 11 statistics the API allows (API `StatisticalThreshold`), exactly these. */
export const statistics = ['p0', 'p0.1', 'p0.01', 'p1', 'p10', 'p50', 'p90', 'p99', 'p99.9', 'p99.99', 'p100'] as const;
export type Statistic = (typeof statistics)[number];

export interface Criteria {
  comparisonOperator: ComparisonOperator;
  /** absent exactly when statisticalThreshold is given */
  value?: MetricValue;
  durationSeconds?: number;
  consecutiveDatapointsToAlarm: number;
  consecutiveDatapointsToClear: number;
  statisticalThreshold?: { statistic: Statistic };
}

/** Our extensions, kept apart from the service's fields so a cloud profile pastes in unchanged. */
export interface EdgeExtension {
  scope: Required<Pick<ScopeSpec, 'host' | 'processes' | 'devices'>> & { things: string[] };
  action: ActionSpec;
  /** per-thing replacement of `criteria.value` (same container), e.g. a bigger budget for one device */
  thingOverrides: Record<string, MetricValue>;
}

export interface Behavior {
  name: string;
  metric: string;
  criteria: Criteria;
  suppressAlerts: boolean;
  exportMetric?: boolean;
  edge: EdgeExtension;
  /** resolved facts about the metric (built-in or custom) */
  metricInfo: MetricInfo;
}

const behaviorKeys = ['name', 'metric', 'metricDimension', 'criteria', 'suppressAlerts', 'exportMetric', 'edge'];
const criteriaKeys = [
  'comparisonOperator',
  'value',
  'durationSeconds',
  'consecutiveDatapointsToAlarm',
  'consecutiveDatapointsToClear',
  'statisticalThreshold',
  'mlDetectionConfig',
];
const namePattern = /^[a-zA-Z0-9:_-]{1,128}$/;
const maxTtlSeconds = 30 * 86_400;

/** Default scope when `edge.scope` is absent (contracts.ts ScopeSpec). */
export const defaultScope = (): EdgeExtension['scope'] => ({ host: true, processes: false, devices: true, things: [] });

function unknownKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string): string[] {
  return Object.keys(obj)
    .filter((k) => !allowed.includes(k))
    .map((k) => `${path}.${k}: is not a known field`);
}

function intIn(x: unknown, path: string, min: number, max: number, errors: string[]): number | undefined {
  const n = readNumber(x);
  if (n === undefined || !Number.isInteger(n) || n < min || n > max) {
    errors.push(`${path}: must be an integer ${min}–${max}, got ${describeValue(x)}`);
    return undefined;
  }
  return n;
}

function bool(x: unknown, path: string, errors: string[]): boolean | undefined {
  if (typeof x === 'boolean') return x;
  errors.push(`${path}: must be true or false, got ${describeValue(x)}`);
  return undefined;
}

function parseScope(x: unknown, path: string, errors: string[]): EdgeExtension['scope'] {
  if (x === undefined) return defaultScope();
  if (!isPlainObject(x)) {
    errors.push(`${path}: must be an object {host, processes, devices, things}, got ${describeValue(x)}`);
    return defaultScope();
  }
  const before = errors.length;
  errors.push(...unknownKeys(x, ['host', 'processes', 'devices', 'things'], path));
  // An explicit scope lists what the behavior applies to: flags it leaves out are false.
  const scope = { host: false, processes: false, devices: false, things: [] as string[] };
  for (const k of ['host', 'processes', 'devices'] as const) {
    if (x[k] !== undefined) scope[k] = bool(x[k], `${path}.${k}`, errors) ?? false;
  }
  if (x.things !== undefined) {
    if (!Array.isArray(x.things)) errors.push(`${path}.things: must be an array of thing names, got ${describeValue(x.things)}`);
    else
      x.things.forEach((t, i) => {
        if (typeof t !== 'string' || t.length < 1 || t.length > 128)
          errors.push(`${path}.things[${i}]: must be a thing name of 1–128 characters, got ${describeValue(t)}`);
        else scope.things.push(t);
      });
  }
  if (errors.length === before && !scope.host && !scope.processes && !scope.devices && scope.things.length === 0) {
    errors.push(`${path}: applies to nothing; set host, processes, devices or things`);
  }
  return scope;
}

function parseAction(x: unknown, path: string, scope: EdgeExtension['scope'], errors: string[]): ActionSpec {
  if (x === undefined) return { type: 'none' };
  if (!isPlainObject(x)) {
    errors.push(`${path}: must be an object {type, ttlSeconds, dryRun, revertOnClear}, got ${describeValue(x)}`);
    return { type: 'none' };
  }
  errors.push(...unknownKeys(x, ['type', 'ttlSeconds', 'dryRun', 'revertOnClear'], path));
  const action: ActionSpec = { type: 'none' };
  if (typeof x.type !== 'string' || !(ACTION_TYPES as readonly string[]).includes(x.type)) {
    errors.push(`${path}.type: must be one of ${ACTION_TYPES.join(', ')}, got ${describeValue(x.type)}`);
  } else {
    action.type = x.type as ActionType;
  }
  if (x.ttlSeconds !== undefined) {
    const ttl = intIn(x.ttlSeconds, `${path}.ttlSeconds`, 1, maxTtlSeconds, errors);
    if (ttl !== undefined) action.ttlSeconds = ttl;
  }
  if (x.dryRun !== undefined) {
    const b = bool(x.dryRun, `${path}.dryRun`, errors);
    if (b !== undefined) action.dryRun = b;
  }
  if (x.revertOnClear !== undefined) {
    const b = bool(x.revertOnClear, `${path}.revertOnClear`, errors);
    if (b !== undefined) action.revertOnClear = b;
  }
  // A process action needs a process to act on: only per-process datapoints name one.
  if (action.type.startsWith('process-') && !scope.processes) {
    errors.push(`${path}.type: ${action.type} acts on a process; set edge.scope.processes to true`);
  }
  // Interfaces are taken down per downstream device (its configured interface), never for the host itself.
  if (action.type.startsWith('interface-') && !scope.devices && scope.things.length === 0) {
    errors.push(`${path}.type: ${action.type} acts on a downstream device's interface; scope the behavior to devices or things`);
  }
  return action;
}

function parseCriteria(x: unknown, path: string, metric: string, errors: string[]): { criteria?: Criteria; info?: MetricInfo } {
  if (!isPlainObject(x)) {
    errors.push(
      `${path}: is required: an object with comparisonOperator and value or statisticalThreshold${x === undefined ? '' : `, got ${describeValue(x)}`}`,
    );
    return {};
  }
  errors.push(...unknownKeys(x, criteriaKeys, path));
  // ML models are trained in the cloud over 14 days (ML Detect, docs/localrules.md); nothing local can stand in.
  if (x.mlDetectionConfig !== undefined) {
    errors.push(
      `${path}.mlDetectionConfig: ML Detect is not supported on the edge (models are trained and held in the cloud); ` +
        `keep this behavior in the cloud profile or replace it with a threshold or statisticalThreshold`,
    );
    return {};
  }
  const before = errors.length;
  const op = x.comparisonOperator;
  if (typeof op !== 'string' || !(comparisonOperators as readonly string[]).includes(op)) {
    errors.push(`${path}.comparisonOperator: must be one of ${comparisonOperators.join(', ')}, got ${describeValue(op)}`);
  }
  const operator = op as ComparisonOperator;

  let value: MetricValue | undefined;
  if (x.value !== undefined) {
    const r = parseMetricValue(x.value, `${path}.value`);
    if (r.ok) value = r.value;
    else errors.push(...r.errors);
  }

  let statisticalThreshold: Criteria['statisticalThreshold'];
  if (x.statisticalThreshold !== undefined) {
    const st = x.statisticalThreshold;
    if (!isPlainObject(st)) errors.push(`${path}.statisticalThreshold: must be an object {statistic}, got ${describeValue(st)}`);
    else {
      errors.push(...unknownKeys(st, ['statistic'], `${path}.statisticalThreshold`));
      if (typeof st.statistic !== 'string' || !(statistics as readonly string[]).includes(st.statistic)) {
        errors.push(`${path}.statisticalThreshold.statistic: must be one of ${statistics.join(', ')}, got ${describeValue(st.statistic)}`);
      } else statisticalThreshold = { statistic: st.statistic as Statistic };
    }
  }
  if (x.value === undefined && x.statisticalThreshold === undefined) {
    errors.push(`${path}.value: is required (or statisticalThreshold)`);
  } else if (x.value !== undefined && x.statisticalThreshold !== undefined) {
    errors.push(`${path}.value: must not be given together with statisticalThreshold (the statistic is the threshold)`);
  }

  // Which metric, and which container fits it.
  let info: MetricInfo | undefined = awsMetrics[metric];
  if (info === undefined && !metric.startsWith('aws:')) {
    const container = value !== undefined ? containerOf(value) : 'number';
    if (container === 'count') {
      // Custom metrics take `number`, not `count` (custom-metrics guide); a Python agent SDK README example is wrong.
      errors.push(
        `${path}.value.count: custom metrics take value.number (number), value.numbers (number-list), value.strings ` +
          `(string-list) or value.cidrs (ip-address-list)`,
      );
    } else if (container === 'ports') {
      errors.push(`${path}.value.ports: custom metrics have no port-list type; use value.numbers`);
    } else info = customMetricInfo(container);
  }
  if (info !== undefined) {
    const ops = operatorsFor[info.container];
    if (typeof op === 'string' && (comparisonOperators as readonly string[]).includes(op) && !ops.includes(operator)) {
      errors.push(`${path}.comparisonOperator: ${op} does not apply to ${metric}; use ${ops.join(' or ')}`);
    }
    if (value !== undefined && containerOf(value) !== info.container) {
      errors.push(`${path}.value: ${metric} takes value.${info.container}, got value.${containerOf(value)}`);
    }
    if (statisticalThreshold !== undefined && info.container !== 'count' && info.container !== 'number') {
      errors.push(`${path}.statisticalThreshold: percentiles apply only to numeric metrics, not to ${metric}`);
    }
  }

  let durationSeconds: number | undefined;
  if (x.durationSeconds !== undefined) {
    const d = readNumber(x.durationSeconds);
    if (d === undefined || !Number.isInteger(d) || d < 1)
      errors.push(`${path}.durationSeconds: must be a positive integer, got ${describeValue(x.durationSeconds)}`);
    else if (info !== undefined) {
      if (info.durations === undefined) errors.push(`${path}.durationSeconds: cannot be used with list-based metric ${metric}`);
      else if (info.durations === 'statistical-only' && statisticalThreshold === undefined)
        errors.push(`${path}.durationSeconds: ${metric} takes durationSeconds only with statisticalThreshold`);
      else {
        const allowed = info.durations === 'statistical-only' ? [300, 600, 900, 1800, 3600] : info.durations;
        if (!allowed.includes(d)) errors.push(`${path}.durationSeconds: must be one of ${allowed.join(', ')}, got ${d}`);
        else durationSeconds = d;
      }
    }
  }
  const consecutiveDatapointsToAlarm =
    x.consecutiveDatapointsToAlarm === undefined
      ? 1
      : intIn(x.consecutiveDatapointsToAlarm, `${path}.consecutiveDatapointsToAlarm`, 1, 10, errors);
  const consecutiveDatapointsToClear =
    x.consecutiveDatapointsToClear === undefined
      ? 1
      : intIn(x.consecutiveDatapointsToClear, `${path}.consecutiveDatapointsToClear`, 1, 10, errors);

  if (errors.length > before || info === undefined) return {};
  const criteria: Criteria = {
    comparisonOperator: operator,
    consecutiveDatapointsToAlarm: consecutiveDatapointsToAlarm!,
    consecutiveDatapointsToClear: consecutiveDatapointsToClear!,
  };
  if (value !== undefined) criteria.value = value;
  if (durationSeconds !== undefined) criteria.durationSeconds = durationSeconds;
  if (statisticalThreshold !== undefined) criteria.statisticalThreshold = statisticalThreshold;
  return { criteria, info };
}

function parseOverrides(x: unknown, path: string, criteria: Criteria | undefined, errors: string[]): Record<string, MetricValue> {
  const out: Record<string, MetricValue> = {};
  if (x === undefined) return out;
  if (!isPlainObject(x)) {
    errors.push(`${path}: must be an object mapping thing names to values, got ${describeValue(x)}`);
    return out;
  }
  for (const [thing, v] of Object.entries(x)) {
    const p = `${path}.${thing}`;
    if (thing.length < 1 || thing.length > 128) errors.push(`${p}: thing names are 1–128 characters`);
    const r = parseMetricValue(v, p);
    if (!r.ok) errors.push(...r.errors);
    else if (criteria !== undefined) {
      if (criteria.value === undefined) errors.push(`${p}: a statisticalThreshold behavior has no value to override`);
      else if (containerOf(r.value) !== containerOf(criteria.value))
        errors.push(`${p}: must use value.${containerOf(criteria.value)} like criteria.value`);
      else out[thing] = r.value;
    }
  }
  return out;
}

function parseEdge(x: unknown, path: string, criteria: Criteria | undefined, errors: string[]): EdgeExtension {
  if (x !== undefined && !isPlainObject(x)) {
    errors.push(`${path}: must be an object {scope, action, thingOverrides}, got ${describeValue(x)}`);
    return { scope: defaultScope(), action: { type: 'none' }, thingOverrides: {} };
  }
  const e = x ?? {};
  errors.push(...unknownKeys(e, ['scope', 'action', 'thingOverrides'], path));
  const scope = parseScope(e.scope, `${path}.scope`, errors);
  const action = parseAction(e.action, `${path}.action`, scope, errors);
  const thingOverrides = parseOverrides(e.thingOverrides, `${path}.thingOverrides`, criteria, errors);
  return { scope, action, thingOverrides };
}

/** Validate one behavior; `path` is e.g. `behaviors[3]`. */
export function parseBehavior(x: unknown, path: string): Parsed<Behavior> {
  if (!isPlainObject(x)) return { ok: false, errors: [`${path}: must be an object, got ${describeValue(x)}`] };
  const errors: string[] = unknownKeys(x, behaviorKeys, path);
  if (typeof x.name !== 'string' || !namePattern.test(x.name)) {
    errors.push(`${path}.name: must be 1–128 characters of [a-zA-Z0-9:_-], got ${describeValue(x.name)}`);
  }
  let metric = '';
  if (typeof x.metric !== 'string' || x.metric.length === 0) {
    // The API lets `metric` be absent for ML behaviors only; every local behavior needs one.
    errors.push(
      `${path}.metric: is required: an aws: metric or a custom metric name${x.metric === undefined ? '' : `, got ${describeValue(x.metric)}`}`,
    );
  } else if (cloudOnlyMetrics.includes(x.metric)) {
    errors.push(
      `${path}.metric: ${x.metric} is computed by AWS IoT from its own connection data and cannot be evaluated on the ` +
        `edge; keep this behavior in the cloud profile`,
    );
  } else if (x.metric.startsWith('aws:') && awsMetrics[x.metric] === undefined) {
    errors.push(`${path}.metric: unknown metric ${x.metric}; built-in metrics are ${Object.keys(awsMetrics).join(', ')}`);
  } else if (!x.metric.startsWith('aws:') && !customMetricNamePattern.test(x.metric)) {
    errors.push(`${path}.metric: custom metric names are 1–128 characters of [a-zA-Z0-9:_-], got ${describeValue(x.metric)}`);
  } else metric = x.metric;

  if (x.metricDimension !== undefined) {
    // The only dimension type is TOPIC_FILTER, a named account object resolved in the cloud
    // (https://docs.aws.amazon.com/iot-device-defender/latest/devguide/scoping-security-behavior.html). The
    // collector counts messages per device over downstream.messageTopics, not per topic filter, so a dimension
    // cannot be honoured locally; refusing is better than a silent widening.
    errors.push(
      `${path}.metricDimension: dimensions (TOPIC_FILTER) are resolved in the cloud and are not supported on the edge; ` +
        `local message metrics count the topics in downstream.messageTopics — remove metricDimension or keep this ` +
        `behavior in the cloud profile`,
    );
  }
  const { criteria, info } =
    metric === '' ? { criteria: undefined, info: undefined } : parseCriteria(x.criteria, `${path}.criteria`, metric, errors);
  if (metric === '' && x.criteria === undefined) errors.push(`${path}.criteria: is required`);

  let suppressAlerts = false;
  if (x.suppressAlerts !== undefined) suppressAlerts = bool(x.suppressAlerts, `${path}.suppressAlerts`, errors) ?? false;
  let exportMetric: boolean | undefined;
  if (x.exportMetric !== undefined) exportMetric = bool(x.exportMetric, `${path}.exportMetric`, errors);
  const edge = parseEdge(x.edge, `${path}.edge`, criteria, errors);

  if (errors.length > 0 || criteria === undefined || info === undefined)
    return { ok: false, errors: errors.length > 0 ? errors : [`${path}: is invalid`] };
  const behavior: Behavior = { name: x.name as string, metric, criteria, suppressAlerts, edge, metricInfo: info };
  if (exportMetric !== undefined) behavior.exportMetric = exportMetric;
  return { ok: true, value: behavior };
}

/** Validate a whole `behaviors` array (at most 100, unique names — API CreateSecurityProfile). */
export function parseBehaviors(x: unknown, path = 'behaviors'): Parsed<Behavior[]> {
  if (!Array.isArray(x)) return { ok: false, errors: [`${path}: must be an array of behaviors, got ${describeValue(x)}`] };
  const errors: string[] = [];
  if (x.length > 100) errors.push(`${path}: at most 100 behaviors per profile, got ${x.length}`);
  const out: Behavior[] = [];
  const seen = new Map<string, number>();
  x.forEach((b, i) => {
    const r = parseBehavior(b, `${path}[${i}]`);
    if (!r.ok) {
      errors.push(...r.errors);
      return;
    }
    const first = seen.get(r.value.name);
    if (first !== undefined) errors.push(`${path}[${i}].name: duplicate behavior name "${r.value.name}" (also ${path}[${first}])`);
    else seen.set(r.value.name, i);
    out.push(r.value);
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: out };
}
