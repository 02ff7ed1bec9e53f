// One input line of `defender-edge evaluate`: a datapoint "exactly as the service sees one report's value"
// — {"t": <seconds>, "thing": "<name>", "metric": "<metric>", "value": <MetricValue>}. Parsed into a
// Datapoint of a downstream-device subject; errors are `path: message` (the CLI adds `line N: `).

import ipaddr from 'ipaddr.js';
import { isPlainObject } from '../plainObject.ts';
import type { Datapoint } from './evaluator.ts';
import { awsMetrics } from './metrics.ts';
import { containerOf, describeValue, type Parsed, parseMetricValue, type ValueContainer } from './metricValue.ts';

/**
 * One parsed line. `containers`: for each metric the profile uses, the value container its behaviors
 * expect. A metric must be one of the service's device-side metrics or a custom metric the profile uses:
 * anything else is a typo that would otherwise match no behavior and pass silently.
 */
export function parseDatapoint(x: unknown, containers: ReadonlyMap<string, ValueContainer>): Parsed<Datapoint> {
  if (!isPlainObject(x)) return { ok: false, errors: [`(line): must be an object {t, thing, metric, value}, got ${describeValue(x)}`] };
  const errors: string[] = Object.keys(x)
    .filter((k) => !['t', 'thing', 'metric', 'value'].includes(k))
    .map((k) => `${k}: is not a known field (t, thing, metric, value)`);
  if (typeof x.t !== 'number' || !Number.isFinite(x.t) || x.t < 0)
    errors.push(`t: must be a time in seconds (a non-negative number), got ${describeValue(x.t)}`);
  if (typeof x.thing !== 'string' || x.thing.length < 1 || x.thing.length > 128)
    errors.push(`thing: must be a thing name of 1–128 characters, got ${describeValue(x.thing)}`);
  if (typeof x.metric !== 'string' || x.metric.length < 1 || x.metric.length > 128)
    errors.push(`metric: must be a metric name, got ${describeValue(x.metric)}`);
  else if (awsMetrics[x.metric] === undefined && !containers.has(x.metric))
    errors.push(`metric: ${JSON.stringify(x.metric)} is neither a Device Defender metric nor a custom metric of the profile`);
  const v = parseMetricValue(x.value, 'value');
  if (!v.ok) errors.push(...v.errors);
  else {
    const metric = typeof x.metric === 'string' ? x.metric : '';
    const expected = awsMetrics[metric]?.container ?? containers.get(metric);
    const got = containerOf(v.value);
    if (expected !== undefined && got !== expected) errors.push(`value: ${metric} takes value.${expected}, got value.${got}`);
    // A datapoint reports addresses (custom ip-address-list: "only valid IPV4 and IPV6 addresses"), not ranges.
    if ('cidrs' in v.value)
      v.value.cidrs.forEach((a, i) => {
        if (!ipaddr.isValid(a)) errors.push(`value.cidrs[${i}]: "${a}" must be an IP address, not a range`);
      });
  }
  if (errors.length > 0 || !v.ok) return { ok: false, errors };
  const thing = x.thing as string;
  return {
    ok: true,
    value: {
      t: Math.round((x.t as number) * 1000),
      thing,
      metric: x.metric as string,
      value: v.value,
      subject: { kind: 'device', thingName: thing, addresses: [] },
    },
  };
}
