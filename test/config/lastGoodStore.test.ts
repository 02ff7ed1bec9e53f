import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LastGoodConfigStore } from '../../src/config/lastGoodStore.ts';
import { behaviorsCheck } from '../../src/localrules/configCheck.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dedge-lastgood-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const good = {
  behaviors: [
    {
      name: 'bytesOut',
      metric: 'aws:all-bytes-out',
      criteria: { comparisonOperator: 'less-than', value: { count: 10000 }, durationSeconds: 300 },
    },
  ],
};
const bad = {
  behaviors: [{ name: 'bytesOut', metric: 'aws:all-bytes-out', criteria: { comparisonOperator: 'less-than', value: { count: -5 } } }],
};

describe('last good configuration store', () => {
  it('persists a valid configuration, refuses a bad one and keeps the good one across a restart', () => {
    const path = join(dir, 'config', 'last-good.json');
    const store = new LastGoodConfigStore(path, [behaviorsCheck]);
    expect(store.load()).toEqual({ kind: 'missing' });
    expect(store.saveIfValid(good, 1000).ok).toBe(true);
    const refused = store.saveIfValid(bad, 2000);
    expect(refused).toEqual({ ok: false, errors: ['behaviors[0].criteria.value.count: must be a non-negative integer, got number -5'] });
    // A new process (restart) reads the same file.
    const loaded = new LastGoodConfigStore(path, [behaviorsCheck]).load();
    expect(loaded.kind).toBe('ok');
    if (loaded.kind !== 'ok') return;
    expect(loaded.savedAt).toBe(1000);
    expect(loaded.raw).toEqual(good);
    expect(loaded.config.behaviors).toEqual(good.behaviors);
    expect(loaded.config.sampling.intervalMs).toBe(1000);
  });

  it('does not trust a file that no longer validates, and quarantines one that does not parse', () => {
    const path = join(dir, 'last-good.json');
    writeFileSync(path, JSON.stringify({ savedAt: 1, config: bad }));
    const store = new LastGoodConfigStore(path, [behaviorsCheck]);
    expect(store.load()).toEqual({
      kind: 'invalid',
      errors: ['behaviors[0].criteria.value.count: must be a non-negative integer, got number -5'],
    });
    writeFileSync(path, '{"savedAt": 1, "config": ');
    expect(store.load().kind).toBe('corrupt');
    expect(readdirSync(dir).some((f) => f.startsWith('last-good.json.corrupt-'))).toBe(true);
    expect(store.load()).toEqual({ kind: 'missing' });
  });
});
