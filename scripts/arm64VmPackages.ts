// What the arm64 VM test tier (test/arm64/) needs from Debian, and how it gets it: only apt's own tools
// against the archive the machine is configured for — `apt-cache` to resolve names and versions (offline,
// from the package lists), `apt-get download` to fetch the .deb files, `dpkg-deb -x` to unpack them.
// Nothing is installed for arm64; the .debs become the VM's initramfs (scripts/arm64VmImage.ts).
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';

/**
 * Host packages (Debian names) the tier runs on: `qemu-system-aarch64` comes from qemu-system-arm. The arm64
 * packages below are downloaded, not installed, but apt must know the architecture:
 * `dpkg --add-architecture arm64 && apt-get update` first.
 */
export const ARM64_VM_HOST_PACKAGES: readonly string[] = ['qemu-system-arm'];
export const ARM64_VM_FOREIGN_ARCH = 'arm64';

/**
 * Root packages of the VM (arm64), their shared-library dependencies are added by resolveArm64VmPackages:
 * the cloud kernel (virtio, nftables, sock_diag, BPF and network namespaces; smaller than the generic
 * one), busybox for the shell and tools, nftables and iproute2 as the agent calls them on a gateway, and
 * libstdc++ for the Node.js runtime inside the binary.
 */
export const ARM64_VM_ROOT_PACKAGES: readonly string[] = [
  'linux-image-cloud-arm64',
  'busybox-static',
  'nftables',
  'iproute2',
  'libstdc++6',
];

export interface DebPackage {
  name: string;
  version: string;
}

export class Arm64VmPackagesError extends Error {
  override name = 'Arm64VmPackagesError';
}

function run(file: string, args: readonly string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, maxBuffer: 64 * 2 ** 20, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      if (err)
        reject(
          new Arm64VmPackagesError(
            `${file} ${args.slice(0, 4).join(' ')}…: ${stderr.trim().split('\n').slice(-3).join(' / ') || err.message}`,
          ),
        );
      else resolve(stdout);
    });
  });
}

/**
 * Packages a dependency edge leads to that the VM needs: shared libraries (zlib's package is zlib1g) and the
 * kernel image behind the metapackage — not the tools packages depend on for their maintainer scripts.
 */
function wanted(dep: string): boolean {
  return /^(lib|zlib|linux-image-)/.test(dep);
}

/**
 * Parses `apt-cache depends --recurse` output into package → dependencies (arm64 only; virtual packages,
 * shown as `<name>`, are skipped).
 */
export function parseAptDepends(text: string, arch = ARM64_VM_FOREIGN_ARCH): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  let current: string[] | undefined;
  const suffix = `:${arch}`;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (!/^\s/.test(line)) {
      const name = line.trim();
      current = name.endsWith(suffix) ? [] : undefined;
      if (current) graph.set(name.slice(0, -suffix.length), current);
      continue;
    }
    const m = /^\s*\|?(?:Pre)?Depends: (\S+)$/.exec(line);
    if (!m || !current) continue;
    const dep = m[1]!;
    if (dep.startsWith('<') || !dep.endsWith(suffix)) continue;
    current.push(dep.slice(0, -suffix.length));
  }
  return graph;
}

/** The roots plus every package reachable from them through `wanted` edges, sorted. */
export function dependencyClosure(graph: ReadonlyMap<string, readonly string[]>, roots: readonly string[]): string[] {
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const p = stack.pop()!;
    if (seen.has(p)) continue;
    seen.add(p);
    for (const d of graph.get(p) ?? []) if (wanted(d) && !seen.has(d)) stack.push(d);
  }
  return [...seen].sort();
}

/** Parses `apt-cache show --no-all-versions` stanzas: Package → Version. */
export function parseAptShow(text: string): Map<string, string> {
  const versions = new Map<string, string>();
  for (const stanza of text.split(/\n\s*\n/)) {
    const name = /^Package: (\S+)$/m.exec(stanza)?.[1];
    const version = /^Version: (\S+)$/m.exec(stanza)?.[1];
    if (name && version && !versions.has(name)) versions.set(name, version);
  }
  return versions;
}

/**
 * The arm64 packages of the VM with the versions apt would download now. Reads the local package lists
 * only (no network); throws when arm64 is not a configured architecture or a package is unknown.
 */
export async function resolveArm64VmPackages(roots: readonly string[] = ARM64_VM_ROOT_PACKAGES): Promise<DebPackage[]> {
  const qualified = (names: readonly string[]) => names.map((n) => `${n}:${ARM64_VM_FOREIGN_ARCH}`);
  let depends: string;
  try {
    depends = await run('apt-cache', [
      'depends',
      '--recurse',
      '--no-recommends',
      '--no-suggests',
      '--no-conflicts',
      '--no-breaks',
      '--no-replaces',
      '--no-enhances',
      ...qualified(roots),
    ]);
  } catch (err) {
    throw new Arm64VmPackagesError(
      `${(err as Error).message} (the arm64 package lists are needed: dpkg --add-architecture arm64 && apt-get update)`,
    );
  }
  const names = dependencyClosure(parseAptDepends(depends), roots);
  const versions = parseAptShow(await run('apt-cache', ['show', '--no-all-versions', ...qualified(names)]));
  return names.map((name) => {
    const version = versions.get(name);
    if (version === undefined) throw new Arm64VmPackagesError(`apt-cache show: no arm64 candidate for ${name}`);
    return { name, version };
  });
}

/** `apt-get download` names a file `<name>_<version, ':' as %3a>_<arch>.deb`. */
export function debFileName(p: DebPackage, arch = ARM64_VM_FOREIGN_ARCH): string {
  return `${p.name}_${p.version.replace(/:/g, '%3a')}_${arch}.deb`;
}

/** Downloads (into `dir`) the packages whose .deb is not there yet; returns the path of every .deb. */
export async function downloadDebs(dir: string, packages: readonly DebPackage[]): Promise<string[]> {
  const present = new Set(await readdir(dir));
  const missing = packages.filter((p) => !present.has(debFileName(p)));
  if (missing.length > 0) {
    await run('apt-get', ['download', '-q', ...missing.map((p) => `${p.name}:${ARM64_VM_FOREIGN_ARCH}=${p.version}`)], dir);
    const now = new Set(await readdir(dir));
    const still = missing.filter((p) => !now.has(debFileName(p)));
    if (still.length > 0) throw new Arm64VmPackagesError(`apt-get download: no file for ${still.map((p) => debFileName(p)).join(', ')}`);
  }
  return packages.map((p) => `${dir}/${debFileName(p)}`);
}

/** Unpacks a .deb's files (not its maintainer scripts) into `root`. */
export async function extractDeb(deb: string, root: string): Promise<void> {
  await run('dpkg-deb', ['-x', deb, root]);
}
