// How an unexpected value is named in a `path: message` error: its type and, for a scalar, the value itself
// (`got string "fast"`), for every reader of untrusted data (configuration, behaviors, datapoints).

export function describeValue(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  // JSON has no Infinity: a number too large for a double (`1e400`) parses to it, and JSON.stringify would say null.
  if (typeof x === 'number' && !Number.isFinite(x)) return `number ${x} (out of range)`;
  return typeof x === 'object' ? 'an object' : `${typeof x} ${JSON.stringify(x)}`;
}
