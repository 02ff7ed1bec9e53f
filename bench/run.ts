// `npm run bench`: runs every bench/*.bench.ts (or only those named on the command line) and prints
// one JSON object: machine facts plus each suite's results. Suites measure a baseline in the same run
// and report medians and ratios, never absolute pass/fail.
import { readdirSync } from 'node:fs';
import os from 'node:os';

export interface BenchSuite {
  name: string;
  run: () => Promise<Record<string, unknown>>;
}

const dir = new URL('.', import.meta.url);
const wanted = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();

const results: Record<string, unknown> = {};
for (const file of files) {
  const mod = (await import(new URL(file, dir).href)) as { suite: BenchSuite };
  process.stderr.write(`bench: ${mod.suite.name}…\n`);
  try {
    results[mod.suite.name] = await mod.suite.run();
  } catch (err) {
    results[mod.suite.name] = { error: (err as Error).message };
    process.exitCode = 1;
  }
}

const cpus = os.cpus();
process.stdout.write(
  `${JSON.stringify(
    {
      machine: {
        node: process.version,
        arch: process.arch,
        cpus: cpus.length,
        cpuModel: cpus[0]?.model ?? 'unknown',
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      },
      date: new Date().toISOString(),
      results,
    },
    null,
    2,
  )}\n`,
);
