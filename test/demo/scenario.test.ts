// The scenario's configuration is a valid component configuration carrying the scenario's profile
// exactly (docs/demo.md#the-scenario), per process, with the chosen action and mode.
import { describe, expect, it } from 'vitest';
import { validateComponentConfig } from '../../src/agent/configChecks.ts';
import { scenarioConfig, seedBehaviors } from '../../src/demo/scenario.ts';
import { behaviorsOf } from '../../src/localrules/configCheck.ts';

describe('scenario configuration', () => {
  it('passes the one schema and every module check, with the scenario profile scoped per process', () => {
    const raw = scenarioConfig({
      stateDir: '/tmp/x/state',
      samplingMs: 1000,
      mode: 'enforce',
      action: 'process-terminate',
      deviceThing: 'MyDevice',
    });
    const r = validateComponentConfig(raw);
    if (!r.ok) throw new Error(r.errors.join('; '));
    expect(r.config.enforcement.mode).toBe('enforce');
    expect(r.config.collector.includeLoopback).toBe(true);
    expect(r.config.downstream.devices).toEqual([]);
    const behaviors = behaviorsOf(r.config);
    expect(behaviors.map((b) => [b.name, b.metric, b.criteria.comparisonOperator, b.criteria.value, b.criteria.durationSeconds])).toEqual([
      ['msgReceive', 'aws:num-messages-received', 'less-than', { count: 100 }, 300],
      ['bytesOut', 'aws:all-bytes-out', 'less-than', { count: 10000 }, 300],
    ]);
    for (const b of behaviors) {
      expect(b.edge?.scope).toMatchObject({ host: false, processes: true, devices: false });
      expect(b.edge?.action).toMatchObject({ type: 'process-terminate' });
    }
  });

  it('dry-run and suspend are carried through; a bad sampling interval is refused by the schema', () => {
    const dry = validateComponentConfig(
      scenarioConfig({ stateDir: 's', samplingMs: 500, mode: 'dry-run', action: 'process-suspend', deviceThing: 'D' }),
    );
    if (!dry.ok) throw new Error(dry.errors.join('; '));
    expect(dry.config.enforcement.mode).toBe('dry-run');
    expect(dry.config.sampling.intervalMs).toBe(500);
    expect(seedBehaviors({ type: 'process-suspend', ttlSeconds: 60 })[1]).toMatchObject({
      edge: { action: { type: 'process-suspend', ttlSeconds: 60 } },
    });
    const bad = validateComponentConfig(
      scenarioConfig({ stateDir: 's', samplingMs: 5, mode: 'enforce', action: 'process-terminate', deviceThing: 'D' }),
    );
    expect(bad.ok).toBe(false);
    expect(bad.ok ? [] : bad.errors).toContainEqual(expect.stringMatching(/^sampling\.intervalMs: must be >= 100, got number /));
  });
});
