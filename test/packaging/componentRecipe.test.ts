import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildComponentRecipe, type GdkComponent, parseGdkConfig, S3_PLACEHOLDER_PREFIX } from '../../scripts/componentRecipe.ts';
import { recipeSchemaErrors } from '../support/gdkSchemas.ts';

const root = new URL('../..', import.meta.url);
const rootRecipe = readFileSync(new URL('recipe.yaml', root), 'utf8');
const component: GdkComponent = { name: 'com.defender-edge.DefenderEdge', version: 'NEXT_PATCH', author: 'Jane', buildCommand: [] };

describe('buildComponentRecipe', () => {
  it('sets version and publisher from gdk-config and keeps everything else', () => {
    const out = buildComponentRecipe(rootRecipe, component);
    const before = parse(rootRecipe) as Record<string, unknown>;
    const after = parse(out.text) as Record<string, unknown>;
    expect(after).toEqual({ ...before, ComponentVersion: 'NEXT_PATCH', ComponentPublisher: 'Jane' });
    expect(out.artifactFiles).toEqual(['defender-edge-amd64.zip', 'defender-edge-aarch64.zip']);
    expect(recipeSchemaErrors(after)).toEqual([]);
    // Comments (the privilege reasons) survive into the built recipe.
    expect(out.text).toContain('CAP_NET_ADMIN');
  });

  it('rewrites any s3 URI to the placeholders gdk publish replaces', () => {
    const custom = rootRecipe.replace(
      's3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/defender-edge-amd64.zip',
      's3://my-bucket/some/prefix/defender-edge-amd64.zip',
    );
    expect(custom).not.toBe(rootRecipe);
    const after = parse(buildComponentRecipe(custom, component).text) as { Manifests: Array<{ Artifacts: Array<{ URI: string }> }> };
    expect(after.Manifests.map((m) => m.Artifacts[0]!.URI)).toEqual([
      `${S3_PLACEHOLDER_PREFIX}defender-edge-amd64.zip`,
      `${S3_PLACEHOLDER_PREFIX}defender-edge-aarch64.zip`,
    ]);
  });

  it('refuses a recipe for another component or with a URI that is not s3', () => {
    expect(() => buildComponentRecipe(rootRecipe, { ...component, name: 'com.other.Thing' })).toThrow(/^recipe ComponentName: must equal/);
    const http = rootRecipe.replace(
      's3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/defender-edge-aarch64.zip',
      'https://example.com/x.zip',
    );
    expect(() => buildComponentRecipe(http, component)).toThrow(/^recipe Manifests\[1\]\.Artifacts\[0\]\.URI: must be an s3:\/\//);
    expect(() => buildComponentRecipe('a: [', component)).toThrow(/^recipe /);
  });
});

describe('parseGdkConfig', () => {
  it('reads the single component', () => {
    const c = parseGdkConfig(readFileSync(new URL('gdk-config.json', root), 'utf8'));
    expect(c).toEqual({
      name: 'com.defender-edge.DefenderEdge',
      version: 'NEXT_PATCH',
      author: 'defender-edge',
      buildCommand: ['npm', 'run', '--silent', 'build:component'],
    });
  });

  it('names the field that is wrong', () => {
    expect(() => parseGdkConfig('{')).toThrow(/^gdk-config\.json: not JSON/);
    expect(() => parseGdkConfig('{"component":{}}')).toThrow(/^gdk-config\.json component: must hold exactly one component/);
    expect(() => parseGdkConfig('{"component":{"a":{"version":"1.0.0"}}}')).toThrow(/^gdk-config\.json component\.a\.author: must be/);
  });
});
