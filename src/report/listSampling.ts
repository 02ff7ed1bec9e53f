// Sampling of long lists (docs/reports.md#limits-and-cadence): the Python agent SDK keeps at most
// `max_list_size` = 50 ports/connections, chosen at random, while `total` keeps the true count
// (AWSIoTDeviceDefenderAgentSDK/metrics.py). We do the same with a seeded generator instead of Math.random so
// the result is a pure function of its inputs (testable, reproducible); callers seed with the report_id, so
// successive reports show different samples and every element gets reported over time.

/** mulberry32: a tiny, well-distributed 32-bit PRNG; quality is ample for picking a sample. */
function generator(seed: number): () => number {
  let a = (seed ^ Math.floor(seed / 2 ** 32)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * At most `max` elements of `items`, a uniform random sample for the given seed, in their original order.
 * Returns `items` itself when it is short enough.
 */
export function sampleList<T>(items: readonly T[], max: number, seed: number): readonly T[] {
  if (items.length <= max) return items;
  if (max <= 0) return [];
  const next = generator(seed);
  const index = items.map((_, i) => i);
  // Partial Fisher–Yates: the first `max` positions end up a uniform sample of all indices.
  for (let i = 0; i < max; i++) {
    const j = i + Math.floor(next() * (index.length - i));
    const tmp = index[i]!;
    index[i] = index[j]!;
    index[j] = tmp;
  }
  return index
    .slice(0, max)
    .sort((a, b) => a - b)
    .map((i) => items[i]!);
}
