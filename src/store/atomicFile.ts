import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Write a file so that a crash at any point leaves either the old or the new content, never a mix:
 * temp file in the same directory, fsync, rename over the target, fsync the directory (Node-RED habit).
 * `fsync: false` skips both fsyncs for high-volume, re-creatable state (e.g. evicted cache entries): the
 * rename still never exposes a half-written file, but a power loss may lose the latest write.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, options: { fsync?: boolean } = {}): void {
  const durable = options.fsync ?? true;
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* the rename error is the one worth reporting */
    }
    throw err;
  }
  if (!durable) return;
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is already atomic.
  }
}

export type ReadJsonResult<T> = { kind: 'missing' } | { kind: 'ok'; value: T } | { kind: 'corrupt'; error: string; quarantinedTo: string };

/**
 * Read a JSON state file. A file that does not parse (or fails `check`) is moved aside to
 * `<name>.corrupt-<ms>` so the caller starts clean instead of crash-looping on it.
 */
export function readJsonFile<T>(path: string, check: (value: unknown) => string | null = () => null): ReadJsonResult<T> {
  if (!existsSync(path)) return { kind: 'missing' };
  let error: string;
  try {
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    const problem = check(value);
    if (problem === null) return { kind: 'ok', value: value as T };
    error = problem;
  } catch (err) {
    error = (err as Error).message;
  }
  const quarantinedTo = `${path}.corrupt-${Date.now()}`;
  try {
    renameSync(path, quarantinedTo);
  } catch {
    /* report the parse error anyway */
  }
  return { kind: 'corrupt', error, quarantinedTo };
}
