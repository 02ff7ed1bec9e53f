// The esbuild bundle behind the standalone binaries: one CommonJS file (a Node SEA main script must be
// CommonJS) holding src/main.ts, every command module it imports (esbuild follows the static
// `import('./cli/x.ts')` strings) and every dependency, with no timestamps or absolute paths in it so
// the same sources give the same bytes.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { brotliCompressSync, constants as zlibConstants } from 'node:zlib';
import { type BuildOptions, build, type Metafile, type Plugin } from 'esbuild';
import { CORE_COMMANDS, TOOLS_BUNDLE } from './binaryCommands.ts';
import { BINARY_NAME, CRT_ADDON_NAME } from './buildTargets.ts';

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

/**
 * For the binary's main script: the command modules src/main.ts loads with `import()` that are not core
 * commands (scripts/binaryCommands.ts) are left out, replaced by a module that fails if it is ever loaded —
 * scripts/binaryEntry.ts hands those command lines to the tools bundle before src/main.ts could.
 */
export function coreOnlyPlugin(root: string): Plugin {
  const mainFile = path.join(root, 'src', 'main.ts');
  const core = new Set(Object.values(CORE_COMMANDS).map((f) => path.join(root, f)));
  return {
    name: 'defender-edge-core-only',
    setup(b) {
      b.onResolve({ filter: /^\./ }, (args) => {
        if (args.kind !== 'dynamic-import' || args.importer !== mainFile) return undefined;
        const target = path.resolve(path.dirname(args.importer), args.path);
        if (core.has(target)) return undefined;
        return { path: path.relative(root, target).split(path.sep).join('/'), namespace: 'defender-edge-tools-only' };
      });
      b.onLoad({ filter: /.*/, namespace: 'defender-edge-tools-only' }, (args) => ({
        contents: `throw new Error(${JSON.stringify(`${args.path} is in ${TOOLS_BUNDLE}, not in the main script`)});`,
        loader: 'js',
      }));
    },
  };
}

/**
 * aws-crt's index requires every one of its modules (MQTT 3 and 5, HTTP, auth, crypto, checksums …) at
 * once; the IPC client (aws-iot-device-sdk-v2 eventstream_rpc) uses a few of them through that index. In the
 * bundle the index becomes lazy: each export is a getter that requires its module on first use, so what is
 * never used is never initialised (~0.5 MiB of heap). Same modules, same exports. Fails the build if the
 * index has a shape this does not recognise, rather than shipping a partial index.
 */
export const crtLazyIndexPlugin: Plugin = {
  name: 'aws-crt-lazy-index',
  setup(b) {
    b.onLoad({ filter: /[\\/]aws-crt[\\/]dist[\\/]index\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const declared =
        /^exports\.(?:\w+ = exports\.)*\w+ = void 0;$/m
          .exec(source)?.[0]
          .match(/exports\.(\w+)/g)
          ?.map((e) => e.slice(8)) ?? [];
      const getters: string[] = [];
      const defined = new Set<string>();
      for (const m of source.matchAll(/^const (\w+) = __importStar\(require\("(\.\/[\w/]+)"\)\);\nexports\.(\w+) = \1;$/gm)) {
        getters.push(
          `Object.defineProperty(exports, ${JSON.stringify(m[3])}, { enumerable: true, get: () => require(${JSON.stringify(m[2])}) });`,
        );
        defined.add(m[3]!);
      }
      const modules = new Map([...source.matchAll(/^const (\w+) = require\("(\.\/[\w/]+)"\);$/gm)].map((m) => [m[1]!, m[2]!]));
      for (const m of source.matchAll(
        /^Object\.defineProperty\(exports, "(\w+)", \{ enumerable: true, get: function \(\) \{ return (\w+)\.(\w+); \} \}\);$/gm,
      )) {
        const from = modules.get(m[2]!);
        if (from === undefined) continue;
        getters.push(
          `Object.defineProperty(exports, ${JSON.stringify(m[1])}, { enumerable: true, get: () => require(${JSON.stringify(from)}).${m[3]} });`,
        );
        defined.add(m[1]!);
      }
      const missing = declared.filter((d) => !defined.has(d));
      if (declared.length === 0 || missing.length > 0) {
        throw new Error(
          `${args.path}: aws-crt index changed (not made lazy: ${missing.join(', ') || 'no exports found'}); review scripts/bundle.ts crtLazyIndexPlugin`,
        );
      }
      return {
        contents: ['"use strict";', 'Object.defineProperty(exports, "__esModule", { value: true });', ...getters].join('\n'),
        loader: 'js',
      };
    });
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
  /** more esbuild plugins, before ours */
  plugins?: Plugin[];
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
    plugins: [...(req.plugins ?? []), crtExplicitPathPlugin, crtLazyIndexPlugin, cborPureJsPlugin],
    // Whitespace and syntax only: identifiers stay readable in stack traces from the field. Not keepNames:
    // with identifiers unminified it only adds a __name() call at every function and class creation, run
    // on every closure the agent creates (measured ~0.4 % of its CPU with 1,000 devices).
    minifyWhitespace: true,
    minifySyntax: true,
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

export interface BinaryBundles {
  /** the SEA main script: src/main.ts with the core commands only */
  core: BundleResult;
  /** every command (src/main.ts whole); in the binary a SEA asset (TOOLS_ASSET, compressed by brotliAsset) */
  tools: BundleResult;
}

/**
 * The tools bundle as the binary's SEA asset holds it: brotli at its highest quality, the window sized for
 * the whole file. Same input, same bytes (the build is reproducible, test/packaging/reproducible.test.ts).
 */
export function brotliAsset(data: Buffer): Buffer {
  return brotliCompressSync(data, {
    params: {
      [zlibConstants.BROTLI_PARAM_MODE]: zlibConstants.BROTLI_MODE_TEXT,
      [zlibConstants.BROTLI_PARAM_QUALITY]: zlibConstants.BROTLI_MAX_QUALITY,
      [zlibConstants.BROTLI_PARAM_LGWIN]: zlibConstants.BROTLI_MAX_WINDOW_BITS,
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  });
}

/** The binary's two bundles, `<outDir>/defender-edge.cjs` and `<outDir>/defender-edge-tools.cjs` (scripts/binaryCommands.ts). */
export async function bundleBinary(req: { root: string; outDir: string; version: string }): Promise<BinaryBundles> {
  const core = await bundle({
    root: req.root,
    entry: 'scripts/binaryEntry.ts',
    outfile: path.join(req.outDir, `${BINARY_NAME}.cjs`),
    version: req.version,
    plugins: [coreOnlyPlugin(req.root)],
  });
  const tools = await bundle({
    root: req.root,
    entry: 'scripts/binaryToolsEntry.ts',
    outfile: path.join(req.outDir, TOOLS_BUNDLE),
    version: req.version,
  });
  return { core, tools };
}
