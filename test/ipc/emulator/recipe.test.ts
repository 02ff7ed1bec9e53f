import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isAuthorized, MQTTPROXY, PUBSUB, parseAccessControl } from '../../../src/ipc/emulator/authorization.ts';
import { embeddedRecipe, loadRecipeFile, parseRecipe, RecipeError } from '../../../src/ipc/emulator/recipe.ts';

const fixture = fileURLToPath(new URL('../../fixtures/recipe.test-component.yaml', import.meta.url));

describe('recipes', () => {
  it('loads the YAML fixture: name and DefaultConfiguration', () => {
    const r = loadRecipeFile(fixture);
    expect(r.componentName).toBe('com.defender-edge.DefenderEdge');
    expect(r.defaultConfiguration.reporting).toEqual({ intervalSeconds: 300, format: 'json' });
    const { policies, problems } = parseAccessControl(r.defaultConfiguration.accessControl);
    expect(problems).toEqual([]);
    expect(isAuthorized(policies, MQTTPROXY, 'aws.greengrass#PublishToIoTCore', '$aws/things/gw/defender/metrics/cbor')).toBe(true);
    expect(isAuthorized(policies, PUBSUB, 'aws.greengrass#SubscribeToTopic', 'downstream/reports')).toBe(true);
  });

  it('parses JSON recipes too', () => {
    const r = parseRecipe(JSON.stringify({ ComponentName: 'a.b', ComponentConfiguration: { DefaultConfiguration: { k: 1 } } }));
    expect(r).toEqual({ componentName: 'a.b', defaultConfiguration: { k: 1 } });
  });

  it('names the bad field', () => {
    expect(() => parseRecipe('ComponentName: "bad name"', 'r.yaml')).toThrow('r.yaml: ComponentName: must be a string');
    expect(() => parseRecipe('ComponentName: ok\nComponentConfiguration: 3', 'r.yaml')).toThrow(
      /ComponentConfiguration: must be an object/,
    );
    expect(() => parseRecipe('[1', 'r.yaml')).toThrow(RecipeError);
    expect(() => loadRecipeFile('/nonexistent/recipe.yaml')).toThrow(/nonexistent/);
  });

  it('the embedded identity may publish reports and subscribe to their replies', () => {
    const e = embeddedRecipe();
    const { policies } = parseAccessControl(e.defaultConfiguration.accessControl);
    expect(e.componentName).toBe('com.defender-edge.DefenderEdge');
    expect(isAuthorized(policies, MQTTPROXY, 'aws.greengrass#PublishToIoTCore', '$aws/things/t/defender/metrics/json')).toBe(true);
    expect(isAuthorized(policies, MQTTPROXY, 'aws.greengrass#SubscribeToIoTCore', '$aws/things/t/defender/metrics/json/accepted')).toBe(
      true,
    );
    expect(isAuthorized(policies, MQTTPROXY, 'aws.greengrass#PublishToIoTCore', 'other/topic')).toBe(false);
  });
});
