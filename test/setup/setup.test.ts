// `npm run setup` (scripts/setup.ts, scripts/systemPackages.ts): the package list, what is installed
// according to dpkg, the apt plan (only what is missing; a foreign architecture only when a package of it
// is missing), and the script itself as a real process on this machine.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BPF_BUILD_PACKAGES, compilerPackages } from '../../scripts/buildSockDiag.ts';
import { aptName, installedFromDpkgQuery, planApt, SYSTEM_PACKAGES, type SystemPackage } from '../../scripts/systemPackages.ts';
import { program, requires, root } from '../support/requirements.ts';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const dpkg = await program('dpkg-query', 'dpkg');

function runSetup(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [path.join(ROOT, 'scripts', 'setup.ts'), ...args], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr }),
    ),
  );
}

describe('the package list', () => {
  it('names each Debian package once, with what needs it', () => {
    const names = SYSTEM_PACKAGES.map(aptName);
    expect(new Set(names).size).toBe(names.length);
    for (const p of SYSTEM_PACKAGES) {
      expect(p.name).toMatch(/^[a-z0-9][a-z0-9+.-]+$/); // package names: https://www.debian.org/doc/debian-policy/ch-controlfields.html#source
      expect(p.why.length).toBeGreaterThan(10);
    }
  });

  it('has what the tests, the binaries, dedge-sockdiag and the eBPF helper build need', () => {
    const names = SYSTEM_PACKAGES.map(aptName);
    for (const needed of ['nftables', 'iproute2', 'qemu-user-static', 'libc6-arm64-cross', 'unzip', 'binutils-aarch64-linux-gnu']) {
      expect(names).toContain(needed);
    }
    for (const needed of ['gcc', 'libc6-dev', 'gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross']) expect(names).toContain(needed);
    for (const needed of ['clang', 'llvm', 'libbpf-dev', 'libelf-dev', 'zlib1g-dev', 'bpftool']) expect(names).toContain(needed);
  });

  it('holds every package the dedge-sockdiag build names in its errors (compilers, static libraries)', () => {
    // On an amd64 machine, as CI runs: `name:amd64` there is the machine's own package, listed by bare name.
    const names = new Set(SYSTEM_PACKAGES.map(aptName));
    const named = [
      ...Object.values(BPF_BUILD_PACKAGES).flat(),
      ...compilerPackages('x64', 'x64').split(' '),
      ...compilerPackages('arm64', 'x64').split(' '),
    ].map((n) => n.replace(/:amd64$/, ''));
    expect(named.filter((n) => !names.has(n))).toEqual([]);
  });
});

describe('what dpkg says is installed', () => {
  const listing = [
    'nftables\tamd64\tinstalled',
    'libbpf-dev\tamd64\tinstalled',
    'libbpf-dev\tarm64\tinstalled',
    'libc6-arm64-cross\tall\tinstalled',
    'zip\tamd64\tconfig-files',
    'broken line',
    '',
  ].join('\n');

  it('counts installed packages only; the native and `all` ones also by bare name', () => {
    expect([...installedFromDpkgQuery(listing, 'amd64')].sort()).toEqual([
      'libbpf-dev',
      'libbpf-dev:amd64',
      'libbpf-dev:arm64',
      'libc6-arm64-cross',
      'libc6-arm64-cross:all',
      'nftables',
      'nftables:amd64',
    ]);
  });
});

describe('the apt plan', () => {
  const list: SystemPackage[] = [
    { name: 'nftables', why: 'nft for the tests' },
    { name: 'bpftool', why: 'skeletons for the helper' },
    { name: 'libbpf-dev', arch: 'arm64', why: 'static arm64 libbpf' },
  ];

  it('is empty when everything is installed: no apt-get at all', () => {
    const installed = new Set(['nftables', 'bpftool', 'libbpf-dev:arm64']);
    expect(planApt(list, installed, ['arm64'], 'amd64')).toEqual({ addArchitectures: [], install: [], missing: [] });
  });

  it('installs only what is missing, arm64 packages by name:arm64, and adds arm64 to dpkg only for them', () => {
    const plan = planApt(list, new Set(['nftables', 'libbpf-dev']), [], 'amd64');
    expect(plan.install).toEqual(['bpftool', 'libbpf-dev:arm64']);
    expect(plan.addArchitectures).toEqual(['arm64']);
    expect(plan.missing.map((p) => p.name)).toEqual(['bpftool', 'libbpf-dev']);
    expect(planApt(list, new Set(['nftables', 'libbpf-dev:arm64']), [], 'amd64')).toMatchObject({
      addArchitectures: [],
      install: ['bpftool'],
    });
  });

  it('does not add an architecture dpkg already has, nor the machine’s own', () => {
    expect(planApt(list, new Set(), ['arm64'], 'amd64').addArchitectures).toEqual([]);
    expect(planApt(list, new Set(), [], 'arm64')).toMatchObject({
      addArchitectures: [],
      install: ['nftables', 'bpftool', 'libbpf-dev:arm64'],
    });
  });
});

describe('scripts/setup.ts as a process', () => {
  it('refuses an unknown option with its usage (exit 2)', async () => {
    const r = await runSetup(['--no-such-option']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('usage: setup [--dry-run]');
  });

  it('--dry-run after the set-up (npm test runs it first, as root): nothing left to install', requires(dpkg, root), async () => {
    const r = await runSetup(['--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ addArchitectures: [], install: [] });
    expect(r.stderr).toContain(`setup: system packages: all ${SYSTEM_PACKAGES.length} installed`);
  });
});
