// Component configuration as the nucleus keeps it: a JSON tree, merged like a deployment's
// `configurationUpdate.merge` (objects merge, lists and scalars are replaced, null is a value;
// docs/greengrass-ipc.md#configuration-deployments-validation-restarts). Pure.
import { isPlainObject } from '../../plainObject.ts';

export type JsonObject = { [key: string]: unknown };

/** A new tree: `base` with `patch` merged in (neither argument is modified). */
export function mergeConfig(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return structuredClone(patch);
  const out: JsonObject = structuredClone(base);
  for (const [k, v] of Object.entries(patch)) out[k] = k in out ? mergeConfig(out[k], v) : structuredClone(v);
  return out;
}

/** Merge `value` at `keyPath` (creating intermediate objects), as UpdateConfiguration does. */
export function mergeAtPath(base: unknown, keyPath: readonly string[], value: unknown): unknown {
  if (keyPath.length === 0) return mergeConfig(base, value);
  const root: JsonObject = isPlainObject(base) ? structuredClone(base) : {};
  let node = root;
  for (const key of keyPath.slice(0, -1)) {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as JsonObject;
  }
  const last = keyPath[keyPath.length - 1]!;
  node[last] = last in node ? mergeConfig(node[last], value) : structuredClone(value);
  return root;
}

export type Lookup = { found: true; value: unknown } | { found: false };

export function getAtPath(tree: unknown, keyPath: readonly string[]): Lookup {
  let node = tree;
  for (const key of keyPath) {
    if (!isPlainObject(node) || !(key in node)) return { found: false };
    node = node[key];
  }
  return { found: true, value: node };
}

/**
 * Paths of the nodes that differ between two trees: the deepest changed leaf, or the node itself when
 * it was added, removed or changed type. `[]` never appears unless a root scalar changed.
 */
export function changedPaths(before: unknown, after: unknown, prefix: string[] = []): string[][] {
  if (isPlainObject(before) && isPlainObject(after)) {
    const out: string[][] = [];
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const k of keys) {
      if (!(k in before) || !(k in after)) out.push([...prefix, k]);
      else out.push(...changedPaths(before[k], after[k], [...prefix, k]));
    }
    return out;
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [prefix];
}

/** Does a change at `changed` concern a subscriber of `subscribed` (one is a prefix of the other)? */
export function pathsOverlap(subscribed: readonly string[], changed: readonly string[]): boolean {
  const n = Math.min(subscribed.length, changed.length);
  for (let i = 0; i < n; i++) if (subscribed[i] !== changed[i]) return false;
  return true;
}
