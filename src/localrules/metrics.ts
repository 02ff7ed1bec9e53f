// The metrics a local behavior can name, with the operators, value container and durations the service
// allows for each (device-side and cloud-side metrics guides, API `BehaviorCriteria`; docs/localrules.md).
import type { ValueContainer } from './metricValue.ts';

export type ComparisonOperator =
  | 'less-than'
  | 'less-than-equals'
  | 'greater-than'
  | 'greater-than-equals'
  | 'in-cidr-set'
  | 'not-in-cidr-set'
  | 'in-port-set'
  | 'not-in-port-set'
  | 'in-set'
  | 'not-in-set';

/** All ten values of the API enum (API `BehaviorCriteria`; the behaviors guide's prose lists only eight). */
export const comparisonOperators: readonly ComparisonOperator[] = [
  'less-than',
  'less-than-equals',
  'greater-than',
  'greater-than-equals',
  'in-cidr-set',
  'not-in-cidr-set',
  'in-port-set',
  'not-in-port-set',
  'in-set',
  'not-in-set',
];

export const numericOperators: readonly ComparisonOperator[] = ['less-than', 'less-than-equals', 'greater-than', 'greater-than-equals'];

/**
 * How a metric's datapoints behave over time:
 * - `delta`: a count over the sample's interval (bytes, packets, messages); with `durationSeconds` the
 *   evaluator sums a sliding window of that length (docs/localrules.md "Windows").
 * - `snapshot`: a point-in-time value (ports, connections, custom metrics), evaluated per datapoint.
 */
export type MetricTiming = 'delta' | 'snapshot';

export interface MetricInfo {
  /** value container of both the behavior's `criteria.value` and the datapoints */
  container: ValueContainer;
  timing: MetricTiming;
  /** allowed `durationSeconds`; undefined = not allowed; 'statistical-only' = only with statisticalThreshold */
  durations?: readonly number[] | 'statistical-only';
}

/** The device-side durations 300, 600, 900, 1800, 3600 (device-side metrics guide). */
export const serviceDurations: readonly number[] = [300, 600, 900, 1800, 3600];

const deltaCount: MetricInfo = { container: 'count', timing: 'delta', durations: serviceDurations };
const snapshotCount: MetricInfo = { container: 'count', timing: 'snapshot', durations: serviceDurations };

/** Built-in metrics the edge evaluates. */
export const awsMetrics: Readonly<Record<string, MetricInfo>> = {
  // Device-side metrics.
  'aws:all-bytes-out': deltaCount,
  'aws:all-bytes-in': deltaCount,
  'aws:all-packets-out': deltaCount,
  'aws:all-packets-in': deltaCount,
  'aws:num-listening-tcp-ports': snapshotCount,
  'aws:num-listening-udp-ports': snapshotCount,
  'aws:num-established-tcp-connections': snapshotCount,
  // "Cannot be used with list-based metric datatypes" (API) — no durationSeconds.
  'aws:listening-tcp-ports': { container: 'ports', timing: 'snapshot' },
  'aws:listening-udp-ports': { container: 'ports', timing: 'snapshot' },
  'aws:destination-ip-addresses': { container: 'cidrs', timing: 'snapshot' },
  // Cloud-side message metrics, counted locally from the collector's pub/sub message counts.
  'aws:num-messages-sent': deltaCount,
  'aws:num-messages-received': deltaCount,
  // Per-message size; durationSeconds only with statisticalThreshold (cloud-side metrics guide).
  'aws:message-byte-size': { container: 'count', timing: 'snapshot', durations: 'statistical-only' },
};

/** Cloud-side metrics AWS IoT computes from its own connection logs (cloud-side metrics guide); nothing on the gateway sees them. */
export const cloudOnlyMetrics: readonly string[] = [
  'aws:num-authorization-failures',
  'aws:source-ip-address',
  'aws:num-connection-attempts',
  'aws:num-disconnects',
  'aws:disconnect-duration',
];

/** Operators that fit each value container (API `BehaviorCriteria`, docs/reports.md#custom-metrics). */
export const operatorsFor: Readonly<Record<ValueContainer, readonly ComparisonOperator[]>> = {
  count: numericOperators,
  number: numericOperators,
  ports: ['in-port-set', 'not-in-port-set'],
  cidrs: ['in-cidr-set', 'not-in-cidr-set'],
  numbers: ['in-set', 'not-in-set'],
  strings: ['in-set', 'not-in-set'],
};

/** Custom metric names (API CreateCustomMetric): 1–128 of [a-zA-Z0-9:_-], not `aws:`. */
export const customMetricNamePattern = /^[a-zA-Z0-9:_-]{1,128}$/;

/**
 * Custom metrics have a type fixed when created in the account (number, number-list, string-list,
 * ip-address-list); the edge does not see the account, so the type follows from the behavior's value
 * container. Custom metrics are snapshots: "Cannot be used with list-based metric datatypes" for
 * durationSeconds; a custom `number` keeps the service durations.
 */
export function customMetricInfo(container: ValueContainer): MetricInfo {
  if (container === 'number') return { container, timing: 'snapshot', durations: serviceDurations };
  return { container, timing: 'snapshot' };
}
