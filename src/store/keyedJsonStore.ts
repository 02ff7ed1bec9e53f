// One JSON file per key under a directory sharded by a hash of the key (256 subdirectories), written
// atomically (writeFileAtomic). For state that is too big to keep in memory for every key at once, e.g.
// per-thing thresholds with 100,000 things. Key names never reach the filesystem: file = sha256(key).
import { createHash } from 'node:crypto';
import { readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeFileAtomic } from './atomicFile.ts';

export type StoreGet<T> = { kind: 'missing' } | { kind: 'ok'; value: T } | { kind: 'corrupt'; error: string; quarantinedTo: string };

export class KeyedJsonStore<T> {
  readonly dir: string;
  private readonly check: (value: unknown) => string | null;
  private readonly fsync: boolean;

  /**
   * `check` returns a problem with a stored value, or null; a failing file is quarantined, never trusted.
   * `fsync: false` for state that may lose its last write on power loss (atomicFile.ts).
   */
  constructor(dir: string, check: (value: unknown) => string | null, options: { fsync?: boolean } = {}) {
    this.dir = dir;
    this.check = check;
    this.fsync = options.fsync ?? true;
  }

  pathOf(key: string): string {
    const h = createHash('sha256').update(key).digest('hex');
    return join(this.dir, h.slice(0, 2), `${h.slice(2, 40)}.json`);
  }

  get(key: string): StoreGet<T> {
    const r = readJsonFile<{ key: string; value: T }>(this.pathOf(key), (x) => {
      const o = x as { key?: unknown; value?: unknown } | null;
      if (typeof o !== 'object' || o === null || o.key !== key) return 'stored key does not match';
      return this.check(o.value);
    });
    return r.kind === 'ok' ? { kind: 'ok', value: r.value.value } : r;
  }

  put(key: string, value: T): void {
    writeFileAtomic(this.pathOf(key), JSON.stringify({ key, value }), { fsync: this.fsync });
  }

  delete(key: string): void {
    try {
      unlinkSync(this.pathOf(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** Delete entries not written since `olderThanMs` (ms since the epoch); returns how many. Bounds the disk. */
  sweep(olderThanMs: number): number {
    let removed = 0;
    let shards: string[];
    try {
      shards = readdirSync(this.dir);
    } catch {
      return 0;
    }
    for (const shard of shards) {
      const d = join(this.dir, shard);
      let files: string[];
      try {
        files = readdirSync(d);
      } catch {
        continue;
      }
      for (const f of files) {
        const p = join(d, f);
        try {
          if (statSync(p).mtimeMs < olderThanMs) {
            rmSync(p, { force: true });
            removed++;
          }
        } catch {
          // Deleted concurrently: nothing to sweep.
        }
      }
    }
    return removed;
  }
}
