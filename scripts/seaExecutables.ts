// Turns the bundle into one standalone executable per target the way Node documents single executable
// applications (https://nodejs.org/api/single-executable-applications.html): a sea-config.json, a
// preparation blob written by the pinned Node itself (`--experimental-sea-config`), and postject
// injecting that blob as the `NODE_SEA_BLOB` resource into a copy of each registry base binary.
//
// Reproducible: Node records the config's `main` in the blob verbatim as the script's file name (the
// name stack traces show; node/src/node_sea.cc `SeaSerializer::Write`, node/src/node_contextify.cc
// `CompileFunctionForCJSLoader`). The bundle is therefore copied into a private folder and named
// relative to it (`defender-edge.cjs`), so no folder of the build machine reaches the executable. A
// packaging tool that passes an absolute `main` would make the bytes depend on the checkout folder.
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import type { BaseBinary } from './baseBinaries.ts';
import { BINARY_NAME, NODE_VERSION } from './buildTargets.ts';
import { SEA_EXEC_ARGV } from './seaRuntime.ts';

const run = promisify(execFile);

/** The script name inside the blob: relative, the same on every build machine. */
export const SEA_MAIN = `${BINARY_NAME}.cjs`;

/**
 * The sentinel every Node release carries once; postject flips it so Node looks for the injected blob
 * (node/src/node_sea.cc `POSTJECT_SENTINEL_FUSE`). Split so this file never contains it verbatim.
 */
const SEA_SENTINEL_FUSE = ['NODE_SEA', 'FUSE_fce680ab2cc467b6e072b8b5df1996b2'].join('_');

/**
 * postject's progress lines, and LIEF (inside postject) warning about note section names it cannot
 * resolve after adding the blob's note section: the executable is correct (the tests run it).
 */
const BENIGN_POSTJECT_OUTPUT = /^(warning: Can't find string offset for section name '\.note|Start injection of |💉 Injection done!)/;

/**
 * No snapshot and no code cache: both are specific to the machine architecture that writes the blob.
 * `execArgv`: the runtime flags of every process the binary starts (scripts/seaRuntime.ts). `assets`:
 * key → file, relative to the work folder like `main` (the tools bundle, scripts/binaryCommands.ts).
 */
export function seaConfig(output: string, assets: readonly string[] = []): Record<string, unknown> {
  return {
    main: SEA_MAIN,
    output,
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: false,
    execArgv: [...SEA_EXEC_ARGV],
    ...(assets.length > 0 ? { assets: Object.fromEntries(assets.map((a) => [a, a])) } : {}),
  };
}

/**
 * The blob must be written by exactly the Node release it is injected into. The base binary of this
 * machine's architecture is that release; otherwise the Node running the build, if it is the pinned one.
 */
export function blobGenerator(bases: readonly BaseBinary[], hostArch: string = process.arch): string {
  const native = bases.find((b) => b.target.nodeArch === hostArch);
  if (native) return native.nodePath;
  if (process.versions.node === NODE_VERSION) return process.execPath;
  throw new Error(`no Node ${NODE_VERSION} that runs on ${hostArch} to write the SEA blob (build with the project's pinned Node)`);
}

export interface SeaRequest {
  /** Project root (resolves postject from its node_modules). */
  root: string;
  /** The CommonJS bundle. */
  bundle: string;
  /** Files embedded as SEA assets, each under its file name. */
  assets?: readonly string[];
  bases: readonly BaseBinary[];
  /** A folder for the private work folder (config, blob, executables); removed with the executables. */
  workDir: string;
  log: (line: string) => void;
}

/** Returns arch → executable, all inside one fresh folder under `workDir` (the caller moves them and removes it). */
export async function buildSeaExecutables(req: SeaRequest): Promise<Map<string, string>> {
  await mkdir(req.workDir, { recursive: true });
  const work = await mkdtemp(path.join(req.workDir, 'sea-'));
  try {
    await copyFile(req.bundle, path.join(work, SEA_MAIN));
    const assets = (req.assets ?? []).map((a) => path.basename(a));
    for (const a of req.assets ?? []) await copyFile(a, path.join(work, path.basename(a)));
    await writeFile(path.join(work, 'sea-config.json'), `${JSON.stringify(seaConfig('sea-prep.blob', assets))}\n`);
    const generator = blobGenerator(req.bases);
    req.log(`SEA blob: ${path.basename(generator)} --experimental-sea-config (main ${SEA_MAIN})`);
    // cwd = the work folder: `main` and `output` are relative to it.
    await run(generator, ['--experimental-sea-config', 'sea-config.json'], { cwd: work, maxBuffer: 16 * 2 ** 20 });

    const postject = createRequire(path.join(req.root, 'package.json')).resolve('postject/dist/cli.js');
    const result = new Map<string, string>();
    for (const base of req.bases) {
      const exe = path.join(work, `${BINARY_NAME}-${base.target.nodeArch}`);
      // A copy, never a link: postject rewrites the file it is given.
      await copyFile(base.nodePath, exe);
      await chmod(exe, 0o755);
      req.log(`postject ${base.target.arch}`);
      let out: { stdout: string; stderr: string };
      try {
        out = await run(
          process.execPath,
          [postject, exe, 'NODE_SEA_BLOB', path.join(work, 'sea-prep.blob'), '--sentinel-fuse', SEA_SENTINEL_FUSE, '--overwrite'],
          { cwd: work, maxBuffer: 16 * 2 ** 20 },
        );
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string };
        throw new Error(`postject ${base.target.arch} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
      }
      for (const line of stripVTControlCharacters(`${out.stdout}${out.stderr}`).split('\n')) {
        if (line.trim() !== '' && !BENIGN_POSTJECT_OUTPUT.test(line)) req.log(`  postject: ${line}`);
      }
      result.set(base.target.arch, exe);
    }
    return result;
  } catch (err) {
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}
