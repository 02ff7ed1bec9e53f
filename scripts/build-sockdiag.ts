// `npm run build:sockdiag [-- --arch x64|arm64 …] [--force]`: compiles the dedge-sockdiag helper into
// node_modules/.cache/defender-edge-sockdiag/<arch>/ (the development build the collector runs from the
// TypeScript sources; the standalone binaries get theirs from build:binaries). Default: this machine's
// architecture. Prints what it built as JSON. Exit 0 on success, 1 on a build failure, 2 on a bad command line.
import { parseArgs } from 'node:util';
import { buildSockDiag, type SockDiagArch } from './buildSockDiag.ts';

const ARCHES: readonly SockDiagArch[] = ['x64', 'arm64'];

async function cli(argv: string[]): Promise<number> {
  let values: { arch?: string[]; force: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { arch: { type: 'string', multiple: true }, force: { type: 'boolean', default: false } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`build-sockdiag: ${(err as Error).message}\nusage: build-sockdiag [--arch x64|arm64]… [--force]\n`);
    return 2;
  }
  const arches = values.arch ?? [process.arch];
  for (const a of arches) {
    if (!ARCHES.includes(a as SockDiagArch)) {
      process.stderr.write(`build-sockdiag: arch: must be one of ${ARCHES.join(', ')} (got '${a}')\n`);
      return 2;
    }
  }
  const built = [];
  for (const arch of arches as SockDiagArch[])
    built.push({ arch, ...(await buildSockDiag({ root: process.cwd(), arch, force: values.force })) });
  process.stdout.write(`${JSON.stringify(built, null, 2)}\n`);
  return 0;
}

cli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`build-sockdiag: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
