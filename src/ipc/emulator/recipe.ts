// Loading a component recipe (YAML or JSON, Greengrass recipe reference) into the identity the emulator serves.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { isJsonObject, type JsonObject } from './componentConfig.ts';

export interface RecipeIdentity {
  componentName: string;
  defaultConfiguration: JsonObject;
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

/** Parse recipe text; YAML is a superset of JSON, so one parser serves both formats. */
export function parseRecipe(text: string, source = 'recipe'): RecipeIdentity {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new RecipeError(`${source}: not YAML/JSON: ${(err as Error).message}`);
  }
  if (!isJsonObject(doc)) throw new RecipeError(`${source}: must be an object`);
  const name = doc.ComponentName;
  if (typeof name !== 'string' || !/^[a-zA-Z0-9-_.]+$/.test(name)) {
    throw new RecipeError(`${source}: ComponentName: must be a string matching ^[a-zA-Z0-9-_.]+$`);
  }
  const cc = doc.ComponentConfiguration;
  if (cc !== undefined && !isJsonObject(cc)) throw new RecipeError(`${source}: ComponentConfiguration: must be an object`);
  const dc = cc?.DefaultConfiguration ?? {};
  if (!isJsonObject(dc)) throw new RecipeError(`${source}: ComponentConfiguration.DefaultConfiguration: must be an object`);
  return { componentName: name, defaultConfiguration: dc };
}

export function loadRecipeFile(path: string): RecipeIdentity {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RecipeError(`${path}: ${(err as Error).message}`);
  }
  return parseRecipe(text, path);
}
