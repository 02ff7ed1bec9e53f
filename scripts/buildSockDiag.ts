// Compiles the dedge-sockdiag helper (native/sockdiag/dedge-sockdiag.c) for one architecture: a static,
// stripped executable, so it runs on any Linux gateway of that architecture whatever its libc (glibc's
// libc.a comes with Debian's libc6-dev / libc6-dev-arm64-cross).
// Per-process traffic (native/ebpf/dedge_traffic.bpf.c) is an eBPF object compiled with clang -target bpf
// (one object for every architecture: BPF bytecode is little-endian on both, CO-RE adapts it to the
// running kernel), stripped of DWARF (BTF stays), embedded into the helper as bytes of a generated header,
// and loaded with libbpf, linked statically with libelf and zlib (Debian's libbpf-dev, libelf-dev,
// zlib1g-dev for the target architecture; BPF_BUILD_PACKAGES). So the helper stays ONE executable.
// Cached: the output is rebuilt only when the sources, the flags, the compiler (its --version), the BPF
// object or the static libraries change. Same inputs, same bytes: no debug info (so no paths), no
// timestamps.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SOCKDIAG_NAME, sockDiagDevDir } from '../src/collector/sockDiagLocation.ts';

export type SockDiagArch = 'x64' | 'arm64';

export const SOCKDIAG_SOURCE = 'native/sockdiag/dedge-sockdiag.c';
/** Every C file of the helper, in link order; all of them (and the headers) feed the cache key. */
export const SOCKDIAG_SOURCES: readonly string[] = [SOCKDIAG_SOURCE, 'native/sockdiag/dedge-traffic.c'];
const SOCKDIAG_HEADERS: readonly string[] = ['native/sockdiag/dedge-traffic.h', 'native/ebpf/dedge_traffic.h'];
export const SOCKDIAG_CFLAGS: readonly string[] = ['-std=c11', '-D_DEFAULT_SOURCE', '-O2', '-Wall', '-Wextra', '-static', '-s'];
export const SOCKDIAG_LIBS: readonly string[] = ['-lbpf', '-lelf', '-lz'];
const STATIC_LIBS = ['libbpf.a', 'libelf.a', 'libz.a'];

export const BPF_SOURCE = 'native/ebpf/dedge_traffic.bpf.c';
/** -g makes clang emit BTF (CO-RE needs it); llvm-strip -g then drops the DWARF, keeping .BTF/.BTF.ext. */
// -fdebug-compilation-dir=.: the BTF line info names the source relative to the project (same bytes in any checkout).
export const BPF_CFLAGS: readonly string[] = [
  '-g',
  '-fdebug-compilation-dir=.',
  '-O2',
  '-target',
  'bpf',
  '-mcpu=v3',
  '-Wall',
  '-Werror',
  '-Inative/ebpf',
];

/*
 * ---- Debian packages the helper build needs (bookworm). The one list to install from (.ci/run, setup). ----
 * x64 host, x64 helper:   gcc libc6-dev clang llvm libbpf-dev libelf-dev zlib1g-dev
 * x64 host, arm64 helper: gcc-aarch64-linux-gnu libc6-dev-arm64-cross, and after `dpkg --add-architecture
 *                         arm64 && apt-get update`: libbpf-dev:arm64 libelf-dev:arm64 zlib1g-dev:arm64
 * (bookworm's libelf 0.188 needs only zlib; a newer elfutils built with zstd would add libzstd-dev.)
 */
export const BPF_BUILD_PACKAGES: Readonly<Record<'tools' | SockDiagArch, readonly string[]>> = {
  tools: ['clang', 'llvm'],
  x64: ['libbpf-dev:amd64', 'libelf-dev:amd64', 'zlib1g-dev:amd64'],
  arm64: ['libbpf-dev:arm64', 'libelf-dev:arm64', 'zlib1g-dev:arm64'],
};

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

  const libs: Record<string, string> = {};
  for (const lib of STATIC_LIBS) {
    const found = (await run(compiler, [`-print-file-name=${lib}`], root)).stdout.trim();
    let data: Buffer;
    try {
      data = await readFile(found);
    } catch {
      throw new SockDiagBuildError(
        `${lib} for ${opts.arch} not found (install the Debian packages ${BPF_BUILD_PACKAGES[opts.arch].join(' ')})`,
      );
    }
    libs[lib] = sha256(data);
  }
  const bpfObject = await buildBpfObject(root);
  const sources: Record<string, string> = { [SOCKDIAG_SOURCE]: sha256(source) };
  for (const f of [...SOCKDIAG_SOURCES.slice(1), ...SOCKDIAG_HEADERS]) sources[f] = sha256(await readFile(path.join(root, f)));
  const key = sha256(JSON.stringify({ sources, flags: SOCKDIAG_CFLAGS, version, machine, bpf: sha256(bpfObject), libs }));
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
    // The generated header goes beside the output; its (absolute) folder only steers the preprocessor:
    // without debug info no path reaches the executable. Source paths are relative to root.
    const genDir = `${tmp}.gen`;
    await mkdir(genDir, { recursive: true });
    try {
      await writeFile(path.join(genDir, 'dedge_traffic_bpf_obj.h'), bpfObjectHeader(bpfObject));
      await run(compiler, [...SOCKDIAG_CFLAGS, '-Inative/ebpf', '-I', genDir, '-o', tmp, ...SOCKDIAG_SOURCES, ...SOCKDIAG_LIBS], root);
    } finally {
      await rm(genDir, { recursive: true, force: true });
    }
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

/**
 * Compiles the eBPF program (always: ~0.2 s, and its bytes are part of the helper's cache key) and returns
 * the object's bytes. Needs clang and llvm-strip (Debian clang, llvm) and libbpf's BPF-side headers
 * (/usr/include/bpf, libbpf-dev).
 */
export function buildBpfObject(root: string): Promise<Buffer> {
  let p = bpfObjects.get(root);
  if (!p) {
    p = compileBpfObject(root);
    bpfObjects.set(root, p);
    p.catch(() => bpfObjects.delete(root));
  }
  return p;
}

/** One compilation per process and root (tests build several helpers). */
const bpfObjects = new Map<string, Promise<Buffer>>();

async function compileBpfObject(root: string): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dedge-bpf-'));
  try {
    const obj = path.join(dir, 'dedge_traffic.bpf.o');
    try {
      await run('clang', [...BPF_CFLAGS, '-c', BPF_SOURCE, '-o', obj], root);
      await run('llvm-strip', ['-g', obj], root);
    } catch (err) {
      throw new SockDiagBuildError(
        `${(err as Error).message} (the eBPF program needs the Debian packages ${[...BPF_BUILD_PACKAGES.tools, 'libbpf-dev'].join(' ')})`,
      );
    }
    return await readFile(obj);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The object as a C array (what `xxd -i` would print), for native/sockdiag/dedge-traffic.c. */
export function bpfObjectHeader(obj: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < obj.length; i += 16)
    lines.push(`  ${Array.from(obj.subarray(i, i + 16), (b) => `0x${b.toString(16).padStart(2, '0')},`).join(' ')}`);
  return `/* Generated by scripts/buildSockDiag.ts from ${BPF_SOURCE}: do not edit. */\nstatic const unsigned char dedge_traffic_bpf_obj[] = {\n${lines.join('\n')}\n};\n`;
}
