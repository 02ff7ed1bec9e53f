// `npm run build:binaries [-- --arch amd64|aarch64 …] [--force] [--out DIR]`: builds the standalone
// binaries and Greengrass zips (scripts/buildBinaries.ts) and prints build-info as JSON on stdout.
// Exit 0 on success, 1 on a build failure, 2 on a bad command line.
import { parseArgs } from 'node:util';
import { buildBinaries } from './buildBinaries.ts';
import { targetFor } from './buildTargets.ts';

async function cli(argv: string[]): Promise<number> {
  let values: { arch?: string[]; force: boolean; out?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { arch: { type: 'string', multiple: true }, force: { type: 'boolean', default: false }, out: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(
      `build-binaries: ${(err as Error).message}\nusage: build-binaries [--arch amd64|aarch64]… [--force] [--out DIR]\n`,
    );
    return 2;
  }
  let targets: ReturnType<typeof targetFor>[] | undefined;
  try {
    targets = values.arch?.map(targetFor);
  } catch (err) {
    process.stderr.write(`build-binaries: ${(err as Error).message}\n`);
    return 2;
  }
  const result = await buildBinaries({ root: process.cwd(), targets, force: values.force, outDir: values.out });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return 0;
}

cli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`build-binaries: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
