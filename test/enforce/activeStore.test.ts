import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ActiveAction } from '../../src/enforce/actionModel.ts';
import { loadEnforcementState, saveEnforcementState } from '../../src/enforce/activeStore.ts';

const action = (over: Partial<ActiveAction> = {}): ActiveAction => ({
  id: 'a1',
  type: 'address-block',
  target: { kind: 'addresses', addresses: ['10.0.0.2'] },
  backend: 'nft',
  appliedAt: 1,
  expiresAt: 2,
  escalationLevel: 0,
  revertOnClear: false,
  offenceKey: 'device:d',
  violation: {
    violationId: 'v',
    thingName: 'd',
    behavior: 'b',
    metric: 'm',
    event: 'in-alarm',
    t: 1,
    offender: { kind: 'device', thingName: 'd', addresses: ['10.0.0.2'] },
  },
  ...over,
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dedge-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('enforcement state file', () => {
  it('round-trips actions and offences', () => {
    const path = join(dir, 'active.json');
    saveEnforcementState(path, { version: 1, actions: [action()], offences: { 'device:d': { count: 2, lastAt: 5 } } });
    expect(loadEnforcementState(path)).toEqual({
      state: { version: 1, actions: [action()], offences: { 'device:d': { count: 2, lastAt: 5 } } },
      errors: [],
    });
  });

  it('starts empty when the file is missing', () => {
    expect(loadEnforcementState(join(dir, 'nope.json'))).toEqual({ state: { version: 1, actions: [], offences: {} }, errors: [] });
  });

  it('quarantines a corrupt file and starts clean', () => {
    const path = join(dir, 'active.json');
    writeFileSync(path, '{"version":1,"actions":[');
    const r = loadEnforcementState(path);
    expect(r.state.actions).toEqual([]);
    expect(r.errors[0]).toContain('active.json');
    expect(readdirSync(dir).some((f) => f.startsWith('active.json.corrupt-'))).toBe(true);
  });

  it('drops only the entries that cannot be trusted, naming the field', () => {
    const path = join(dir, 'active.json');
    writeFileSync(
      path,
      JSON.stringify({
        version: 1,
        actions: [
          action(),
          action({ id: 'a2', target: { kind: 'process', pid: -4, startTime: 1, comm: 'x' } }),
          action({ id: 'a3', target: { kind: 'addresses', addresses: ['1.2.3'] } }),
        ],
        offences: { k: 'x' },
      }),
    );
    const r = loadEnforcementState(path);
    expect(r.state.actions.map((a) => a.id)).toEqual(['a1']);
    expect(r.errors).toEqual([
      expect.stringMatching(/^actions\[1\]\.target\.pid: /),
      expect.stringMatching(/^actions\[2\]\.target\.addresses\[0\]: /),
      'offences.k: must be {count, lastAt}',
    ]);
  });
});
