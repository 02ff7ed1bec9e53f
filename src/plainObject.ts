// The one "is this a JSON object?" check, for everything that reads untrusted data (configuration,
// reports, persisted state, datapoint files).

/** A plain data object (what JSON.parse, YAML and the CBOR decoder produce), not an array, Date, Buffer or class instance. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
