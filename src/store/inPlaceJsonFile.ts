// A small JSON value rewritten in place, for a marker that changes often and must survive SIGKILL
// cheaply: one positioned write(2) of a fixed-size block at offset 0, no temp file, no rename, no fsync.
// A write that small (one page at most) is not cut short by a signal, so a killed process leaves the old
// block or the new one; a power loss may leave neither, which read() reports as corrupt and the caller
// must treat as "unknown" (writeFileAtomic in atomicFile.ts is the durable alternative, at four syscalls
// and a directory update per write).
import { closeSync, constants, existsSync, openSync, readFileSync, writeSync } from 'node:fs';

export type InPlaceRead<T> = { kind: 'missing' } | { kind: 'ok'; value: T } | { kind: 'corrupt'; error: string };

export class InPlaceJsonFile<T> {
  readonly path: string;
  readonly #size: number;
  #fd: number | undefined;

  /** `size`: the block written every time (JSON padded with spaces); at most one page. */
  constructor(path: string, size = 256) {
    if (size > 4096) throw new RangeError(`size: at most 4096 bytes (one page), got ${size}`);
    this.path = path;
    this.#size = size;
  }

  read(check: (value: unknown) => string | null): InPlaceRead<T> {
    if (!existsSync(this.path)) return { kind: 'missing' };
    try {
      const value: unknown = JSON.parse(readFileSync(this.path, 'utf8'));
      const problem = check(value);
      return problem === null ? { kind: 'ok', value: value as T } : { kind: 'corrupt', error: problem };
    } catch (err) {
      return { kind: 'corrupt', error: (err as Error).message };
    }
  }

  /** Overwrite the block; throws if the JSON does not fit or the disk refuses. */
  write(value: T): void {
    const json = JSON.stringify(value);
    const bytes = Buffer.byteLength(json);
    if (bytes > this.#size - 1) throw new RangeError(`${this.path}: ${bytes} bytes of JSON do not fit in ${this.#size - 1}`);
    const block = Buffer.alloc(this.#size, 0x20);
    block.write(json, 0, 'utf8');
    block[this.#size - 1] = 0x0a;
    // O_RDWR without O_APPEND: a positioned write at 0 (with O_APPEND Linux would append instead).
    this.#fd ??= openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o600);
    writeSync(this.#fd, block, 0, this.#size, 0);
  }

  close(): void {
    if (this.#fd === undefined) return;
    try {
      closeSync(this.#fd);
    } finally {
      this.#fd = undefined;
    }
  }
}
