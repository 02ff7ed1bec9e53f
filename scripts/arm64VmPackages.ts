// What the arm64 VM test tier (test/arm64/) needs from Debian, and how it gets it: only apt's own tools
// against Debian's archive — `apt-get update` into a private apt state (its own sources, lists and cache
// under the test cache, the machine's apt configuration is neither read nor changed), `apt-cache` to resolve
// names and versions from those lists, `apt-get download` to fetch the .deb files, `dpkg-deb -x` to unpack
// them. Nothing is installed; the .debs become the VM's initramfs (scripts/arm64VmImage.ts).
//
// The VM's userland is Debian 13 (trixie) whatever the host runs, a private state works the same on a
// Debian 12 or an Ubuntu host (whose own lists may lack arm64: ports.ubuntu.com). Its kernel is Debian 13's
// (6.12: it has the sock_send_length and sock_recv_length tracepoints of Linux 6.3 the eBPF traffic
// counters hook) or Debian 12's (6.1: it has not; the collector falls back to sock_diag there).
import { execFile } from 'node:child_process';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const ARM64_VM_FOREIGN_ARCH = 'arm64';

/** Debian releases a VM is built from (https://www.debian.org/releases/): the userland is always trixie's. */
export type DebianRelease = 'trixie' | 'bookworm';
export const ARM64_VM_RELEASE: DebianRelease = 'trixie';
/** The keyring package debian-archive-keyring installs; it holds the trixie archive keys from 2023.3+deb12u1 on. */
export const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** deb822 sources (sources.list(5)) for the VM's release, arm64 only. */
export function vmSources(release: DebianRelease = ARM64_VM_RELEASE): string {
  const stanza = (uri: string, suites: string) =>
    `Types: deb\nURIs: ${uri}\nSuites: ${suites}\nComponents: main\nArchitectures: ${ARM64_VM_FOREIGN_ARCH}\nSigned-By: ${DEBIAN_KEYRING}\n`;
  return `${stanza('http://deb.debian.org/debian', `${release} ${release}-updates`)}\n${stanza('http://deb.debian.org/debian-security', `${release}-security`)}`;
}

/** An apt state of our own: sources, lists and cache in `dir`; apt(8) options that point every tool at it. */
export interface AptState {
  dir: string;
  release: DebianRelease;
  options: string[];
}

export function aptState(dir: string, release: DebianRelease = ARM64_VM_RELEASE): AptState {
  return {
    dir,
    release,
    options: [
      ['Dir::Etc::SourceList', '/dev/null'],
      ['Dir::Etc::SourceParts', path.join(dir, 'sources.list.d')],
      ['Dir::Etc::Preferences', '/dev/null'],
      ['Dir::Etc::PreferencesParts', '/dev/null'],
      ['Dir::State::Lists', path.join(dir, 'lists')],
      ['Dir::State::status', '/dev/null'],
      ['Dir::Cache', path.join(dir, 'cache')],
      ['Acquire::Languages', 'none'],
      ['APT::Architectures::', ARM64_VM_FOREIGN_ARCH],
      // apt-get download writes into a folder the _apt user may not reach; the download is still verified
      ['APT::Sandbox::User', 'root'],
    ].flatMap(([k, v]) => ['-o', `${k}=${v}`]),
  };
}

/** Lists older than this are fetched again (a security update of the kernel or a library gives a new image). */
const LISTS_MAX_AGE_MS = 24 * 3600_000;

/** Writes the sources and runs `apt-get update` when the lists are missing or older than a day. */
export async function updateAptState(state: AptState, log: (line: string) => void, now = Date.now()): Promise<void> {
  const sources = path.join(state.dir, 'sources.list.d');
  for (const d of [sources, path.join(state.dir, 'lists', 'partial'), path.join(state.dir, 'cache', 'archives', 'partial')]) {
    await mkdir(d, { recursive: true });
  }
  await writeFile(path.join(sources, 'debian.sources'), vmSources(state.release));
  const stamp = path.join(state.dir, 'updated');
  const updated = await stat(stamp).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  if (now - updated < LISTS_MAX_AGE_MS) return;
  log(`apt-get update (Debian ${state.release} arm64, private lists in ${state.dir})`);
  await runTool('apt-get', [...state.options, '-q', 'update']);
  await writeFile(stamp, `${new Date(now).toISOString()}\n`);
}

/** The kernel: Debian's cloud flavour (virtio, nftables, sock_diag, BPF and network namespaces; smaller than the generic one). */
export const ARM64_VM_KERNEL_PACKAGE = 'linux-image-cloud-arm64';

/**
 * Root packages of the VM's userland (arm64), their shared-library dependencies are added by
 * resolveArm64VmPackages: busybox for the shell and tools, nftables and iproute2 as the agent calls them on
 * a gateway, and libstdc++ for the Node.js runtime inside the binary.
 */
export const ARM64_VM_USERLAND_PACKAGES: readonly string[] = ['busybox-static', 'nftables', 'iproute2', 'libstdc++6'];

export interface DebPackage {
  name: string;
  version: string;
}

export class Arm64VmPackagesError extends Error {
  override name = 'Arm64VmPackagesError';
}

/** Runs one of the tier's tools (apt, dpkg-deb, xz) with an argument array; the error names it and its stderr. */
export function runTool(file: string, args: readonly string[], cwd?: string): Promise<string> {
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
 * The arm64 packages of the VM with the versions apt would download now. Reads the private package lists
 * only (no network); throws when a package is unknown there.
 */
export async function resolveArm64VmPackages(state: AptState, roots: readonly string[]): Promise<DebPackage[]> {
  const qualified = (names: readonly string[]) => names.map((n) => `${n}:${ARM64_VM_FOREIGN_ARCH}`);
  let depends: string;
  try {
    depends = await runTool('apt-cache', [
      ...state.options,
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
    throw new Arm64VmPackagesError(`${(err as Error).message} (from the lists of ${state.dir}: did apt-get update reach deb.debian.org?)`);
  }
  const names = dependencyClosure(parseAptDepends(depends), roots);
  const versions = parseAptShow(await runTool('apt-cache', [...state.options, 'show', '--no-all-versions', ...qualified(names)]));
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
export async function downloadDebs(state: AptState, dir: string, packages: readonly DebPackage[]): Promise<string[]> {
  const present = new Set(await readdir(dir));
  const missing = packages.filter((p) => !present.has(debFileName(p)));
  if (missing.length > 0) {
    await runTool(
      'apt-get',
      [...state.options, 'download', '-q', ...missing.map((p) => `${p.name}:${ARM64_VM_FOREIGN_ARCH}=${p.version}`)],
      dir,
    );
    const now = new Set(await readdir(dir));
    const still = missing.filter((p) => !now.has(debFileName(p)));
    if (still.length > 0) throw new Arm64VmPackagesError(`apt-get download: no file for ${still.map((p) => debFileName(p)).join(', ')}`);
  }
  return packages.map((p) => `${dir}/${debFileName(p)}`);
}

/** Unpacks a .deb's files (not its maintainer scripts) into `root`. */
export async function extractDeb(deb: string, root: string): Promise<void> {
  await runTool('dpkg-deb', ['-x', deb, root]);
}
