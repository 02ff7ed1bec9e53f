// A tiny seeded PRNG for the fuzzers (mulberry32): reproducible runs, no dependency. Every fuzz run prints
// nothing unless a case fails; then the error names the run seed and the case index, and
//   FUZZ_SEED=<seed> FUZZ_CASE=<index> npx vitest run test/fuzz/<file>
// replays exactly that case (each case has its own seed derived from the run seed and its index).

export interface Prng {
  /** uniform in [0, 1) */
  next(): number;
  /** integer in [0, n) */
  int(n: number): number;
  /** integer in [lo, hi] */
  range(lo: number, hi: number): number;
  bool(p?: number): boolean;
  pick<T>(items: readonly T[]): T;
  bytes(n: number): Buffer;
}

export function prng(seed: number): Prng {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    next,
    int,
    range: (lo, hi) => lo + int(hi - lo + 1),
    bool: (p = 0.5) => next() < p,
    pick: (items) => items[int(items.length)]!,
    bytes: (n) => {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    },
  };
}

/** The run seed: FUZZ_SEED when set (replay), else fresh. */
export function runSeed(): number {
  const env = process.env.FUZZ_SEED;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`FUZZ_SEED: must be an integer in [0, 2^32), got ${env}`);
    return n;
  }
  return Math.floor(Math.random() * 0x100000000);
}

/** Per-case seed: the case replays alone, whatever the cases before it did. */
export function caseSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export class FuzzFailure extends Error {
  override name = 'FuzzFailure';
}

/**
 * Run `count` cases (or only FUZZ_CASE when set). A throw inside a case is rethrown with the seed and the
 * case index to replay it. Returns how many cases ran.
 */
export async function forEachCase(
  name: string,
  count: number,
  fn: (rng: Prng, index: number) => void | Promise<void>,
  seed: number = runSeed(),
): Promise<number> {
  const only = process.env.FUZZ_CASE;
  const indices = only !== undefined && only !== '' ? [Number(only)] : Array.from({ length: count }, (_, i) => i);
  for (const i of indices) {
    try {
      await fn(prng(caseSeed(seed, i)), i);
    } catch (err) {
      const e = err as Error;
      throw new FuzzFailure(`${name}: case ${i} failed (replay: FUZZ_SEED=${seed} FUZZ_CASE=${i}): ${e.message}`, { cause: e });
    }
  }
  return indices.length;
}

/** "path: message", the one rejection shape of the project (docs/architecture.md#conventions). */
export const PATH_MESSAGE = /^\S.*?: \S/s;

export function assertPathMessage(errors: readonly string[], what: string): void {
  if (errors.length === 0) throw new Error(`${what}: rejected without a reason`);
  for (const e of errors) {
    if (typeof e !== 'string' || !PATH_MESSAGE.test(e)) throw new Error(`${what}: rejection is not "path: message": ${JSON.stringify(e)}`);
  }
}

/** Heap in use after a full collection (GC exposed at runtime, so no flag is needed in vitest's workers). */
export async function settledHeap(): Promise<number> {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
