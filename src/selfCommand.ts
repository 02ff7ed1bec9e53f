// How we start more processes of this same program (the demo's actors, the interface watchdog): the
// command and arguments that run `defender-edge <args…>` whichever way we were started.
//  - standalone binary (Node single executable application): process.execPath IS the CLI;
//  - esbuild bundle run by node (build checks): node + the bundle file (import.meta.url is the bundle,
//    scripts/bundle.ts defines it so);
//  - sources (npm start, tests, benchmarks): node + bin/defender-edge.js — never process.argv[1], which is
//    vitest or bench/run.ts when the scenario runs inside them.
import { isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';

declare const DEFENDER_EDGE_VERSION: string | undefined;

export interface SelfCommand {
  file: string;
  args: string[];
}

export function selfCommand(args: readonly string[]): SelfCommand {
  if (isSea()) return { file: process.execPath, args: [...args] };
  const entry =
    typeof DEFENDER_EDGE_VERSION === 'string'
      ? fileURLToPath(import.meta.url)
      : fileURLToPath(new URL('../bin/defender-edge.js', import.meta.url));
  return { file: process.execPath, args: [entry, ...args] };
}
