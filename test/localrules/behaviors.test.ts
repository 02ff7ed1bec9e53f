import { describe, expect, it } from 'vitest';
import { parseBehavior, parseBehaviors, statistics } from '../../src/localrules/behaviors.ts';
import { comparisonOperators } from '../../src/localrules/metrics.ts';

const bytesOut = {
  name: 'bytesOut',
  metric: 'aws:all-bytes-out',
  criteria: { comparisonOperator: 'less-than', value: { count: 10000 }, durationSeconds: 300 },
};

function errorsOf(b: unknown): string[] {
  const r = parseBehavior(b, 'behaviors[3]');
  return r.ok ? [] : r.errors;
}

function withCriteria(metric: string, criteria: Record<string, unknown>): unknown {
  return { name: 'b', metric, criteria };
}

describe('behavior model', () => {
  it('accepts the rogue-agent behavior as the AWS CLI writes it and fills defaults', () => {
    const r = parseBehavior(bytesOut, 'behaviors[0]');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.criteria).toEqual({
      comparisonOperator: 'less-than',
      value: { count: 10000 },
      durationSeconds: 300,
      consecutiveDatapointsToAlarm: 1,
      consecutiveDatapointsToClear: 1,
    });
    expect(r.value.suppressAlerts).toBe(false);
    expect(r.value.edge.scope).toEqual({ host: true, processes: false, devices: true, things: [] });
    expect(r.value.edge.action).toEqual({ type: 'none' });
  });

  it('accepts a describe-security-profile output with every service field', () => {
    const r = parseBehaviors([
      { ...bytesOut, suppressAlerts: true, exportMetric: false },
      {
        name: 'great-than-75',
        metric: 'batteryPercentage',
        criteria: {
          comparisonOperator: 'greater-than',
          value: { number: 75 },
          consecutiveDatapointsToAlarm: 5,
          consecutiveDatapointsToClear: 1,
        },
      },
      {
        name: 'dst',
        metric: 'aws:destination-ip-addresses',
        criteria: { comparisonOperator: 'not-in-cidr-set', value: { cidrs: ['12.8.0.0/16', '2001:db8::/32'] } },
      },
      {
        name: 'p90',
        metric: 'aws:message-byte-size',
        criteria: {
          comparisonOperator: 'less-than',
          statisticalThreshold: { statistic: 'p90' },
          durationSeconds: 300,
          consecutiveDatapointsToAlarm: 3,
        },
      },
      { name: 'fw', metric: 'firmware', criteria: { comparisonOperator: 'in-set', value: { strings: ['1.0', '1.1'] } } },
      { name: 'ids', metric: 'sensorIds', criteria: { comparisonOperator: 'not-in-set', value: { numbers: [1, 2.5] } } },
      { name: 'peers', metric: 'peerList', criteria: { comparisonOperator: 'in-cidr-set', value: { cidrs: ['10.0.0.0/8'] } } },
    ]);
    expect(r.ok ? [] : r.errors).toEqual([]);
  });

  it('accepts every one of the ten operators on a metric it fits', () => {
    const fits: Record<string, [string, Record<string, unknown>]> = {
      'less-than': ['aws:all-bytes-in', { count: 1 }],
      'less-than-equals': ['aws:all-packets-in', { count: 1 }],
      'greater-than': ['aws:num-listening-tcp-ports', { count: 0 }],
      'greater-than-equals': ['custom', { number: -1.5 }],
      'in-cidr-set': ['aws:destination-ip-addresses', { cidrs: ['10.0.0.0/8'] }],
      'not-in-cidr-set': ['ipList', { cidrs: ['::1'] }],
      'in-port-set': ['aws:listening-tcp-ports', { ports: [22] }],
      'not-in-port-set': ['aws:listening-udp-ports', { ports: [0, 65535] }],
      'in-set': ['strs', { strings: ['a'] }],
      'not-in-set': ['nums', { numbers: [1] }],
    };
    expect(Object.keys(fits).sort()).toEqual([...comparisonOperators].sort());
    for (const [op, [metric, value]] of Object.entries(fits)) {
      expect(errorsOf(withCriteria(metric, { comparisonOperator: op, value })), op).toEqual([]);
    }
  });

  it('accepts exactly the eleven statistics', () => {
    expect(statistics).toHaveLength(11);
    for (const s of statistics)
      expect(
        errorsOf(withCriteria('aws:all-bytes-out', { comparisonOperator: 'less-than', statisticalThreshold: { statistic: s } })),
      ).toEqual([]);
    expect(
      errorsOf(withCriteria('aws:all-bytes-out', { comparisonOperator: 'less-than', statisticalThreshold: { statistic: 'p95' } })),
    ).toEqual([
      'behaviors[3].criteria.statisticalThreshold.statistic: must be one of p0, p0.1, p0.01, p1, p10, p50, p90, p99, p99.9, p99.99, p100, got string "p95"',
    ]);
  });

  it('names the field of each service rule it breaks', () => {
    expect(errorsOf({ ...bytesOut, name: 'has space' })).toEqual([
      'behaviors[3].name: must be 1–128 characters of [a-zA-Z0-9:_-], got string "has space"',
    ]);
    expect(errorsOf(withCriteria('aws:all-bytes-out', { comparisonOperator: 'less-than', value: { count: -1 } }))).toEqual([
      'behaviors[3].criteria.value.count: must be a non-negative integer, got number -1',
    ]);
    expect(errorsOf(withCriteria('aws:all-bytes-out', { comparisonOperator: 'less-than', value: { count: 1.5 } }))).toEqual([
      'behaviors[3].criteria.value.count: must be a non-negative integer, got number 1.5',
    ]);
    expect(errorsOf(withCriteria('aws:all-bytes-out', { comparisonOperator: 'between', value: { count: 1 } }))[0]).toMatch(
      /^behaviors\[3\]\.criteria\.comparisonOperator: must be one of less-than, /,
    );
    expect(errorsOf(withCriteria('aws:all-bytes-out', { comparisonOperator: 'in-port-set', value: { ports: [1] } }))).toEqual([
      'behaviors[3].criteria.comparisonOperator: in-port-set does not apply to aws:all-bytes-out; use less-than or ' +
        'less-than-equals or greater-than or greater-than-equals',
      'behaviors[3].criteria.value: aws:all-bytes-out takes value.count, got value.ports',
    ]);
    expect(errorsOf(withCriteria('aws:listening-tcp-ports', { comparisonOperator: 'in-port-set', value: { ports: [70000] } }))).toEqual([
      'behaviors[3].criteria.value.ports[0]: must be a port number 0–65535, got number 70000',
    ]);
    expect(
      errorsOf(withCriteria('aws:destination-ip-addresses', { comparisonOperator: 'in-cidr-set', value: { cidrs: ['10.0.0.0/33', 'x'] } })),
    ).toEqual([
      'behaviors[3].criteria.value.cidrs[0]: "10.0.0.0/33" is not an IPv4 or IPv6 address or CIDR',
      'behaviors[3].criteria.value.cidrs[1]: "x" must be 2–43 characters of [a-fA-F0-9:./]',
    ]);
    expect(errorsOf(withCriteria('aws:all-bytes-out', { comparisonOperator: 'less-than', value: { count: 1, number: 2 } }))).toEqual([
      'behaviors[3].criteria.value: must contain exactly one of count, cidrs, ports, number, numbers, strings',
    ]);
    expect(errorsOf(withCriteria('aws:all-bytes-out', { comparisonOperator: 'less-than' }))).toEqual([
      'behaviors[3].criteria.value: is required (or statisticalThreshold)',
    ]);
    expect(
      errorsOf(
        withCriteria('aws:all-bytes-out', {
          comparisonOperator: 'less-than',
          value: { count: 1 },
          statisticalThreshold: { statistic: 'p50' },
        }),
      ),
    ).toEqual(['behaviors[3].criteria.value: must not be given together with statisticalThreshold (the statistic is the threshold)']);
  });

  it('checks consecutive datapoints 1–10 and durations as the service does', () => {
    const c = (extra: Record<string, unknown>) =>
      errorsOf(withCriteria('aws:all-bytes-out', { comparisonOperator: 'less-than', value: { count: 1 }, ...extra }));
    for (let n = 1; n <= 10; n++) expect(c({ consecutiveDatapointsToAlarm: n, consecutiveDatapointsToClear: n })).toEqual([]);
    expect(c({ consecutiveDatapointsToAlarm: 0 })).toEqual([
      'behaviors[3].criteria.consecutiveDatapointsToAlarm: must be an integer 1–10, got number 0',
    ]);
    expect(c({ consecutiveDatapointsToClear: 11 })).toEqual([
      'behaviors[3].criteria.consecutiveDatapointsToClear: must be an integer 1–10, got number 11',
    ]);
    for (const d of [300, 600, 900, 1800, 3600]) expect(c({ durationSeconds: d })).toEqual([]);
    expect(c({ durationSeconds: 60 })).toEqual(['behaviors[3].criteria.durationSeconds: must be one of 300, 600, 900, 1800, 3600, got 60']);
    expect(
      errorsOf(
        withCriteria('aws:listening-tcp-ports', { comparisonOperator: 'in-port-set', value: { ports: [22] }, durationSeconds: 300 }),
      ),
    ).toEqual(['behaviors[3].criteria.durationSeconds: cannot be used with list-based metric aws:listening-tcp-ports']);
    expect(
      errorsOf(withCriteria('aws:message-byte-size', { comparisonOperator: 'less-than', value: { count: 1 }, durationSeconds: 300 })),
    ).toEqual(['behaviors[3].criteria.durationSeconds: aws:message-byte-size takes durationSeconds only with statisticalThreshold']);
  });

  it('accepts numbers written as strings, as Greengrass recipes recommend', () => {
    const r = parseBehavior(
      withCriteria('aws:all-bytes-out', {
        comparisonOperator: 'less-than',
        value: { count: '10000' },
        durationSeconds: '300',
        consecutiveDatapointsToAlarm: '2',
      }),
      'b',
    );
    expect(r.ok && r.value.criteria).toEqual({
      comparisonOperator: 'less-than',
      value: { count: 10000 },
      durationSeconds: 300,
      consecutiveDatapointsToAlarm: 2,
      consecutiveDatapointsToClear: 1,
    });
    expect(errorsOf(withCriteria('aws:all-bytes-out', { comparisonOperator: 'less-than', value: { count: 'lots' } }))).toEqual([
      'behaviors[3].criteria.value.count: must be a non-negative integer, got string "lots"',
    ]);
  });

  it('refuses what cannot run on the edge with a clear reason', () => {
    expect(errorsOf({ name: 'ml', metric: 'aws:all-bytes-out', criteria: { mlDetectionConfig: { confidenceLevel: 'HIGH' } } })[0]).toMatch(
      /^behaviors\[3\]\.criteria\.mlDetectionConfig: ML Detect is not supported on the edge/,
    );
    expect(errorsOf({ ...bytesOut, metricDimension: { dimensionName: 'TopicFilter', operator: 'IN' } })[0]).toMatch(
      /^behaviors\[3\]\.metricDimension: dimensions \(TOPIC_FILTER\) are resolved in the cloud/,
    );
    expect(errorsOf({ ...bytesOut, metric: 'aws:num-authorization-failures' })[0]).toMatch(
      /^behaviors\[3\]\.metric: aws:num-authorization-failures is computed by AWS IoT/,
    );
    expect(errorsOf({ ...bytesOut, metric: 'aws:all-bytes-sideways' })[0]).toMatch(
      /^behaviors\[3\]\.metric: unknown metric aws:all-bytes-sideways/,
    );
    expect(errorsOf(withCriteria('myMetric', { comparisonOperator: 'greater-than', value: { count: 75 } }))[0]).toMatch(
      /^behaviors\[3\]\.criteria\.value\.count: custom metrics take value\.number/,
    );
  });

  it('validates the edge extensions separately', () => {
    const edge = (e: unknown) => errorsOf({ ...bytesOut, edge: e });
    expect(
      edge({ scope: { processes: true }, action: { type: 'process-terminate', ttlSeconds: 60, dryRun: true, revertOnClear: false } }),
    ).toEqual([]);
    expect(edge({ scope: { things: ['sensor-1'] }, action: { type: 'interface-down' } })).toEqual([]);
    expect(edge({ action: { type: 'process-terminate' } })).toEqual([
      'behaviors[3].edge.action.type: process-terminate acts on a process; set edge.scope.processes to true',
    ]);
    expect(edge({ scope: { host: true }, action: { type: 'interface-quarantine' } })[0]).toMatch(
      /^behaviors\[3\]\.edge\.action\.type: interface-quarantine acts on a downstream device/,
    );
    expect(edge({ action: { type: 'explode' } })[0]).toMatch(/^behaviors\[3\]\.edge\.action\.type: must be one of none, /);
    expect(edge({ action: { type: 'address-block', ttlSeconds: 0 } })).toEqual([
      'behaviors[3].edge.action.ttlSeconds: must be an integer 1–2592000, got number 0',
    ]);
    expect(edge({ scope: { host: false } })).toEqual([
      'behaviors[3].edge.scope: applies to nothing; set host, processes, devices or things',
    ]);
    expect(edge({ scope: {} })).toEqual(['behaviors[3].edge.scope: applies to nothing; set host, processes, devices or things']);
    expect(edge({ scope: { things: [''] } })).toEqual([
      'behaviors[3].edge.scope.things[0]: must be a thing name of 1–128 characters, got string ""',
    ]);
    expect(edge({ scopes: {} })).toEqual(['behaviors[3].edge.scopes: is not a known field']);
    expect(edge({ thingOverrides: { big: { count: 50000 } } })).toEqual([]);
    expect(edge({ thingOverrides: { big: { ports: [1] } } })).toEqual([
      'behaviors[3].edge.thingOverrides.big: must use value.count like criteria.value',
    ]);
  });

  it('reports every error of every behavior, duplicates and unknown fields included', () => {
    const r = parseBehaviors([bytesOut, { ...bytesOut, extra: 1 }, bytesOut, 'x']);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([
      'behaviors[1].extra: is not a known field',
      'behaviors[2].name: duplicate behavior name "bytesOut" (also behaviors[0])',
      'behaviors[3]: must be an object, got string "x"',
    ]);
    expect(parseBehaviors({})).toEqual({ ok: false, errors: ['behaviors: must be an array of behaviors, got an object'] });
    expect(parseBehaviors(Array.from({ length: 101 }, (_, i) => ({ ...bytesOut, name: `b${i}` }))).ok).toBe(false);
  });
});
