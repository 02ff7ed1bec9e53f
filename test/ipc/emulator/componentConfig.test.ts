import { describe, expect, it } from 'vitest';
import { changedPaths, getAtPath, mergeAtPath, mergeConfig, pathsOverlap } from '../../../src/ipc/emulator/componentConfig.ts';

describe('mergeConfig', () => {
  it('merges objects, replaces lists and scalars, keeps null, does not mutate inputs', () => {
    const base = { a: { b: 1, c: [1, 2] }, d: 'x' };
    const out = mergeConfig(base, { a: { c: [3], e: null }, f: true });
    expect(out).toEqual({ a: { b: 1, c: [3], e: null }, d: 'x', f: true });
    expect(base).toEqual({ a: { b: 1, c: [1, 2] }, d: 'x' });
  });
});

describe('mergeAtPath / getAtPath', () => {
  it('merges under a key path, creating the path', () => {
    expect(mergeAtPath({ a: 1 }, ['x', 'y'], { z: 2 })).toEqual({ a: 1, x: { y: { z: 2 } } });
    expect(mergeAtPath({ x: { y: { k: 1 } } }, ['x', 'y'], { z: 2 })).toEqual({ x: { y: { k: 1, z: 2 } } });
  });
  it('finds values and reports missing paths', () => {
    expect(getAtPath({ a: { b: 0 } }, ['a', 'b'])).toEqual({ found: true, value: 0 });
    expect(getAtPath({ a: { b: 0 } }, [])).toEqual({ found: true, value: { a: { b: 0 } } });
    expect(getAtPath({ a: { b: 0 } }, ['a', 'c'])).toEqual({ found: false });
    expect(getAtPath({ a: 5 }, ['a', 'b'])).toEqual({ found: false });
  });
});

describe('changedPaths / pathsOverlap', () => {
  it('lists changed leaves and added/removed nodes', () => {
    expect(changedPaths({ a: { b: 1, c: 2 }, d: 1 }, { a: { b: 1, c: 3 }, e: { f: 1 } })).toEqual([['a', 'c'], ['d'], ['e']]);
    expect(changedPaths({ a: [1] }, { a: [1] })).toEqual([]);
  });
  it('overlap means one path is a prefix of the other', () => {
    expect(pathsOverlap([], ['a'])).toBe(true);
    expect(pathsOverlap(['a'], ['a', 'b'])).toBe(true);
    expect(pathsOverlap(['a', 'b', 'c'], ['a'])).toBe(true);
    expect(pathsOverlap(['a', 'x'], ['a', 'b'])).toBe(false);
  });
});
