// Loading a component recipe (YAML or JSON; Greengrass developer guide, component-recipe-reference) into the
// identity the emulator serves, and the manifest check nucleus lite makes before it deploys a recipe.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { isPlainObject } from '../../plainObject.ts';
import type { JsonObject } from './componentConfig.ts';
import type { NucleusFlavor } from './flavor.ts';

export interface RecipeIdentity {
  componentName: string;
  /** ComponentVersion, when the recipe has one. */
  componentVersion?: string;
  defaultConfiguration: JsonObject;
  /** Lite only: the manifests it skipped, with its reasons. */
  skippedManifests?: string[];
}

export interface RecipeParseOptions {
  flavor?: NucleusFlavor;
  /** How the text is decoded; default from the source name (`.json` → json, else yaml). */
  format?: 'yaml' | 'json';
}

export class RecipeError extends Error {
  override name = 'RecipeError';
}

export const DEFAULT_COMPONENT_NAME = 'com.defender-edge.DefenderEdge';

/**
 * What the component needs when no recipe.yaml exists: Device Defender topics and our own topics on
 * IoT Core, and everything on local pub/sub (downstream reports, violations). `+` for the thing so
 * that no recipe-variable interpolation is needed (docs/greengrass-ipc.md#authorization-accesscontrol).
 */
export function embeddedRecipe(): RecipeIdentity {
  return {
    componentName: DEFAULT_COMPONENT_NAME,
    defaultConfiguration: {
      accessControl: {
        'aws.greengrass.ipc.mqttproxy': {
          'com.defender-edge.DefenderEdge:mqttproxy:1': {
            policyDescription: 'Device Defender reports and their replies, defender-edge violations and heartbeats',
            operations: ['aws.greengrass#PublishToIoTCore', 'aws.greengrass#SubscribeToIoTCore'],
            resources: ['$aws/things/+/defender/metrics/+', '$aws/things/+/defender/metrics/+/+', 'defender-edge/#'],
          },
        },
        'aws.greengrass.ipc.pubsub': {
          'com.defender-edge.DefenderEdge:pubsub:1': {
            policyDescription: 'Downstream device reports and local violation events',
            operations: ['aws.greengrass#PublishToTopic', 'aws.greengrass#SubscribeToTopic'],
            resources: ['*'],
          },
        },
      },
    },
  };
}

/**
 * Parse recipe text; YAML is a superset of JSON, so one parser serves both formats. Nucleus lite decodes a
 * YAML recipe keeping every scalar as text (aws-greengrass-lite modules/ggl-yaml yaml_decode.c
 * yaml_scalar_to_obj), so under lite a YAML recipe's numbers and booleans are strings; its JSON recipes keep
 * their types. Lite also refuses a recipe without a manifest for it (selectLiteManifest).
 */
export function parseRecipe(text: string, source = 'recipe', options: RecipeParseOptions = {}): RecipeIdentity {
  const format = options.format ?? (/\.json$/i.test(source) ? 'json' : 'yaml');
  let doc: unknown;
  try {
    doc = options.flavor === 'lite' && format === 'yaml' ? parseYaml(text, { schema: 'failsafe' }) : parseYaml(text);
  } catch (err) {
    throw new RecipeError(`${source}: not YAML/JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(doc)) throw new RecipeError(`${source}: must be an object`);
  const name = doc.ComponentName;
  if (typeof name !== 'string' || !/^[a-zA-Z0-9-_.]+$/.test(name)) {
    throw new RecipeError(`${source}: ComponentName: must be a string matching ^[a-zA-Z0-9-_.]+$`);
  }
  const cc = doc.ComponentConfiguration;
  if (cc !== undefined && !isPlainObject(cc)) throw new RecipeError(`${source}: ComponentConfiguration: must be an object`);
  const dc = cc?.DefaultConfiguration ?? {};
  if (!isPlainObject(dc)) throw new RecipeError(`${source}: ComponentConfiguration.DefaultConfiguration: must be an object`);
  const version = doc.ComponentVersion;
  if (version !== undefined && typeof version !== 'string') throw new RecipeError(`${source}: ComponentVersion: must be a string`);
  const identity: RecipeIdentity = { componentName: name, defaultConfiguration: dc };
  if (version !== undefined) identity.componentVersion = version;
  if (options.flavor === 'lite') {
    const selection = selectLiteManifest(doc, hostArchitecture());
    if (!selection.ok) throw new RecipeError(`${source}: ${selection.error}${describeSkipped(selection.skipped)}`);
    identity.skippedManifests = selection.skipped;
  }
  return identity;
}

function describeSkipped(skipped: readonly string[]): string {
  return skipped.length > 0 ? ` (${skipped.join('; ')})` : '';
}

export function loadRecipeFile(path: string, options: RecipeParseOptions = {}): RecipeIdentity {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RecipeError(`${path}: ${(err as Error).message}`);
  }
  return parseRecipe(text, path, options);
}

/** The nucleus architecture names (Node's process.arch → recipe `architecture`). */
export function hostArchitecture(arch: string = process.arch): string {
  const names: Record<string, string> = { x64: 'amd64', ia32: 'x86', arm64: 'aarch64', arm: 'arm', riscv64: 'riscv64' };
  return names[arch] ?? arch;
}

export type ManifestSelection = { ok: true; index: number; skipped: string[] } | { ok: false; error: string; skipped: string[] };

/**
 * Which manifest nucleus lite would use (aws-greengrass-lite modules/ggl-recipe recipe.c
 * select_linux_lifecycle / manifest_selection): the first whose Platform has `runtime` "*" or
 * "aws_nucleus_lite", `os` linux, * or all, `architecture` absent, * or this machine's, and a lifecycle.
 * Skipped manifests are reported with lite's log text; a manifest without Platform is an error there.
 */
export function selectLiteManifest(recipe: JsonObject, architecture: string): ManifestSelection {
  const skipped: string[] = [];
  const manifests = recipe.Manifests;
  if (manifests === undefined) return { ok: false, error: 'No Manifest found in the recipe', skipped };
  if (!Array.isArray(manifests)) return { ok: false, error: 'Manifests: Invalid Manifest within the recipe file.', skipped };
  for (let i = 0; i < manifests.length; i++) {
    const m: unknown = manifests[i];
    const at = `Manifests[${i}]`;
    if (!isPlainObject(m)) return { ok: false, error: `${at}: Provided manifest section is in invalid format.`, skipped };
    const platform = m.Platform;
    if (platform === undefined) return { ok: false, error: `${at}.Platform: Platform not provided`, skipped };
    if (!isPlainObject(platform)) return { ok: false, error: `${at}.Platform: must be a map`, skipped };
    const runtime = platform.runtime;
    if (runtime === undefined) {
      skipped.push(`${at}: Skipping manifest as it does not include a runtime platform field.`);
      continue;
    }
    if (typeof runtime !== 'string')
      return { ok: false, error: `${at}.Platform.runtime: Platform runtime is invalid. It must be a string`, skipped };
    if (runtime !== '*' && runtime !== 'aws_nucleus_lite') {
      skipped.push(`${at}: Skipping manifest as it is not for aws_nucleus_lite`);
      continue;
    }
    const os = platform.os;
    if (typeof os !== 'string' || !['linux', '*', 'all'].includes(os)) {
      skipped.push(`${at}: Platform.os ${os === undefined ? 'is absent' : JSON.stringify(os)}: not linux`);
      continue;
    }
    const arch = platform.architecture;
    if (arch !== undefined && typeof arch !== 'string')
      return { ok: false, error: `${at}.Platform.architecture: Platform architecture is invalid. It must be a string`, skipped };
    if (arch !== undefined && arch !== '*' && arch !== architecture) {
      skipped.push(`${at}: Platform.architecture ${arch} is not this machine's ${architecture}`);
      continue;
    }
    const lifecycle = m.Lifecycle;
    const hasLifecycle = (isPlainObject(lifecycle) && Object.keys(lifecycle).length > 0) || isPlainObject(recipe.Lifecycle);
    if (!hasLifecycle) {
      skipped.push(`${at}: no Lifecycle`);
      continue;
    }
    return { ok: true, index: i, skipped };
  }
  return { ok: false, error: 'No lifecycle was found for linux', skipped };
}
