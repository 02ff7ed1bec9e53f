// Entry of the standalone binary's main script (the counterpart of bin/defender-edge.js, which runs the
// TypeScript sources directly in development). In a Node single executable application process.argv[1]
// is the executable again, so the user's arguments start at index 2 in both cases.
//
// The agent's commands run from this script; every other command line goes to the tools bundle
// (scripts/binaryCommands.ts), read from its brotli-compressed SEA asset
// (https://nodejs.org/api/single-executable-applications.html#assets) — or from the file beside this script
// when the bundle runs under plain Node — and compiled as a CommonJS module with the same `require` and
// `__filename`, so it finds the aws-crt addon beside the executable too.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sea from 'node:sea';
import vm from 'node:vm';
import { brotliDecompressSync } from 'node:zlib';
import { main } from '../src/main.ts';
import { isCoreInvocation, TOOLS_ASSET, TOOLS_BUNDLE } from './binaryCommands.ts';

type Main = (argv: string[]) => Promise<number>;

function toolsMain(): Main {
  const source = sea.isSea()
    ? brotliDecompressSync(Buffer.from(sea.getAsset(TOOLS_ASSET))).toString('utf8')
    : readFileSync(path.join(__dirname, TOOLS_BUNDLE), 'utf8');
  const wrapper = vm.compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: TOOLS_BUNDLE });
  const module = { exports: {} as { main?: Main } };
  wrapper(module.exports, require, module, __filename, __dirname);
  if (typeof module.exports.main !== 'function') throw new Error(`${TOOLS_BUNDLE}: no main export`);
  return module.exports.main;
}

const argv = process.argv.slice(2);
Promise.resolve()
  .then(() => (isCoreInvocation(argv) ? main(argv) : toolsMain()(argv)))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`defender-edge: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
