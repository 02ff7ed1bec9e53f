import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isAuthorized, MQTTPROXY, PUBSUB, parseAccessControl } from '../../../src/ipc/emulator/authorization.ts';
import {
  embeddedRecipe,
  hostArchitecture,
  loadRecipeFile,
  parseRecipe,
  RecipeError,
  selectLiteManifest,
} from '../../../src/ipc/emulator/recipe.ts';

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
    const r = parseRecipe(
      JSON.stringify({ ComponentName: 'a.b', ComponentVersion: '2.0.1', ComponentConfiguration: { DefaultConfiguration: { k: 1 } } }),
    );
    expect(r).toEqual({ componentName: 'a.b', componentVersion: '2.0.1', defaultConfiguration: { k: 1 } });
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

describe('recipes under nucleus lite', () => {
  const recipe = (manifests: unknown[]) =>
    JSON.stringify({ ComponentName: 'a.b', ComponentConfiguration: { DefaultConfiguration: { n: 42 } }, Manifests: manifests });
  const run = { Lifecycle: { Run: 'x' } };

  it('a manifest counts only with Platform runtime "*" or "aws_nucleus_lite"; others are skipped with lite\'s message', () => {
    const arch = hostArchitecture();
    const sel = selectLiteManifest(
      {
        Manifests: [
          { Platform: { os: 'linux', architecture: arch }, ...run },
          { Platform: { os: 'linux', runtime: 'aws_nucleus_classic' }, ...run },
          { Platform: { os: 'linux', runtime: '*', architecture: 'no-such-arch' }, ...run },
          { Platform: { os: 'linux', runtime: 'aws_nucleus_lite', architecture: arch }, ...run },
        ],
      },
      arch,
    );
    expect(sel).toEqual({
      ok: true,
      index: 3,
      skipped: [
        'Manifests[0]: Skipping manifest as it does not include a runtime platform field.',
        'Manifests[1]: Skipping manifest as it is not for aws_nucleus_lite',
        `Manifests[2]: Platform.architecture no-such-arch is not this machine's ${arch}`,
      ],
    });
    expect(selectLiteManifest({ Manifests: [{ Platform: { os: '*', runtime: '*' }, ...run }] }, 'amd64')).toMatchObject({
      ok: true,
      index: 0,
    });
  });

  it("no usable manifest: the recipe is refused with lite's reason and what was skipped", () => {
    expect(() => parseRecipe(recipe([{ Platform: { os: 'linux' }, ...run }]), 'r.json', { flavor: 'lite' })).toThrow(
      'r.json: No lifecycle was found for linux (Manifests[0]: Skipping manifest as it does not include a runtime platform field.)',
    );
    expect(selectLiteManifest({}, 'amd64')).toEqual({ ok: false, error: 'No Manifest found in the recipe', skipped: [] });
    expect(selectLiteManifest({ Manifests: [{ Lifecycle: {} }] }, 'amd64')).toMatchObject({
      ok: false,
      error: 'Manifests[0].Platform: Platform not provided',
    });
    expect(selectLiteManifest({ Manifests: [{ Platform: { runtime: '*', os: 'linux' }, Lifecycle: {} }] }, 'amd64')).toMatchObject({
      ok: false,
      error: 'No lifecycle was found for linux',
    });
  });

  it('lite decodes a YAML recipe keeping scalars as text; a JSON recipe keeps its numbers; classic keeps both', () => {
    const yaml = [
      'ComponentName: a.b',
      'ComponentVersion: 1.0.0',
      'ComponentConfiguration:',
      '  DefaultConfiguration:',
      '    n: 42',
      '    on: true',
      'Manifests:',
      '  - Platform: {os: linux, runtime: "*"}',
      '    Lifecycle: {Run: x}',
      '',
    ].join('\n');
    expect(parseRecipe(yaml, 'r.yaml', { flavor: 'lite' })).toMatchObject({
      componentVersion: '1.0.0',
      defaultConfiguration: { n: '42', on: 'true' },
    });
    expect(parseRecipe(yaml, 'r.yaml')).toMatchObject({ defaultConfiguration: { n: 42, on: true } });
    const json = recipe([{ Platform: { os: 'linux', runtime: '*' }, ...run }]);
    expect(parseRecipe(json, 'r.json', { flavor: 'lite' }).defaultConfiguration).toEqual({ n: 42 });
  });
});
