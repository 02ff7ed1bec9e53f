// Entry of the esbuild bundle that becomes the standalone binary (the counterpart of bin/defender-edge.js,
// which runs the TypeScript sources directly in development). In a Node single executable application
// process.argv[1] is the executable again, so the user's arguments start at index 2 in both cases.
import { main } from '../src/main.ts';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`defender-edge: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
