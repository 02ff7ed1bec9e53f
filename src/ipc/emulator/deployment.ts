// Greengrass deployment documents as the emulator takes them: the input of `aws greengrassv2
// create-deployment` (a deployment.json), of which the emulator uses `components` and
// `deploymentPolicies.configurationValidationPolicy.timeoutInSeconds`. Pure: parsing and the
// configuration arithmetic of one component (reset, then merge).
//
//   { "targetArn"?, "deploymentName"?, "components": { "<name>": { "componentVersion": "1.0.0",
//       "configurationUpdate"?: { "merge"?: "<JSON object as a string>", "reset"?: ["/json/pointer", ...] },
//       "runWith"? } }, "deploymentPolicies"?, "iotJobConfiguration"?, "tags"? }
//
// Semantics (Greengrass developer guide, update-component-configurations.md): `reset` runs first and sets
// each pointed-to key back to the recipe default, or removes it when the recipe has none (`""` = the whole
// configuration); `merge` then merges the object in (objects merge, lists and scalars are replaced).
import { isPlainObject } from '../../plainObject.ts';
import { type JsonObject, mergeConfig } from './componentConfig.ts';

export interface ComponentDeployment {
  name: string;
  version: string;
  /** Parsed `merge`, when given. */
  merge?: JsonObject;
  /** Parsed `reset` pointers (each a key path; [] = the whole configuration). */
  reset?: string[][];
  /** Whether the deployment carries a configurationUpdate at all. */
  hasConfigurationUpdate: boolean;
}

export interface DeploymentDocument {
  name?: string;
  components: ComponentDeployment[];
  /** configurationValidationPolicy.timeoutInSeconds, in ms. */
  validationTimeoutMs?: number;
}

export type DeploymentParse = { ok: true; document: DeploymentDocument } | { ok: false; errors: string[] };

const TOP_KEYS = new Set([
  'targetArn',
  'deploymentName',
  'components',
  'deploymentPolicies',
  'iotJobConfiguration',
  'parentTargetArn',
  'tags',
  'clientToken',
]);
const COMPONENT_KEYS = new Set(['componentVersion', 'configurationUpdate', 'runWith']);
const UPDATE_KEYS = new Set(['merge', 'reset']);
/** Component names as the recipe schema allows them. */
const COMPONENT_NAME = /^[a-zA-Z0-9-_.]+$/;

/** RFC 6901 JSON pointer → key path; null when malformed. `""` is the whole document. */
export function parseJsonPointer(pointer: string): string[] | null {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) return null;
  const parts = pointer.slice(1).split('/');
  if (parts.some((p) => /~[^01]|~$/.test(p))) return null;
  return parts.map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parseComponent(name: string, raw: unknown, errors: string[]): ComponentDeployment | null {
  const p = `components.${name}`;
  if (!COMPONENT_NAME.test(name)) errors.push(`${p}: component name must match ^[a-zA-Z0-9-_.]+$`);
  if (!isPlainObject(raw)) {
    errors.push(`${p}: must be an object {componentVersion, configurationUpdate}`);
    return null;
  }
  const before = errors.length;
  for (const k of Object.keys(raw))
    if (!COMPONENT_KEYS.has(k)) errors.push(`${p}.${k}: unknown key (expected componentVersion, configurationUpdate, runWith)`);
  const version = raw.componentVersion;
  if (typeof version !== 'string' || !/^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?$/.test(version)) {
    errors.push(
      `${p}.componentVersion: required, a version such as "1.0.0"${version === undefined ? '' : `, not ${JSON.stringify(version)}`}`,
    );
  }
  const out: ComponentDeployment = { name, version: typeof version === 'string' ? version : '', hasConfigurationUpdate: false };
  const update = raw.configurationUpdate;
  if (update !== undefined) {
    out.hasConfigurationUpdate = true;
    if (!isPlainObject(update)) errors.push(`${p}.configurationUpdate: must be an object {merge, reset}`);
    else {
      for (const k of Object.keys(update))
        if (!UPDATE_KEYS.has(k)) errors.push(`${p}.configurationUpdate.${k}: unknown key (expected merge, reset)`);
      const merge = update.merge;
      if (merge !== undefined) {
        if (typeof merge !== 'string') {
          errors.push(`${p}.configurationUpdate.merge: must be a string holding a JSON object (the API takes it serialized)`);
        } else {
          let parsed: unknown;
          try {
            parsed = JSON.parse(merge);
          } catch (err) {
            errors.push(`${p}.configurationUpdate.merge: invalid JSON: ${(err as Error).message}`);
          }
          if (parsed !== undefined) {
            if (isPlainObject(parsed)) out.merge = parsed;
            else errors.push(`${p}.configurationUpdate.merge: must hold a JSON object, not ${JSON.stringify(parsed)}`);
          }
        }
      }
      const reset = update.reset;
      if (reset !== undefined) {
        if (!Array.isArray(reset)) errors.push(`${p}.configurationUpdate.reset: must be a list of JSON pointers`);
        else {
          const paths: string[][] = [];
          reset.forEach((r, i) => {
            const path = typeof r === 'string' ? parseJsonPointer(r) : null;
            if (path === null)
              errors.push(`${p}.configurationUpdate.reset[${i}]: ${JSON.stringify(r)} is not a JSON pointer ("" or "/key/…")`);
            else paths.push(path);
          });
          out.reset = paths;
        }
      }
    }
  }
  return errors.length === before ? out : null;
}

/** Parse a deployment document (an object, or its JSON text). */
export function parseDeployment(raw: unknown): DeploymentParse {
  let doc = raw;
  if (typeof raw === 'string') {
    try {
      doc = JSON.parse(raw);
    } catch (err) {
      return { ok: false, errors: [`deployment: invalid JSON: ${(err as Error).message}`] };
    }
  }
  if (!isPlainObject(doc)) return { ok: false, errors: ['deployment: must be a JSON object with "components"'] };
  const errors: string[] = [];
  for (const k of Object.keys(doc))
    if (!TOP_KEYS.has(k)) errors.push(`${k}: unknown key of a deployment (expected ${[...TOP_KEYS].join(', ')})`);
  const components: ComponentDeployment[] = [];
  if (!isPlainObject(doc.components) || Object.keys(doc.components).length === 0) {
    errors.push('components: required, an object {"<componentName>": {"componentVersion": …, "configurationUpdate": …}}');
  } else {
    for (const [name, c] of Object.entries(doc.components)) {
      const parsed = parseComponent(name, c, errors);
      if (parsed) components.push(parsed);
    }
  }
  const document: DeploymentDocument = { components };
  if (doc.deploymentName !== undefined) {
    if (typeof doc.deploymentName === 'string') document.name = doc.deploymentName;
    else errors.push('deploymentName: must be a string');
  }
  const policies = doc.deploymentPolicies;
  if (policies !== undefined) {
    const timeout =
      isPlainObject(policies) && isPlainObject(policies.configurationValidationPolicy)
        ? policies.configurationValidationPolicy.timeoutInSeconds
        : undefined;
    if (timeout !== undefined) {
      if (typeof timeout === 'number' && Number.isInteger(timeout) && timeout > 0) document.validationTimeoutMs = timeout * 1000;
      else errors.push('deploymentPolicies.configurationValidationPolicy.timeoutInSeconds: must be a positive integer');
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, document };
}

function getPath(tree: unknown, path: readonly string[]): { found: boolean; value?: unknown } {
  let node = tree;
  for (const k of path) {
    if (!isPlainObject(node) || !(k in node)) return { found: false };
    node = node[k];
  }
  return { found: true, value: node };
}

/**
 * One component's configuration after a deployment: `current` with each reset path set back to its value in
 * `defaults` (or removed), then `merge` merged in. A reset into a list element is refused (lists reset whole).
 */
export function applyConfigurationUpdate(
  current: JsonObject,
  defaults: JsonObject,
  update: Pick<ComponentDeployment, 'merge' | 'reset'>,
  path: string,
): { ok: true; config: JsonObject } | { ok: false; error: string } {
  let config: JsonObject = structuredClone(current);
  for (const keyPath of update.reset ?? []) {
    if (keyPath.length === 0) {
      config = structuredClone(defaults);
      continue;
    }
    let node: unknown = config;
    for (const k of keyPath.slice(0, -1)) {
      if (Array.isArray(node))
        return { ok: false, error: `${path}.reset: /${keyPath.join('/')} points into a list; lists reset as a whole` };
      node = isPlainObject(node) ? node[k] : undefined;
    }
    if (Array.isArray(node)) return { ok: false, error: `${path}.reset: /${keyPath.join('/')} points into a list; lists reset as a whole` };
    if (!isPlainObject(node)) continue; // nothing there to reset
    const last = keyPath[keyPath.length - 1]!;
    const dflt = getPath(defaults, keyPath);
    if (dflt.found) node[last] = structuredClone(dflt.value);
    else delete node[last];
  }
  if (update.merge !== undefined) {
    const merged = mergeConfig(config, update.merge);
    if (!isPlainObject(merged)) return { ok: false, error: `${path}.merge: the configuration must stay an object` };
    config = merged;
  }
  return { ok: true, config };
}
