// gdk's custom build (gdk-config.json `custom_build_command`: `npm run --silent build:component`), run by
// `gdk component build` from the project root after it recreated greengrass-build/
// (docs/packaging.md#what-gdk-does-with-a-custom-build). Leaves exactly what gdk publish expects:
//   greengrass-build/recipes/recipe.yaml                      (URIs s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/<zip>)
//   greengrass-build/artifacts/<ComponentName>/<version>/     (both zips, nothing else)
// Builds the binaries first (incremental, scripts/buildBinaries.ts). With DEFENDER_EDGE_REUSE_ARTIFACTS=1
// it takes the zips already in artifacts/ as they are (checked against artifacts/build-info.json) — for
// tests that must not rebuild while other tests run the binaries.
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256File } from './baseBinaries.ts';
import { BUILD_INFO_FILE, type BuildInfo, buildBinaries } from './buildBinaries.ts';
import { buildComponentRecipe, MAX_RECIPE_BYTES, parseGdkConfig } from './componentRecipe.ts';

const RECIPE_FILE = 'recipe.yaml';

async function existingArtifacts(artifactsDir: string): Promise<BuildInfo> {
  let info: BuildInfo;
  try {
    info = JSON.parse(await readFile(path.join(artifactsDir, BUILD_INFO_FILE), 'utf8')) as BuildInfo;
  } catch {
    throw new Error(`${path.join(artifactsDir, BUILD_INFO_FILE)}: missing; run \`npm run build:binaries\` first`);
  }
  for (const t of info.targets) {
    if ((await sha256File(path.join(artifactsDir, t.zip.path))) !== t.zip.sha256) {
      throw new Error(`${t.zip.path}: does not match ${BUILD_INFO_FILE}; run \`npm run build:binaries\``);
    }
  }
  return info;
}

export async function buildComponent(root: string, log: (line: string) => void): Promise<void> {
  const component = parseGdkConfig(await readFile(path.join(root, 'gdk-config.json'), 'utf8'));
  const artifactsDir = path.join(root, 'artifacts');
  const info =
    process.env.DEFENDER_EDGE_REUSE_ARTIFACTS === '1' ? await existingArtifacts(artifactsDir) : await buildBinaries({ root, log });

  const recipe = buildComponentRecipe(await readFile(path.join(root, RECIPE_FILE), 'utf8'), component);
  const recipeBytes = Buffer.byteLength(recipe.text);
  if (recipeBytes > MAX_RECIPE_BYTES) throw new Error(`recipe: ${recipeBytes} bytes, gdk allows at most ${MAX_RECIPE_BYTES}`);
  const built = new Set(info.targets.map((t) => t.zip.path));
  for (const file of recipe.artifactFiles) {
    if (!built.has(file)) throw new Error(`recipe artifact ${file}: not among the built zips (${[...built].join(', ')})`);
  }

  // gdk created these (step 2); create them too so the command also works on its own.
  const buildDir = path.join(root, 'greengrass-build');
  const recipesDir = path.join(buildDir, 'recipes');
  const componentArtifacts = path.join(buildDir, 'artifacts', component.name, component.version);
  await mkdir(recipesDir, { recursive: true });
  await mkdir(componentArtifacts, { recursive: true });
  // gdk publish uploads every file in that folder (gdk PublishCommand.py): leave only ours.
  for (const stale of await readdir(componentArtifacts)) await rm(path.join(componentArtifacts, stale), { recursive: true, force: true });
  for (const file of recipe.artifactFiles) await copyFile(path.join(artifactsDir, file), path.join(componentArtifacts, file));
  await writeFile(path.join(recipesDir, RECIPE_FILE), recipe.text);
  log(
    `greengrass-build/recipes/${RECIPE_FILE} and ${recipe.artifactFiles.length} artifacts in ` +
      `greengrass-build/artifacts/${component.name}/${component.version}/`,
  );
}

if (import.meta.main) {
  buildComponent(process.cwd(), (line) => process.stderr.write(`build-component: ${line}\n`)).then(
    () => {
      process.exitCode = 0;
    },
    (err: unknown) => {
      process.stderr.write(`build-component: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
