// What gdk's own build would do to the recipe, done by our custom build because gdk does nothing for
// `build_system: custom` (docs/packaging.md#what-gdk-does-with-a-custom-build): set ComponentVersion (the gdk-config value, possibly
// NEXT_PATCH, which `gdk component publish` resolves), ComponentPublisher (author), and rewrite every
// artifact URI to `s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/<file>`, the literal placeholders
// publish replaces. Pure: text in, text out.
import { type Document, isMap, isSeq, parseDocument } from 'yaml';

/** The one component of a gdk-config.json (gdk allows exactly one). */
export interface GdkComponent {
  name: string;
  version: string;
  author: string;
  buildCommand: string[];
}

/** Reads the fields our build needs from gdk-config.json text; errors name the field. */
export function parseGdkConfig(text: string): GdkComponent {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`gdk-config.json: not JSON (${(err as Error).message})`);
  }
  const component = (raw as { component?: unknown }).component;
  if (typeof component !== 'object' || component === null) throw new Error('gdk-config.json component: must be an object');
  const names = Object.keys(component);
  if (names.length !== 1) throw new Error(`gdk-config.json component: must hold exactly one component (got ${names.length})`);
  const name = names[0]!;
  const c = (component as Record<string, Record<string, unknown>>)[name]!;
  const field = (key: string): string => {
    const v = c[key];
    if (typeof v !== 'string' || v === '') throw new Error(`gdk-config.json component.${name}.${key}: must be a non-empty string`);
    return v;
  };
  const build = c.build as { custom_build_command?: unknown } | undefined;
  const cmd = build?.custom_build_command;
  const buildCommand = Array.isArray(cmd) && cmd.every((x) => typeof x === 'string') ? (cmd as string[]) : [];
  return { name, version: field('version'), author: field('author'), buildCommand };
}

export const S3_PLACEHOLDER_PREFIX = 's3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/';

export interface ComponentRecipe {
  text: string;
  /** File names the artifact URIs refer to, in manifest order. */
  artifactFiles: string[];
}

function fail(path: string, message: string): never {
  throw new Error(`recipe ${path}: ${message}`);
}

function artifactFile(uri: string, path: string): string {
  const file = uri.slice(uri.lastIndexOf('/') + 1);
  if (!uri.startsWith('s3://') || file === '' || file === '.' || file === '..')
    fail(path, `must be an s3:// URI ending in a file name (got '${uri}')`);
  return file;
}

export function buildComponentRecipe(rootRecipeText: string, component: GdkComponent): ComponentRecipe {
  const doc: Document = parseDocument(rootRecipeText);
  if (doc.errors.length > 0) fail('', doc.errors.map((e) => e.message).join('; '));
  const name = doc.get('ComponentName');
  if (name !== component.name)
    fail('ComponentName', `must equal the gdk-config.json component '${component.name}' (got '${String(name)}')`);
  doc.set('ComponentVersion', component.version);
  doc.set('ComponentPublisher', component.author);
  const manifests = doc.get('Manifests');
  if (!isSeq(manifests)) fail('Manifests', 'must be a list');
  const artifactFiles: string[] = [];
  manifests.items.forEach((manifest, i) => {
    if (!isMap(manifest)) fail(`Manifests[${i}]`, 'must be a map');
    const artifacts = manifest.get('Artifacts');
    if (artifacts === undefined) return;
    if (!isSeq(artifacts)) fail(`Manifests[${i}].Artifacts`, 'must be a list');
    artifacts.items.forEach((artifact, j) => {
      const path = `Manifests[${i}].Artifacts[${j}].URI`;
      if (!isMap(artifact)) fail(`Manifests[${i}].Artifacts[${j}]`, 'must be a map');
      const uri = artifact.get('URI');
      if (typeof uri !== 'string') fail(path, 'must be a string');
      const file = artifactFile(uri, path);
      artifact.set('URI', `${S3_PLACEHOLDER_PREFIX}${file}`);
      artifactFiles.push(file);
    });
  });
  return { text: doc.toString({ lineWidth: 110 }), artifactFiles };
}

/** gdk refuses recipes over 16000 bytes (build and publish; gdk/common/consts.py MAX_RECIPE_FILE_SIZE_BYTES). */
export const MAX_RECIPE_BYTES = 16_000;
