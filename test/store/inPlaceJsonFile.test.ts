import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InPlaceJsonFile } from '../../src/store/inPlaceJsonFile.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dedge-inplace-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const anything = () => null;

describe('InPlaceJsonFile', () => {
  it('rewrites one fixed-size block in place: a shorter value leaves nothing of the longer one behind', () => {
    const f = new InPlaceJsonFile<{ through: number; nucleus: string }>(join(dir, 'mark.json'), 128);
    expect(f.read(anything)).toEqual({ kind: 'missing' });
    f.write({ through: 123456789, nucleus: 'a-rather-long-identity-string' });
    f.write({ through: 7, nucleus: 'b' });
    f.close();
    expect(statSync(f.path).size).toBe(128);
    expect(f.read(anything)).toEqual({ kind: 'ok', value: { through: 7, nucleus: 'b' } });
    expect(readFileSync(f.path, 'utf8').endsWith(' \n')).toBe(true);
  });

  it('refuses a value that does not fit, and reports a torn or foreign file as corrupt', () => {
    const f = new InPlaceJsonFile<string>(join(dir, 'mark.json'), 16);
    expect(() => f.write('x'.repeat(20))).toThrow(/do not fit in 15/);
    writeFileSync(f.path, '{"through": 1, "nu');
    expect(f.read(anything).kind).toBe('corrupt');
    writeFileSync(f.path, '[]');
    expect(f.read((v) => (Array.isArray(v) ? 'not an array' : null))).toEqual({ kind: 'corrupt', error: 'not an array' });
    expect(() => new InPlaceJsonFile(join(dir, 'big.json'), 8192)).toThrow(/one page/);
  });
});
