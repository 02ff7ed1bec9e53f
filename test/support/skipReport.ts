// A vitest reporter (vitest.config.ts `reporters`) that ends every run with what was skipped and why:
//   skipped 5 tests:
//     not root (…): run npm test as root ×3
//     no qemu-aarch64-static … ×2
// Reasons come from `requires(…)` (test/support/requirements.ts) through the test's meta, or from
// `ctx.skip(note)`. A skip without either (`.skip`, `.todo`, a `-t` filter, `.only` elsewhere) is listed too.
import type { Reporter, TestModule, Vitest } from 'vitest/node';

export const NO_REASON = 'no reason recorded (.skip, .todo, or left out by -t / .only)';

/** The report lines for the reasons of the skipped tests (pure): most frequent first, then by reason. */
export function skipReportLines(reasons: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  const rows = [...counts].sort(([ra, a], [rb, b]) => b - a || (ra < rb ? -1 : ra > rb ? 1 : 0));
  return [
    `skipped ${reasons.length} test${reasons.length === 1 ? '' : 's'}${rows.length > 0 ? ':' : ''}`,
    ...rows.map(([reason, n]) => `  ${reason} ×${n}`),
  ];
}

export default class SkipReport implements Reporter {
  private vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const reasons: string[] = [];
    for (const m of testModules) {
      for (const t of m.children.allTests('skipped')) {
        const result = t.result();
        reasons.push(t.meta().skipReason ?? (result.state === 'skipped' ? result.note : undefined) ?? NO_REASON);
      }
    }
    const text = skipReportLines(reasons).join('\n');
    if (this.vitest) this.vitest.logger.log(text);
    else process.stdout.write(`${text}\n`);
  }
}
