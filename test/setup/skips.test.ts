// Skips are never silent: every test skips through `requires(…)` (test/support/requirements.ts), which
// records the reason the skip report (test/support/skipReport.ts) prints with a count at the end of the run.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { requirement, requires } from '../support/requirements.ts';
import { NO_REASON, skipReportLines } from '../support/skipReport.ts';

const TEST_DIR = path.resolve(new URL('..', import.meta.url).pathname);

function testSources(): string[] {
  return readdirSync(TEST_DIR, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.parentPath.includes(`${path.sep}fixtures`))
    .map((e) => path.relative(TEST_DIR, path.join(e.parentPath, e.name)));
}

/** Ways to skip that record no reason: vitest's skip modifiers, a skip from inside a test, a bare `skip:` option. */
const SILENT_SKIP = /\b(?:describe|it|test|suite)\s*\.\s*(?:skip|skipIf|runIf|todo)\b|\b(?:ctx|context|t)\s*\.\s*skip\s*\(|\bskip\s*:/;

describe('skips', () => {
  it('every test file skips only through requires(…)', () => {
    const files = testSources();
    expect(files).toContain(path.join('support', 'requirements.ts'));
    const offenders = files
      .filter((f) => f !== path.join('support', 'requirements.ts') && f !== path.join('setup', 'skips.test.ts'))
      .flatMap((f) =>
        readFileSync(path.join(TEST_DIR, f), 'utf8')
          .split('\n')
          .map((line, i) => ({ where: `${f}:${i + 1}`, line }))
          .filter(({ line }) => !/^\s*\/\//.test(line) && SILENT_SKIP.test(line)),
      )
      .map(({ where, line }) => `${where}: ${line.trim()}`);
    expect(offenders).toEqual([]);
  });

  it('the pattern catches each silent form and lets requires(…) through', () => {
    for (const silent of [
      'describe.skip("x", () => {})',
      'it.skipIf(!ok)("x", () => {})',
      'describe.runIf(ok)("x", () => {})',
      'test.todo("x")',
      'it("x", (ctx) => { ctx.skip(); })',
      "it('x', { skip: !ok }, () => {})",
    ]) {
      expect({ silent, caught: SILENT_SKIP.test(silent) }).toEqual({ silent, caught: true });
    }
    expect(SILENT_SKIP.test("it('x', requires(root), () => {})")).toBe(false);
  });

  it('requires(…) skips with every unmet reason and runs when all are met', () => {
    const yes = requirement(true, 'never shown');
    const noA = requirement(false, 'no A');
    const noB = requirement(false, 'no B');
    expect(requires(yes)).toEqual({});
    expect(requires()).toEqual({});
    expect(requires(yes, noA)).toEqual({ skip: true, meta: { skipReason: 'no A' } });
    expect(requires(noA, yes, noB)).toEqual({ skip: true, meta: { skipReason: 'no A; no B' } });
  });

  it('the report counts tests per reason, most frequent first, and says when nothing was skipped', () => {
    expect(skipReportLines([])).toEqual(['skipped 0 tests']);
    expect(skipReportLines(['not root'])).toEqual(['skipped 1 test:', '  not root ×1']);
    expect(skipReportLines(['no qemu', 'not root', 'not root', NO_REASON, 'a reason'])).toEqual([
      'skipped 5 tests:',
      '  not root ×2',
      '  a reason ×1',
      '  no qemu ×1',
      `  ${NO_REASON} ×1`,
    ]);
  });
});
