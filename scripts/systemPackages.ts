// The Debian/Ubuntu packages the tests and the build need: the one list `npm run setup` (scripts/setup.ts)
// installs from, each with what needs it. Add a package here, nowhere else (.ci/run and the README's test
// command both go through setup). Pure: the list and the plan; running dpkg and apt-get is setup.ts.

/** Architectures this list may ask for besides the machine's own (Debian multiarch, `name:arch`). */
export type ForeignArch = 'arm64';

export interface SystemPackage {
  /** Debian package name (as in Debian 12 and Ubuntu 24.04). */
  name: string;
  /**
   * Install the package of this architecture (`name:arm64`) instead of the machine's own, e.g. a
   * static library to link an arm64 program against. Setup adds the architecture to dpkg first.
   */
  arch?: ForeignArch;
  /** What needs it: printed when setup installs it. */
  why: string;
}

export const SYSTEM_PACKAGES: readonly SystemPackage[] = [
  // Enforcement and the collector, and the integration tests that run them in network namespaces.
  { name: 'nftables', why: 'nft: address blocks and quarantine sets, downstream traffic counters; tests in network namespaces' },
  { name: 'iproute2', why: 'ip: network namespaces, veth pairs, interface quarantine; ss: the collector fallback without dedge-sockdiag' },
  { name: 'mount', why: 'mount/umount: the disk-full tests put a state directory on a small tmpfs' },
  // The standalone binaries (scripts/buildBinaries.ts) and the tests that run them.
  { name: 'tar', why: 'extracts the Node base binaries from the registry tarballs' },
  { name: 'binutils', why: 'strip: the amd64 base binary is stripped before the SEA blob is injected' },
  { name: 'binutils-aarch64-linux-gnu', why: 'aarch64-linux-gnu-strip: the same for the arm64 base binary' },
  { name: 'unzip', why: 'tests unpack the Greengrass zips the way the nucleus does' },
  { name: 'qemu-user-static', why: 'qemu-aarch64-static: tests run the arm64 binary and helper on an amd64 machine' },
  { name: 'libc6-arm64-cross', why: "the arm64 loader and libc qemu-user uses as sysroot for the arm64 binary's dynamic Node" },
  { name: 'libstdc++6-arm64-cross', why: "libstdc++ for the arm64 binary's dynamic Node under qemu-user" },
  { name: 'qemu-system-arm', why: "qemu-system-aarch64: the arm64 test tier boots Debian's arm64 kernel and runs the arm64 zip in it" },
  { name: 'xz-utils', why: "xz: the arm64 test tier unpacks the Debian kernel's compressed modules" },
  { name: 'cpio', why: 'the arm64 test tier checks its initramfs writer against GNU cpio' },
  { name: 'git', why: 'the reproducible-build test clones HEAD into two folders' },
  // The collector's socket helper dedge-sockdiag (native/sockdiag/), static, for both architectures.
  { name: 'gcc', why: 'cc: dedge-sockdiag for this machine' },
  { name: 'libc6-dev', why: "static libc (libc.a) and kernel headers for this machine's dedge-sockdiag" },
  { name: 'gcc-aarch64-linux-gnu', why: 'aarch64-linux-gnu-gcc: dedge-sockdiag for arm64' },
  { name: 'libc6-dev-arm64-cross', why: 'static arm64 libc and kernel headers for the arm64 dedge-sockdiag' },
  // The eBPF traffic counters inside dedge-sockdiag (native/ebpf/, scripts/buildSockDiag.ts BPF_BUILD_PACKAGES):
  // a CO-RE BPF object compiled with clang, libbpf, libelf and zlib linked statically for both architectures.
  { name: 'clang', why: 'compiles the BPF object (-target bpf)' },
  { name: 'llvm', why: 'llvm-strip: drops the DWARF from the BPF object, keeping its BTF' },
  { name: 'bpftool', why: 'the integration tests check that no dedge BPF program is left behind' },
  { name: 'libbpf-dev', why: "libbpf.a, linked statically into this machine's dedge-sockdiag" },
  { name: 'libelf-dev', why: "libelf.a, which libbpf needs, for this machine's dedge-sockdiag" },
  { name: 'zlib1g-dev', why: "libz.a, which libelf needs, for this machine's dedge-sockdiag" },
  { name: 'libbpf-dev', arch: 'arm64', why: 'libbpf.a for the arm64 dedge-sockdiag (Debian multiarch)' },
  { name: 'libelf-dev', arch: 'arm64', why: 'libelf.a for the arm64 dedge-sockdiag' },
  { name: 'zlib1g-dev', arch: 'arm64', why: 'libz.a for the arm64 dedge-sockdiag' },
];

/** The name apt-get and dpkg-query take: `name` for the machine's own architecture, `name:arch` otherwise. */
export function aptName(p: SystemPackage): string {
  return p.arch === undefined ? p.name : `${p.name}:${p.arch}`;
}

/**
 * Installed packages from `dpkg-query -W -f '${Package}\t${Architecture}\t${db:Status-Status}\n'`: each
 * as `name:arch`, and also as bare `name` when it is of the machine's own architecture or `all`.
 */
export function installedFromDpkgQuery(output: string, nativeArch: string): Set<string> {
  const installed = new Set<string>();
  for (const line of output.split('\n')) {
    const [name, arch, status] = line.split('\t');
    if (!name || !arch || status !== 'installed') continue;
    installed.add(`${name}:${arch}`);
    if (arch === nativeArch || arch === 'all') installed.add(name);
  }
  return installed;
}

export interface AptPlan {
  /** `dpkg --add-architecture` each of these, before `apt-get update`. */
  addArchitectures: ForeignArch[];
  /** apt names to install, in list order; empty: nothing to do (no apt-get at all). */
  install: string[];
  /** The packages behind `install`, for the log. */
  missing: SystemPackage[];
}

/** What setup has to do: only what is missing, and only the foreign architectures those packages need. */
export function planApt(
  wanted: readonly SystemPackage[],
  installed: ReadonlySet<string>,
  foreignArchitectures: readonly string[],
  nativeArch: string,
): AptPlan {
  const missing = wanted.filter((p) => !installed.has(aptName(p)));
  const addArchitectures = [
    ...new Set(
      missing.flatMap((p) => (p.arch !== undefined && p.arch !== nativeArch && !foreignArchitectures.includes(p.arch) ? [p.arch] : [])),
    ),
  ];
  return { addArchitectures, install: [...new Set(missing.map(aptName))], missing };
}
