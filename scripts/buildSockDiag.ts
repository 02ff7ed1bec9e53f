// Compiles the dedge-sockdiag helper (native/sockdiag/dedge-sockdiag.c) for one architecture: a static,
// stripped executable, so it runs on any Linux gateway of that architecture whatever its libc (glibc's
// libc.a comes with Debian's libc6-dev / libc6-dev-arm64-cross). The C file needs no library beyond libc.
// Cached: the output is rebuilt only when the source, the flags or the compiler (its --version) change.
// Same inputs, same bytes: no debug info (so no paths), no timestamps.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SOCKDIAG_NAME, sockDiagDevDir } from '../src/collector/sockDiagLocation.ts';

export type SockDiagArch = 'x64' | 'arm64';

export const SOCKDIAG_SOURCE = 'native/sockdiag/dedge-sockdiag.c';
export const SOCKDIAG_CFLAGS: readonly string[] = ['-std=c11', '-D_DEFAULT_SOURCE', '-O2', '-Wall', '-Wextra', '-static', '-s'];

const MACHINE_PREFIX: Record<SockDiagArch, string> = { x64: 'x86_64', arm64: 'aarch64' };

/** The compiler for `arch` on this build host: the native `cc`, or Debian's cross gcc. */
export function compilerFor(arch: SockDiagArch, hostArch: string = process.arch): string {
  if (arch === hostArch) return 'cc';
  return `${MACHINE_PREFIX[arch]}-linux-gnu-gcc`;
}

/** Debian package holding the compiler and the static libc for `arch` when cross-compiling from the other one. */
export function compilerPackages(arch: SockDiagArch, hostArch: string = process.arch): string {
  if (arch === hostArch) return 'gcc libc6-dev';
  return arch === 'arm64' ? 'gcc-aarch64-linux-gnu libc6-dev-arm64-cross' : 'gcc-x86-64-linux-gnu libc6-dev-amd64-cross';
}

export function devHelperPath(root: string, arch: SockDiagArch): string {
  return path.join(root, sockDiagDevDir(arch), SOCKDIAG_NAME);
}

export interface BuildSockDiagOptions {
  /** project root (holds native/) */
  root: string;
  arch: SockDiagArch;
  /** default: the development build path node_modules/.cache/defender-edge-sockdiag/<arch>/dedge-sockdiag */
  outFile?: string;
  force?: boolean;
}

export interface BuiltSockDiag {
  path: string;
  bytes: number;
  sha256: string;
  upToDate: boolean;
}

export class SockDiagBuildError extends Error {
  override name = 'SockDiagBuildError';
}

function run(file: string, args: readonly string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd, timeout: 120_000, maxBuffer: 8 * 2 ** 20, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
      (err, stdout, stderr) => {
        if (err) {
          const e = err as NodeJS.ErrnoException;
          reject(
            e.code === 'ENOENT'
              ? new SockDiagBuildError(`${file}: not found`)
              : new SockDiagBuildError(`${file} ${args.join(' ')}: ${stderr.trim() || e.message}`),
          );
        } else resolve({ stdout, stderr });
      },
    );
  });
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

export async function buildSockDiag(opts: BuildSockDiagOptions): Promise<BuiltSockDiag> {
  const root = path.resolve(opts.root);
  const outFile = path.resolve(root, opts.outFile ?? devHelperPath(root, opts.arch));
  const compiler = compilerFor(opts.arch);
  const source = await readFile(path.join(root, SOCKDIAG_SOURCE));

  let version: string;
  let machine: string;
  try {
    version = (await run(compiler, ['--version'], root)).stdout;
    machine = (await run(compiler, ['-dumpmachine'], root)).stdout.trim();
  } catch (err) {
    throw new SockDiagBuildError(
      `${(err as Error).message} (to build ${SOCKDIAG_NAME} for ${opts.arch}, install the Debian packages ${compilerPackages(opts.arch)})`,
    );
  }
  if (!machine.startsWith(`${MACHINE_PREFIX[opts.arch]}-`))
    throw new SockDiagBuildError(`${compiler} targets ${machine}, not ${MACHINE_PREFIX[opts.arch]}`);

  const key = sha256(JSON.stringify({ source: sha256(source), flags: SOCKDIAG_CFLAGS, version, machine }));
  const keyFile = `${outFile}.key`;
  if (!opts.force) {
    try {
      if ((await readFile(keyFile, 'utf8')).trim() === key) {
        const data = await readFile(outFile);
        return { path: outFile, bytes: data.length, sha256: sha256(data), upToDate: true };
      }
    } catch {
      // no previous build
    }
  }

  await mkdir(path.dirname(outFile), { recursive: true });
  // A private temporary name, then rename: builds running at once (parallel test files) never see a
  // half-written helper.
  const tmp = `${outFile}.${process.pid}.${Date.now()}.tmp`;
  try {
    // The source path is relative to root so that nothing machine-specific can reach the output.
    await run(compiler, [...SOCKDIAG_CFLAGS, '-o', tmp, SOCKDIAG_SOURCE], root);
    await chmod(tmp, 0o755);
    await rename(tmp, outFile);
  } finally {
    await rm(tmp, { force: true });
  }
  await writeFile(`${keyFile}.${process.pid}.tmp`, `${key}\n`);
  await rename(`${keyFile}.${process.pid}.tmp`, keyFile);
  const data = await readFile(outFile);
  return { path: outFile, bytes: (await stat(outFile)).size, sha256: sha256(data), upToDate: false };
}
