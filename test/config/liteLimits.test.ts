import { describe, expect, it } from 'vitest';
import {
  LITE_MAX_SUBOBJECTS,
  liteConfigurationProblems,
  liteDepth,
  liteObjectProblems,
  liteSubobjectCount,
} from '../../src/config/liteLimits.ts';

describe('sub-objects counted the way nucleus lite counts them', () => {
  it('2 per map entry, 1 per list element, summed over the whole tree; scalars add nothing', () => {
    expect(liteSubobjectCount('x')).toBe(0);
    expect(liteSubobjectCount({})).toBe(0);
    expect(liteSubobjectCount([])).toBe(0);
    expect(liteSubobjectCount({ a: 1 })).toBe(2);
    expect(liteSubobjectCount([1, 2, 3])).toBe(3);
    // root map: 2 entries (4); list of 2 (2); {c: 1} (2); [true] (1) → 9
    expect(liteSubobjectCount({ a: [{ c: 1 }, [true]], b: null })).toBe(9);
  });

  it('accepts exactly 255 and refuses 256, naming the object and both numbers', () => {
    const list = (n: number) => Array.from({ length: n }, (_, i) => i);
    expect(liteObjectProblems('x', { a: list(253) })).toEqual([]); // 2 + 253
    expect(liteSubobjectCount({ a: list(253) })).toBe(LITE_MAX_SUBOBJECTS);
    expect(liteObjectProblems('DefaultConfiguration', { a: list(254) })).toEqual([
      'DefaultConfiguration: holds 256 sub-objects (2 per map entry, 1 per list element); nucleus lite decodes at most 255',
    ]);
  });

  it('refuses nesting of 15 levels or more below the root', () => {
    let v: unknown = 1;
    for (let i = 0; i < 14; i++) v = [v];
    expect(liteDepth(v)).toBe(14);
    expect(liteObjectProblems('x', v)).toEqual([]);
    expect(liteObjectProblems('x', [v])).toEqual(['x: nests 15 levels deep; nucleus lite decodes at most 14']);
  });

  it('a configuration must also fit one GetConfiguration answer of at most 10,000 bytes', () => {
    expect(liteConfigurationProblems({ note: 'x'.repeat(9000) })).toEqual([]);
    expect(liteConfigurationProblems({ note: 'x'.repeat(9600) }, 'DefaultConfiguration')).toEqual([
      expect.stringMatching(
        /^DefaultConfiguration: needs about 101\d\d bytes in a GetConfiguration answer; nucleus lite's IPC messages are at most 10000$/,
      ),
    ]);
  });
});
