// The esbuild bundle behind the standalone binaries: one CommonJS file (a Node SEA main script must be
// CommonJS) holding src/main.ts, every command module it imports (esbuild follows the static
// `import('./cli/x.ts')` strings) and every dependency, with no timestamps or absolute paths in it so
// the same sources give the same bytes.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type BuildOptions, build, type Metafile, type Plugin } from 'esbuild';
import { CRT_ADDON_NAME } from './buildTargets.ts';

/**
 * Runs before any bundled module. Why each line:
 * - aws-crt loads its addon from `AWS_CRT_NODEJS_BINARY_ABSOLUTE_PATH` (aws-crt dist/native/binding.js); point it at the
 *   file shipped beside the executable (in a SEA `__dirname` is the executable's folder) before aws-crt is
 *   first required, and drop the relative-path override that would resolve against another folder.
 * - In a SEA the main script's own `require` loads built-ins only; a require created from `__filename`
 *   can load the `.node` addon by path (https://nodejs.org/api/single-executable-applications.html).
 * - `import.meta.url` has no meaning in a CommonJS bundle; modules that read it get this file's URL.
 */
export const BUNDLE_BANNER = [
  '"use strict";',
  `process.env.AWS_CRT_NODEJS_BINARY_ABSOLUTE_PATH = require("node:path").join(__dirname, ${JSON.stringify(CRT_ADDON_NAME)});`,
  'delete process.env.AWS_CRT_NODEJS_BINARY_RELATIVE_PATH;',
  'require = require("node:module").createRequire(__filename);',
  'var __defenderEdgeImportMetaUrl = require("node:url").pathToFileURL(__filename).href;',
].join('\n');

/** The one line of aws-crt 1.x `dist/native/binding.js` that adds its package-relative default search path. */
const CRT_DEFAULT_SEARCH = /let search_paths = \[\s*path\.join\(bin_path, platformDir, binary_name\) \+ '\.node',\s*\];/;

/**
 * aws-crt first looks for its addon relative to its own module folder; in a bundle that is two folders
 * above the executable (e.g. /tmp when the binary sits in /tmp/a/b), a place we do not control. Remove
 * that default so the only candidate is the explicit path from the banner (the addon is loaded only by
 * explicit path, docs/packaging.md). Fails the build if aws-crt's loader changed shape, rather than shipping the old risk.
 */
export const crtExplicitPathPlugin: Plugin = {
  name: 'aws-crt-explicit-path',
  setup(b) {
    b.onLoad({ filter: /[\\/]aws-crt[\\/]dist[\\/]native[\\/]binding\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!CRT_DEFAULT_SEARCH.test(source)) {
        throw new Error(`${args.path}: aws-crt addon search code changed; review scripts/bundle.ts crtExplicitPathPlugin`);
      }
      return { contents: source.replace(CRT_DEFAULT_SEARCH, 'let search_paths = [];'), loader: 'js' };
    });
  },
};

/**
 * cbor-x tries `require('cbor-extract')`, an optional native string extractor that node-gyp-build would
 * look up in folders relative to the executable. The binary uses cbor-x's pure JavaScript decoder
 * instead: the require throws at once and cbor-x catches it (node-index.js "native module is optional").
 */
export const cborPureJsPlugin: Plugin = {
  name: 'cbor-x-pure-js',
  setup(b) {
    b.onResolve({ filter: /^cbor-extract$/ }, () => ({ path: 'cbor-extract', namespace: 'defender-edge-disabled' }));
    b.onLoad({ filter: /.*/, namespace: 'defender-edge-disabled' }, () => ({
      contents: 'throw new Error("cbor-extract is not part of the defender-edge binary (pure JS CBOR)");',
      loader: 'js',
    }));
  },
};

export interface BundleRequest {
  /** Project root: the folder holding package.json, src/ and node_modules/. */
  root: string;
  /** Entry file, relative to root or absolute. */
  entry: string;
  /** Output .cjs file. */
  outfile: string;
  /** Baked in as `DEFENDER_EDGE_VERSION` (src/version.ts). */
  version: string;
}

export function bundleOptions(req: BundleRequest): BuildOptions {
  return {
    absWorkingDir: req.root,
    entryPoints: [req.entry],
    outfile: req.outfile,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    banner: { js: BUNDLE_BANNER },
    define: {
      DEFENDER_EDGE_VERSION: JSON.stringify(req.version),
      'import.meta.url': '__defenderEdgeImportMetaUrl',
    },
    plugins: [crtExplicitPathPlugin, cborPureJsPlugin],
    // Whitespace and syntax only: identifiers stay readable in stack traces from the field.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    legalComments: 'eof',
    sourcemap: false,
    metafile: true,
    logLevel: 'silent',
    write: true,
  };
}

export interface BundleResult {
  outfile: string;
  /** Project-relative paths of every module in the bundle. */
  inputs: string[];
  warnings: string[];
}

export async function bundle(req: BundleRequest): Promise<BundleResult> {
  const result = await build(bundleOptions(req));
  const metafile = result.metafile as Metafile;
  return {
    outfile: path.resolve(req.root, req.outfile),
    inputs: Object.keys(metafile.inputs).sort(),
    warnings: result.warnings.map((w) => `${w.location ? `${w.location.file}:${w.location.line}: ` : ''}${w.text}`),
  };
}
