import { readFileSync } from 'node:fs';

// The bundler replaces DEFENDER_EDGE_VERSION; in development the package.json next to src/ is read.
declare const DEFENDER_EDGE_VERSION: string | undefined;

export function version(): string {
  if (typeof DEFENDER_EDGE_VERSION === 'string') return DEFENDER_EDGE_VERSION;
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
