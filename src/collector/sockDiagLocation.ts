// Where the dedge-sockdiag helper lives. The standalone binary ships it beside the executable (the
// Greengrass zip holds both, docs/packaging.md); from the TypeScript sources it is the development build
// that `npm run build:sockdiag` leaves in node_modules/.cache. Absolute paths only: the helper is spawned
// by path, never looked up in PATH.
import path from 'node:path';
import { isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';

export const SOCKDIAG_NAME = 'dedge-sockdiag';

/** Project-relative folder of the development build for one Node architecture (x64, arm64). */
export function sockDiagDevDir(arch: string): string {
  return `node_modules/.cache/defender-edge-sockdiag/${arch}`;
}

/** The helper this process should run: beside the executable in the standalone binary, else the dev build. */
export function defaultSockDiagPath(): string {
  if (isSea()) return path.join(path.dirname(process.execPath), SOCKDIAG_NAME);
  const root = fileURLToPath(new URL('../..', import.meta.url));
  return path.join(root, sockDiagDevDir(process.arch), SOCKDIAG_NAME);
}
