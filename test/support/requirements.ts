// What some tests need from the machine (root, qemu-user for arm64, the built binaries, …) and the one way
// a test skips when it is missing: `describe(name, requires(…), fn)` / `it(name, requires(…), fn)`. It sets
// vitest's `skip` option and records the reason in the test's meta, so the skip report
// (test/support/skipReport.ts) prints every skip with its reason at the end of the run: no silent skip.
// test/setup/skips.test.ts fails on any other way of skipping.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

declare module 'vitest' {
  interface TaskMeta {
    /** Why the test was skipped (set by `requires`, inherited from a describe by its tests). */
    skipReason?: string;
  }
}

export interface Requirement {
  met: boolean;
  /** Printed when a test is skipped for it: what is missing and how to get it. */
  reason: string;
}

export function requirement(met: boolean, reason: string): Requirement {
  return { met, reason };
}

/** Test or suite options: skipped, with the reasons of the unmet requirements, unless all are met. */
export function requires(...needs: Requirement[]): { skip?: boolean; meta?: { skipReason: string } } {
  const unmet = needs.filter((n) => !n.met);
  if (unmet.length === 0) return {};
  return { skip: true, meta: { skipReason: unmet.map((n) => n.reason).join('; ') } };
}

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);

// Capability numbers: include/uapi/linux/capability.h
const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;
const CAP_BPF = 39;

/** This process's effective capability set (/proc/self/status `CapEff`, proc(5)). */
function effectiveCapabilities(): bigint {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return hex === undefined ? 0n : BigInt(`0x${hex}`);
}

function hasCapability(cap: number): boolean {
  return (effectiveCapabilities() & (1n << BigInt(cap))) !== 0n;
}

/**
 * Root, as far as the tests care: network namespaces (`ip netns add` mounts), nftables, `ip link` and
 * tmpfs mounts need CAP_SYS_ADMIN and CAP_NET_ADMIN. A root without them (a default container) is
 * not root here either.
 */
export const root: Requirement = requirement(
  hasCapability(CAP_NET_ADMIN) && hasCapability(CAP_SYS_ADMIN),
  'not root (network namespaces, nftables and mounts need CAP_SYS_ADMIN and CAP_NET_ADMIN): run npm test as root',
);

/** Loading BPF programs: CAP_BPF (Linux ≥ 5.8) or CAP_SYS_ADMIN. */
export const bpf: Requirement = requirement(
  hasCapability(CAP_BPF) || hasCapability(CAP_SYS_ADMIN),
  'no CAP_BPF or CAP_SYS_ADMIN to load BPF programs: run npm test as root',
);

/** `program --version` (or `args`) runs. */
export function hasProgram(program: string, args: string[] = ['--version']): Promise<boolean> {
  return new Promise((resolve) => execFile(program, args, (err) => resolve(err === null)));
}

/** A program from a Debian package `npm run setup` installs. */
export async function program(name: string, debianPackage: string, args?: string[]): Promise<Requirement> {
  return requirement(await hasProgram(name, args), `no ${name} (Debian: ${debianPackage}; npm run setup installs it)`);
}

export const QEMU_ARM64 = 'qemu-aarch64-static';
/** Debian's arm64 cross sysroot (libc6-arm64-cross, libstdc++6-arm64-cross): the loader and libraries for qemu -L. */
export const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';

/**
 * qemu-user arguments that run a dynamically linked arm64 program (the arm64 Node binary) against the cross
 * sysroot. `LD_LIBRARY_PATH=/lib` (for the emulated program only): qemu resolves a library path in the
 * sysroot when it exists there and on the host otherwise, so with Debian multiarch arm64 packages installed
 * (libc6:arm64 comes with any arm64 -dev package) the sysroot's loader would otherwise pick the host's
 * /lib/aarch64-linux-gnu/libc.so.6 — another glibc build than the loader, and Node spins at start-up.
 */
export function qemuArm64Args(file: string, args: readonly string[] = []): string[] {
  return ['-L', ARM64_SYSROOT, '-E', 'LD_LIBRARY_PATH=/lib', file, ...args];
}

/** qemu-user and the cross sysroot, to run arm64 programs on another architecture. */
export async function arm64Emulation(): Promise<Requirement> {
  const ok = (await hasProgram(QEMU_ARM64)) && existsSync(path.join(ARM64_SYSROOT, 'lib', 'ld-linux-aarch64.so.1'));
  return requirement(
    ok,
    `no ${QEMU_ARM64} or arm64 cross sysroot to run arm64 programs (Debian qemu-user-static, libc6-arm64-cross; npm run setup installs them)`,
  );
}

/** A file the build produces (artifacts/…, node_modules/.cache/…), relative to the repository root. */
export function builtFile(relativePath: string): Requirement {
  return requirement(existsSync(path.join(ROOT, relativePath)), `${relativePath} not built (npm run setup builds it)`);
}
