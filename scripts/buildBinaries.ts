// The standalone binaries (docs/packaging.md): bundle → registry base binaries → SEA blob + postject → artifacts/<arch>/
// {defender-edge, aws-crt-nodejs.node, dedge-sockdiag} → artifacts/defender-edge-<arch>.zip, plus
// artifacts/build-info.json (sizes and SHA-256 of every output, no timestamps). Incremental: when the
// fingerprint of every input (bundle bytes, base binaries, addons, build scripts, postject and Node versions)
// equals the recorded one and the outputs still hash as recorded, nothing is rebuilt.
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SOCKDIAG_NAME } from '../src/collector/sockDiagLocation.ts';
import { type BaseBinary, prepareBaseBinary, sha256File } from './baseBinaries.ts';
import { TOOLS_ASSET } from './binaryCommands.ts';
import { type BuiltSockDiag, buildSockDiag } from './buildSockDiag.ts';
import { BINARY_NAME, BUILD_TARGETS, type BuildTarget, CRT_ADDON_NAME, NODE_VERSION, zipName } from './buildTargets.ts';
import { brotliAsset, bundleBinary } from './bundle.ts';
import { buildSeaExecutables } from './seaExecutables.ts';
import { buildZip } from './zipArchive.ts';

export interface BuildBinariesOptions {
  /** Project root (package.json, src/, node_modules/). */
  root: string;
  /** Where artifacts go; default `<root>/artifacts`. */
  outDir?: string;
  /** Build cache; default `<root>/node_modules/.cache/defender-edge-build`. */
  cacheDir?: string;
  /** Subset of targets; default all. */
  targets?: readonly BuildTarget[];
  /** Rebuild even when the fingerprint matches. */
  force?: boolean;
  log?: (line: string) => void;
}

export interface BuiltTarget {
  arch: string;
  binary: { path: string; bytes: number; sha256: string };
  addon: { path: string; bytes: number; sha256: string };
  /** the collector's socket-diagnostics helper (native/sockdiag/), static, beside the executable */
  helper: { path: string; bytes: number; sha256: string };
  zip: { path: string; bytes: number; sha256: string };
  stripped: boolean;
}

export interface BuildInfo {
  version: string;
  node: string;
  fingerprint: string;
  targets: BuiltTarget[];
}

export interface BuildResult extends BuildInfo {
  upToDate: boolean;
}

export const BUILD_INFO_FILE = 'build-info.json';

function relativeTo(root: string, p: string): string {
  return path.relative(root, p).split(path.sep).join('/');
}

async function fileFacts(file: string): Promise<{ bytes: number; sha256: string }> {
  return { bytes: (await stat(file)).size, sha256: await sha256File(file) };
}

async function readBuildInfo(file: string): Promise<BuildInfo | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as BuildInfo;
  } catch {
    return null;
  }
}

/** True when every output recorded in `info` still exists with the recorded hash. */
async function outputsIntact(outDir: string, info: BuildInfo): Promise<boolean> {
  for (const t of info.targets) {
    if (!t.helper) return false; // built before the helper was part of the artifacts
    for (const f of [t.binary, t.addon, t.helper, t.zip]) {
      try {
        if ((await sha256File(path.join(outDir, f.path))) !== f.sha256) return false;
      } catch {
        return false;
      }
    }
  }
  return true;
}

async function buildScriptsDigest(root: string): Promise<string> {
  const dir = path.join(root, 'scripts');
  const hash = createHash('sha256');
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.ts')).sort()) {
    hash.update(file).update(await readFile(path.join(dir, file)));
  }
  return hash.digest('hex');
}

export async function buildBinaries(opts: BuildBinariesOptions): Promise<BuildResult> {
  const root = path.resolve(opts.root);
  const outDir = path.resolve(root, opts.outDir ?? 'artifacts');
  const cacheDir = path.resolve(root, opts.cacheDir ?? 'node_modules/.cache/defender-edge-build');
  const targets = opts.targets ?? BUILD_TARGETS;
  const log = opts.log ?? ((line: string) => process.stderr.write(`build-binaries: ${line}\n`));
  if (process.versions.node !== NODE_VERSION) {
    // The SEA blob is written by the base binary of this machine's architecture, but the bundle step and
    // postject should run on the pinned Node too (npm scripts put node_modules/.bin first on PATH).
    log(`warning: building with Node ${process.versions.node}; the project pins ${NODE_VERSION}`);
  }
  const pkgJson = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const postjectVersion = (JSON.parse(await readFile(path.join(root, 'node_modules/postject/package.json'), 'utf8')) as { version: string })
    .version;

  const bundleDir = path.join(cacheDir, 'bundle');
  await mkdir(bundleDir, { recursive: true });
  const bundled = await bundleBinary({ root, outDir: bundleDir, version: pkgJson.version });
  const bundleFile = bundled.core.outfile;
  const toolsFile = bundled.tools.outfile;
  const toolsAsset = path.join(bundleDir, TOOLS_ASSET);
  await writeFile(toolsAsset, brotliAsset(await readFile(toolsFile)));
  for (const w of [...bundled.core.warnings, ...bundled.tools.warnings]) log(`esbuild warning: ${w}`);
  log(
    `bundle: main script ${bundled.core.inputs.length} modules, ${(await stat(bundleFile)).size} bytes; tools ${bundled.tools.inputs.length} modules, ${(await stat(toolsFile)).size} bytes (${(await stat(toolsAsset)).size} as its brotli asset)`,
  );

  const bases: BaseBinary[] = [];
  for (const target of targets) bases.push(await prepareBaseBinary(cacheDir, target, log));
  const addonSource = (t: BuildTarget) => path.join(root, 'node_modules', 'aws-crt', 'dist', 'bin', t.crtDir, CRT_ADDON_NAME);
  // The helper is compiled (cached by source, flags and compiler) into the dev build folder and copied from there.
  const helpers = new Map<string, BuiltSockDiag>();
  for (const target of targets) {
    const h = await buildSockDiag({ root, arch: target.nodeArch });
    log(`${SOCKDIAG_NAME} ${target.arch}: ${h.bytes} bytes${h.upToDate ? ' (cached)' : ''}`);
    helpers.set(target.arch, h);
  }

  const fingerprint = createHash('sha256')
    .update(
      JSON.stringify({
        bundle: await sha256File(bundleFile),
        tools: await sha256File(toolsFile),
        bases: bases.map((b) => [b.target.arch, b.sha256, b.stripped]),
        addons: await Promise.all(targets.map(async (t) => [t.arch, await sha256File(addonSource(t))])),
        helpers: targets.map((t) => [t.arch, helpers.get(t.arch)!.sha256]),
        scripts: await buildScriptsDigest(root),
        postject: postjectVersion,
        node: NODE_VERSION,
      }),
    )
    .digest('hex');

  const infoFile = path.join(outDir, BUILD_INFO_FILE);
  const previous = await readBuildInfo(infoFile);
  if (!opts.force && previous?.fingerprint === fingerprint && (await outputsIntact(outDir, previous))) {
    log('up to date');
    return { ...previous, upToDate: true };
  }

  await mkdir(outDir, { recursive: true });
  await rm(infoFile, { force: true });
  const executables = await buildSeaExecutables({
    root,
    bundle: bundleFile,
    assets: [toolsAsset],
    bases,
    workDir: path.join(cacheDir, 'sea'),
    log,
  });
  const built: BuiltTarget[] = [];
  try {
    for (const base of bases) {
      const { arch } = base.target;
      const exe = executables.get(arch);
      if (exe === undefined) throw new Error(`no executable for ${arch}`);
      const archDir = path.join(outDir, arch);
      await rm(archDir, { recursive: true, force: true });
      await mkdir(archDir, { recursive: true });
      const binary = path.join(archDir, BINARY_NAME);
      const addon = path.join(archDir, CRT_ADDON_NAME);
      const helper = path.join(archDir, SOCKDIAG_NAME);
      await rename(exe, binary);
      await chmod(binary, 0o755);
      await copyFile(addonSource(base.target), addon);
      await chmod(addon, 0o644);
      await copyFile(helpers.get(arch)!.path, helper);
      await chmod(helper, 0o755);

      const zipFile = path.join(outDir, zipName(arch));
      log(`zip ${relativeTo(root, zipFile)}`);
      const zip = buildZip([
        { name: BINARY_NAME, data: await readFile(binary), mode: 0o755 },
        { name: CRT_ADDON_NAME, data: await readFile(addon), mode: 0o644 },
        { name: SOCKDIAG_NAME, data: await readFile(helper), mode: 0o755 },
      ]);
      await writeFile(`${zipFile}.tmp`, zip);
      await rename(`${zipFile}.tmp`, zipFile);
      built.push({
        arch,
        binary: { path: relativeTo(outDir, binary), ...(await fileFacts(binary)) },
        addon: { path: relativeTo(outDir, addon), ...(await fileFacts(addon)) },
        helper: { path: relativeTo(outDir, helper), ...(await fileFacts(helper)) },
        zip: { path: relativeTo(outDir, zipFile), ...(await fileFacts(zipFile)) },
        stripped: base.stripped,
      });
    }
  } finally {
    for (const exe of executables.values()) await rm(path.dirname(exe), { recursive: true, force: true });
  }
  const info: BuildInfo = { version: pkgJson.version, node: NODE_VERSION, fingerprint, targets: built };
  await writeFile(`${infoFile}.tmp`, `${JSON.stringify(info, null, 2)}\n`);
  await rename(`${infoFile}.tmp`, infoFile);
  for (const t of built)
    log(`${t.arch}: binary ${t.binary.bytes} bytes, zip ${t.zip.bytes} bytes (${(t.zip.bytes / 2 ** 20).toFixed(1)} MiB)`);
  return { ...info, upToDate: false };
}
