// biome-ignore-all lint/suspicious/noExplicitAny: the parsed recipe/gdk YAML is walked ad hoc by these assertions
// gdk-config.json against gdk's schema, and `gdk component build` simulated (gdk itself cannot be
// installed here; docs/packaging.md#what-gdk-does-with-a-custom-build): in a scratch copy of the project, delete greengrass-build/, create
// recipes/ and artifacts/<ComponentName>/<version>/ (gdk's step 2), then run custom_build_command the way
// gdk does — subprocess, argument list, no shell (step 3) — and check the exact layout it leaves, then
// what `gdk component publish` would do with it (publish steps 5–6).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BUILD_TARGETS, zipName } from '../../scripts/buildTargets.ts';
import { gdkConfigSchemaErrors, recipeSchemaErrors } from '../support/gdkSchemas.ts';
import { builtFile, requires } from '../support/requirements.ts';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const gdkConfig = JSON.parse(readFileSync(path.join(root, 'gdk-config.json'), 'utf8')) as Record<string, any>;
const componentName = Object.keys(gdkConfig.component)[0]!;
const component = gdkConfig.component[componentName];
const artifactsBuilt = builtFile('artifacts/build-info.json');

describe('gdk-config.json', () => {
  it('validates against gdk 1.6.2 config schema', () => {
    expect(gdkConfigSchemaErrors(gdkConfig)).toEqual([]);
  });

  it('the validator rejects what gdk rejects', () => {
    const noCommand = structuredClone(gdkConfig);
    delete noCommand.component[componentName].build.custom_build_command;
    expect(gdkConfigSchemaErrors(noCommand).join('\n')).toMatch(/custom_build_command/);
    const badVersion = structuredClone(gdkConfig);
    badVersion.component[componentName].version = 'LATEST';
    expect(gdkConfigSchemaErrors(badVersion)).not.toEqual([]);
    const noBucket = structuredClone(gdkConfig);
    delete noBucket.component[componentName].publish.bucket;
    expect(gdkConfigSchemaErrors(noBucket).join('\n')).toMatch(/bucket/);
  });

  it('is a custom build with a list-form command, for the recipe component, gdk_version not above 1.6.2', () => {
    expect(componentName).toBe((parse(readFileSync(path.join(root, 'recipe.yaml'), 'utf8')) as { ComponentName: string }).ComponentName);
    expect(component.build.build_system).toBe('custom');
    // gdk runs a one-string command as a single program name, which fails on Linux (docs/packaging.md).
    expect(Array.isArray(component.build.custom_build_command)).toBe(true);
    expect(component.version).toBe('NEXT_PATCH');
    expect(gdkConfig.gdk_version.split('.').map(Number)).toSatisfy(([a, b, c]: number[]) => a! * 1e6 + b! * 1e3 + c! <= 1_006_002);
  });
});

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix === '' ? e.name : `${prefix}/${e.name}`;
    if (e.isDirectory()) out.push(`${rel}/`, ...(await listFiles(path.join(dir, e.name), rel)));
    else out.push(rel);
  }
  return out.sort();
}

function runNoShell(argv: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd, env, shell: false, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('gdk component build (custom)', requires(artifactsBuilt), () => {
  let project = '';
  afterAll(async () => {
    if (project !== '') await rm(project, { recursive: true, force: true });
  });

  it('leaves exactly greengrass-build/recipes/recipe.yaml and both zips, in the form gdk publish rewrites', async () => {
    project = await mkdtemp(path.join(tmpdir(), 'dedge-gdk-'));
    for (const f of ['gdk-config.json', 'recipe.yaml', 'package.json']) await copyFile(path.join(root, f), path.join(project, f));
    for (const d of ['node_modules', 'src', 'scripts', 'artifacts']) await symlink(path.join(root, d), path.join(project, d));
    // gdk step 2 (a stale file from an earlier build must not survive).
    const version = component.version as string;
    const artifactDir = path.join(project, 'greengrass-build', 'artifacts', componentName, version);
    await mkdir(path.join(project, 'greengrass-build', 'recipes'), { recursive: true });
    await mkdir(artifactDir, { recursive: true });
    await writeFile(path.join(artifactDir, 'defender-edge-stale.zip'), 'left over');

    // Reuse the zips in artifacts/: other test files run those binaries concurrently.
    const env = { ...process.env, DEFENDER_EDGE_REUSE_ARTIFACTS: '1' };
    const result = await runNoShell(component.build.custom_build_command as string[], project, env);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);

    const zips = BUILD_TARGETS.map((t) => zipName(t.arch)).sort();
    expect(await listFiles(path.join(project, 'greengrass-build'))).toEqual(
      [
        'artifacts/',
        `artifacts/${componentName}/`,
        `artifacts/${componentName}/${version}/`,
        ...zips.map((z) => `artifacts/${componentName}/${version}/${z}`),
        'recipes/',
        'recipes/recipe.yaml',
      ].sort(),
    );
    for (const z of zips) {
      expect((await readFile(path.join(artifactDir, z))).equals(await readFile(path.join(root, 'artifacts', z)))).toBe(true);
    }

    const built = parse(await readFile(path.join(project, 'greengrass-build', 'recipes', 'recipe.yaml'), 'utf8')) as Record<string, any>;
    expect(recipeSchemaErrors(built)).toEqual([]);
    expect(built.ComponentName).toBe(componentName);
    expect(built.ComponentVersion).toBe(version);
    expect(built.ComponentPublisher).toBe(component.author);
    const uris = (built.Manifests as any[]).flatMap((m) => m.Artifacts.map((a: { URI: string }) => a.URI));
    expect(uris.sort()).toEqual(zips.map((z) => `s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/${z}`));

    // gdk publish step 6: every s3 URI whose file is in the artifacts folder is rewritten to the bucket;
    // one left unrewritten would make the deployment fetch a non-existent object.
    const uploaded = new Set(await readdir(artifactDir));
    expect(uris.every((u: string) => uploaded.has(u.slice(u.lastIndexOf('/') + 1)))).toBe(true);
  }, 120_000);
});
