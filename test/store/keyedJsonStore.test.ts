import { mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyedJsonStore } from '../../src/store/keyedJsonStore.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dedge-kjs-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('keyed JSON store', () => {
  it('round-trips values under any key, sharded, never using the key as a file name', () => {
    const s = new KeyedJsonStore<{ n: number }>(dir, (v) => (typeof (v as { n?: unknown }).n === 'number' ? null : 'no n'));
    s.put('../../etc/passwd', { n: 1 });
    s.put('thing:a/b', { n: 2 });
    expect(s.get('../../etc/passwd')).toEqual({ kind: 'ok', value: { n: 1 } });
    expect(s.get('thing:a/b')).toEqual({ kind: 'ok', value: { n: 2 } });
    expect(s.pathOf('../../etc/passwd').startsWith(dir)).toBe(true);
    expect(s.get('missing')).toEqual({ kind: 'missing' });
    s.delete('thing:a/b');
    s.delete('thing:a/b');
    expect(s.get('thing:a/b')).toEqual({ kind: 'missing' });
  });

  it('quarantines a value that fails the check', () => {
    const s = new KeyedJsonStore<{ n: number }>(dir, () => 'always bad');
    s.put('k', { n: 1 });
    const r = s.get('k');
    expect(r.kind).toBe('corrupt');
    expect(s.get('k')).toEqual({ kind: 'missing' });
  });

  it('sweeps entries older than a time', () => {
    const s = new KeyedJsonStore<number>(dir, () => null);
    s.put('old', 1);
    s.put('new', 2);
    const past = new Date(Date.now() - 3_600_000);
    utimesSync(s.pathOf('old'), past, past);
    expect(s.sweep(Date.now() - 60_000)).toBe(1);
    expect(s.get('old').kind).toBe('missing');
    expect(s.get('new').kind).toBe('ok');
  });
});
