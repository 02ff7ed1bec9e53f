import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/validate.ts';
import { behaviorsCheck, behaviorsOf, evaluatorOptionsOf } from '../../src/localrules/configCheck.ts';

describe('behaviors in the component configuration', () => {
  it('refuses a bad behavior with its full path and accepts a good one', () => {
    const r = validateConfig(
      {
        behaviors: [
          { name: 'ok', metric: 'aws:all-bytes-in', criteria: { comparisonOperator: 'less-than', value: { count: 1 } } },
          { name: 'x', metric: 'aws:listening-tcp-ports', criteria: { comparisonOperator: 'in-port-set', value: { ports: ['ssh'] } } },
        ],
      },
      [behaviorsCheck],
    );
    expect(r).toEqual({ ok: false, errors: ['behaviors[1].criteria.value.ports[0]: must be a port number 0–65535, got string "ssh"'] });
    const ok = validateConfig(
      {
        behaviors: [
          {
            name: 'ok',
            metric: 'aws:all-bytes-in',
            criteria: { comparisonOperator: 'less-than', value: { count: 1 }, durationSeconds: 600 },
          },
        ],
        violations: { invalidateAfterSeconds: 60 },
      },
      [behaviorsCheck],
    );
    expect(ok.ok).toBe(true);
    if (!ok.ok) return;
    expect(behaviorsOf(ok.config).map((b) => b.name)).toEqual(['ok']);
    const o = evaluatorOptionsOf(ok.config);
    expect(o.invalidateAfterMs).toBe(60_000);
    expect(o.processIdleMs).toBe(600_000);
    expect(o.statistics).toEqual({ windowMs: 86_400_000, maxSamples: 288, minSamples: 12 });
  });

  it('validates the statistics section through the schema', () => {
    const r = validateConfig({ statistics: { windowSeconds: 10, minSamples: 0 } }, [behaviorsCheck]);
    expect(r.ok ? [] : r.errors).toEqual([
      'statistics.windowSeconds: must be >= 300, got number 10',
      'statistics.minSamples: must be >= 1, got number 0',
    ]);
  });
});
