import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { settingDescriptions } from '../../src/config/descriptions.ts';
import { configReferenceMarkdown, settingRows, withReference } from '../../src/config/reference.ts';

describe('configuration reference', () => {
  it('describes every setting of the schema, and nothing that is not one', () => {
    const rows = settingRows();
    expect(rows.filter((r) => r.description === undefined).map((r) => r.path)).toEqual([]);
    const paths = new Set(rows.map((r) => r.path));
    expect(Object.keys(settingDescriptions).filter((p) => !paths.has(p))).toEqual([]);
  });

  it('shows defaults and bounds from the schema', () => {
    const md = configReferenceMarkdown();
    expect(md).toContain('| `reporting.intervalSeconds` | integer | `300` | 300–86400 |');
    expect(md).toContain('| `enforcement.mode` | string | `"dry-run"` | `enforce` \\| `dry-run` |');
  });

  it('is what the README shows (run `npm run docs:sync` after changing the schema)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(withReference(readme)).toBe(readme);
  });
});
