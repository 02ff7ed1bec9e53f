import { describe, expect, it } from 'vitest';
import { componentConfigChecks } from '../../src/agent/configChecks.ts';
import { coerceBySchema } from '../../src/config/coerce.ts';
import { validateConfig } from '../../src/config/validate.ts';

// What nucleus lite hands back for the recipe's seed profile and a few settings: every scalar a string.
const asLiteReturnsIt = {
  sampling: { intervalMs: '500' },
  reporting: { enabled: 'false', intervalSeconds: '600' },
  collector: { mqttPorts: ['1883', '8883'], includeLoopback: 'true' },
  enforcement: { escalationFactor: '2.5', maxActionsPerMinute: '3', mode: 'dry-run' },
  behaviors: [
    {
      name: 'bytesOut',
      metric: 'aws:all-bytes-out',
      criteria: { comparisonOperator: 'less-than', value: { count: '10000' }, durationSeconds: '300', consecutiveDatapointsToAlarm: '2' },
      suppressAlerts: 'false',
      edge: {
        scope: { host: 'true', processes: 'true', devices: 'false' },
        action: { type: 'process-terminate', ttlSeconds: '600', dryRun: 'true' },
        thingOverrides: { MyDevice: { count: '20000' } },
      },
    },
    {
      name: 'ports',
      metric: 'aws:listening-tcp-ports',
      criteria: { comparisonOperator: 'in-port-set', value: { ports: ['22', '443'] } },
    },
  ],
};

describe('coercion by the one schema', () => {
  it('turns numbers and booleans written as strings back into numbers and booleans where the schema types them', () => {
    const r = validateConfig(asLiteReturnsIt, componentConfigChecks);
    expect(r.ok ? [] : r.errors).toEqual([]);
    if (!r.ok) return;
    expect(r.config.sampling.intervalMs).toBe(500);
    expect(r.config.reporting).toMatchObject({ enabled: false, intervalSeconds: 600 });
    expect(r.config.collector).toMatchObject({ mqttPorts: [1883, 8883], includeLoopback: true });
    expect(r.config.enforcement).toMatchObject({ escalationFactor: 2.5, maxActionsPerMinute: 3, mode: 'dry-run' });
    const [bytesOut, ports] = r.config.behaviors as Array<{ criteria: { value: unknown } }>;
    expect(bytesOut).toEqual({
      name: 'bytesOut',
      metric: 'aws:all-bytes-out',
      criteria: { comparisonOperator: 'less-than', value: { count: 10000 }, durationSeconds: 300, consecutiveDatapointsToAlarm: 2 },
      suppressAlerts: false,
      edge: {
        scope: { host: true, processes: true, devices: false },
        action: { type: 'process-terminate', ttlSeconds: 600, dryRun: true },
        thingOverrides: { MyDevice: { count: 20000 } },
      },
    });
    expect(ports!.criteria.value).toEqual({ ports: [22, 443] });
  });

  it('converts nothing where the schema says string, and leaves the input untouched', () => {
    const raw = { stateDir: '1000', heartbeat: { topic: 'true', intervalSeconds: '60' } };
    const r = validateConfig(raw);
    expect(r.ok && [r.config.stateDir, r.config.heartbeat.topic, r.config.heartbeat.intervalSeconds]).toEqual(['1000', 'true', 60]);
    expect(raw).toEqual({ stateDir: '1000', heartbeat: { topic: 'true', intervalSeconds: '60' } });
  });

  it('a string that is not a number (or true/false) stays an error naming the field and the value', () => {
    const r = validateConfig({
      sampling: { intervalMs: 'fast' },
      reporting: { enabled: 'yes', maxListSize: '0x10' },
      statistics: { windowSeconds: ' 600' },
      enforcement: { escalationFactor: '1e999' },
      thingName: 42,
    });
    expect(r.ok ? [] : r.errors.sort()).toEqual(
      [
        'enforcement.escalationFactor: must be number, got string "1e999"',
        'reporting.enabled: must be boolean, got string "yes"',
        'reporting.maxListSize: must be integer, got string "0x10"',
        'sampling.intervalMs: must be integer, got string "fast"',
        'statistics.windowSeconds: must be integer, got string " 600"',
        // A number where a string belongs is not turned into a string.
        'thingName: must be string, got number 42',
      ].sort(),
    );
  });

  it('a coerced number still meets the schema bounds', () => {
    const r = validateConfig({ sampling: { intervalMs: '5' }, reporting: { intervalSeconds: '299.5' } });
    expect(r.ok ? [] : r.errors).toEqual([
      'sampling.intervalMs: must be >= 100, got number 5',
      'reporting.intervalSeconds: must be integer, got number 299.5',
      'reporting.intervalSeconds: must be >= 300, got number 299.5',
    ]);
  });

  it('behavior values that are not numbers are refused by the behaviors check with their path and value', () => {
    const r = validateConfig(
      {
        behaviors: [
          {
            name: 'b',
            metric: 'aws:all-bytes-out',
            criteria: { comparisonOperator: 'less-than', value: { count: 'many' }, durationSeconds: '300' },
          },
          {
            name: 'c',
            metric: 'aws:all-bytes-out',
            criteria: { comparisonOperator: 'less-than', value: { count: '1' } },
            edge: { scope: { host: 'yes' } },
          },
        ],
      },
      componentConfigChecks,
    );
    expect(r.ok ? [] : r.errors).toEqual([
      'behaviors[0].criteria.value.count: must be a non-negative integer, got string "many"',
      'behaviors[1].edge.scope.host: must be true or false, got string "yes"',
    ]);
  });

  it('returns the same object when nothing needs converting, and keeps a `__proto__` key a plain key', () => {
    const schema = { type: 'object', additionalProperties: { type: 'object', properties: { n: { type: 'integer' } } } };
    const same = { a: { n: 1 } };
    expect(coerceBySchema(same, schema)).toBe(same);
    const hostile = JSON.parse('{"__proto__": {"n": "7"}, "b": {"n": "8"}}') as Record<string, unknown>;
    const out = coerceBySchema(hostile, schema) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toEqual({ n: 7 });
    expect(out.b).toEqual({ n: 8 });
    expect(({} as Record<string, unknown>).n).toBeUndefined();
  });
});
