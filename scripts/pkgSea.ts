// Runs @yao-pkg/pkg in SEA mode offline. pkg's SEA mode looks for `node-v<version>-linux-<arch>.tar.gz`
// in `$HOME/.pkg-cache/sea/` and skips download and checksum when the archive and its `.ok` sentinel
// exist, and skips extraction when `node-v<version>-linux-<arch>/bin/node` and its `.ok` exist
// (@yao-pkg/pkg 6.23.0 lib-es5/sea.js `getNodejsExecutable`, `extract`). pkg takes
// that folder from os.homedir() (not PKG_CACHE_PATH), so the build gives pkg a private HOME under the
// build cache and seeds it with our registry-sourced base binaries: nothing is downloaded, and the
// user's own ~/.pkg-cache is neither read nor written.
import { execFile } from 'node:child_process';
import { copyFile, link, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { BaseBinary } from './baseBinaries.ts';
import { NODE_VERSION } from './buildTargets.ts';

const run = promisify(execFile);

/** Folder pkg would extract the official archive into; `bin/node` inside it is what pkg injects into. */
function seaCacheName(base: BaseBinary): string {
  return `node-v${NODE_VERSION}-linux-${base.target.nodeArch}`;
}

/**
 * pkg only reads the seeded binary (it copies it to the output before injecting), so a hard link is
 * enough and saves writing ~100 MB per target; across filesystems it is copied.
 */
async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

export async function seedPkgCache(pkgHome: string, bases: readonly BaseBinary[]): Promise<void> {
  const sea = path.join(pkgHome, '.pkg-cache', 'sea');
  await rm(sea, { recursive: true, force: true });
  await mkdir(sea, { recursive: true });
  for (const base of bases) {
    const name = seaCacheName(base);
    // The archive itself is never opened once the extracted binary and its sentinel exist; an empty
    // placeholder keeps pkg from fetching nodejs.org.
    await writeFile(path.join(sea, `${name}.tar.gz`), '');
    await writeFile(path.join(sea, `${name}.tar.gz.ok`), '');
    const binDir = path.join(sea, name, 'bin');
    await mkdir(binDir, { recursive: true });
    await linkOrCopy(base.nodePath, path.join(binDir, 'node'));
    await writeFile(path.join(binDir, 'node.ok'), '');
  }
}

export interface PkgRequest {
  root: string;
  /** The CommonJS bundle (simple SEA mode: a plain .js file, no package.json walking). */
  bundle: string;
  bases: readonly BaseBinary[];
  /** Private HOME for pkg (holds the seeded .pkg-cache). */
  pkgHome: string;
  log: (line: string) => void;
}

/** Runs pkg once for all targets (one SEA blob, made by the x64 binary, injected into each). Returns arch → executable. */
export async function buildSeaExecutables(req: PkgRequest): Promise<Map<string, string>> {
  await seedPkgCache(req.pkgHome, req.bases);
  const out = await mkdtemp(path.join(req.pkgHome, 'out-'));
  const targets = req.bases.map((b) => `node${NODE_VERSION}-linux-${b.target.nodeArch}`).join(',');
  const pkgBin = path.join(req.root, 'node_modules', '@yao-pkg', 'pkg', 'lib-es5', 'bin.js');
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: req.pkgHome };
  delete env.PKG_CACHE_PATH;
  req.log(`pkg --sea -t ${targets}`);
  // process.execPath: the project's pinned Node 24 (pkg needs Node ≥ 22 and the SEA blob generator
  // must be the same Node version as the targets; pkg uses the seeded x64 binary for that).
  let stdout: string;
  let stderr: string;
  try {
    ({ stdout, stderr } = await run(process.execPath, [pkgBin, req.bundle, '--sea', '-t', targets, '--out-path', out], {
      cwd: req.root,
      env,
      maxBuffer: 16 * 2 ** 20,
    }));
  } catch (err) {
    await rm(out, { recursive: true, force: true });
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`pkg failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
  for (const line of `${stdout}${stderr}`.split('\n')) if (line.trim() !== '') req.log(`  pkg: ${line}`);
  const produced = await readdir(out);
  const result = new Map<string, string>();
  for (const base of req.bases) {
    // pkg names each output `<bundle name>[-<platform>]-<arch>` when there are several targets.
    const file = req.bases.length === 1 ? produced[0] : produced.find((f) => f.endsWith(`-${base.target.nodeArch}`));
    if (file === undefined) throw new Error(`pkg produced no executable for ${base.target.arch} (got: ${produced.join(', ')})`);
    result.set(base.target.arch, path.join(out, file));
  }
  return result;
}
