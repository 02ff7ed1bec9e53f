// The arm64 test VM's kernel and base initramfs, built from Debian's arm64 packages only
// (scripts/arm64VmPackages.ts): Debian 13's or Debian 12's cloud kernel, the network, sock_diag and virtio
// modules it needs, and from Debian 13 busybox, nftables and iproute2 with their libraries, and an /init that mounts the usual file systems,
// loads the modules and runs /payload/run.sh when a second archive appended to the initramfs brings one
// (the kernel unpacks concatenated cpio archives, https://docs.kernel.org/driver-api/early-userspace/buffer-format.html),
// then powers the VM off. Cached under node_modules/.cache/dedge-arm64-vm/, keyed by the package versions
// and this builder's sources: a new Debian point release or a change here rebuilds it, nothing else does.
import { createHash } from 'node:crypto';
import { copyFile, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  ARM64_VM_KERNEL_PACKAGE,
  ARM64_VM_RELEASE,
  ARM64_VM_USERLAND_PACKAGES,
  aptState,
  type DebianRelease,
  type DebPackage,
  downloadDebs,
  extractDeb,
  resolveArm64VmPackages,
  runTool,
  updateAptState,
} from './arm64VmPackages.ts';
import { buildCpio, type CpioEntry } from './cpioArchive.ts';
import { elfNeeded } from './elfNeeded.ts';
import { type ModuleInfo, moduleClosure, modulesAlias, modulesDep, readModule } from './kernelModules.ts';

/** Modules loaded at boot: the result channel (virtio console), nftables, veth pairs and sock_diag for TCP/UDP. */
export const PRELOAD_MODULES: readonly string[] = [
  'virtio_mmio',
  'virtio_console',
  'nf_tables',
  'veth',
  'inet_diag',
  'tcp_diag',
  'udp_diag',
];

/**
 * Module files kept in the image (with their dependencies): everything nftables may ask the kernel to load,
 * sock_diag, veth and virtio. The rest of the kernel package (file systems, drivers) is left out.
 */
function keepModule(relPath: string): boolean {
  return (
    /^kernel\/net\/(netfilter|ipv4\/netfilter|ipv6\/netfilter)\/[^/]+\.ko$/.test(relPath) ||
    /^kernel\/net\/(ipv4\/(inet|tcp|udp|raw)_diag|netlink\/netlink_diag|packet\/af_packet_diag|unix\/unix_diag)\.ko$/.test(relPath) ||
    /^kernel\/drivers\/(net\/veth|char\/virtio_console|virtio\/[^/]+)\.ko$/.test(relPath)
  );
}

/** Paths (relative to the root) not needed in a VM that only runs commands. */
const PRUNE = [
  'boot',
  'usr/share/doc',
  'usr/share/man',
  'usr/share/info',
  'usr/share/locale',
  'usr/share/lintian',
  'usr/share/bug',
  'usr/share/bash-completion',
  'usr/include',
  'usr/lib/aarch64-linux-gnu/gconv',
];

const INIT = `#!/bin/busybox sh
# /init of the defender-edge arm64 test VM (scripts/arm64VmImage.ts): mount, load modules, run the payload, power off.
/bin/busybox mkdir -p /proc
/bin/busybox mount -t proc proc /proc
# after /proc (--install finds busybox through /proc/self/exe); in a folder of their own, last on PATH, so
# that the Debian tools (iproute2's ip, nft) are the ones run, as on a gateway
/bin/busybox mkdir -p /usr/libexec/busybox
/bin/busybox --install -s /usr/libexec/busybox
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/libexec/busybox HOME=/root
mkdir -p /sys /dev /tmp /run /root /var/tmp
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /run/netns
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
chmod 1777 /tmp
hostname dedge-arm64
ip link set lo up
for m in $(cat /etc/dedge-preload-modules); do modprobe "$m" || echo "dedge-init: modprobe $m failed"; done
if [ -x /payload/run.sh ]; then /payload/run.sh; else echo "dedge-init: no /payload/run.sh"; fi
sync
poweroff -f
`;

export interface Arm64VmImage {
  /** cache key: packages and builder sources */
  key: string;
  dir: string;
  /** the kernel (arm64 Image), for qemu -kernel */
  kernel: string;
  /** gzip-compressed cpio: the base root file system */
  initrd: string;
  kernelVersion: string;
  packages: DebPackage[];
  modules: string[];
  /** shared-library file names in the image's library folders (what a binary run in it can link to) */
  libraries: string[];
  /** true when taken from the cache */
  cached: boolean;
}

export interface BuildArm64VmImageOptions {
  /** project root; the cache lives in <root>/node_modules/.cache/dedge-arm64-vm */
  root: string;
  /** whose kernel the VM boots (the userland is Debian 13's either way); default trixie */
  kernelRelease?: DebianRelease;
  log?: (line: string) => void;
}

async function builderDigest(): Promise<string> {
  const hash = createHash('sha256');
  for (const f of ['arm64VmImage.ts', 'arm64VmPackages.ts', 'cpioArchive.ts', 'kernelModules.ts']) {
    hash.update(f).update(await readFile(new URL(f, import.meta.url)));
  }
  return hash.digest('hex');
}

export async function imageKey(packages: readonly DebPackage[]): Promise<string> {
  return createHash('sha256')
    .update(JSON.stringify({ packages: packages.map((p) => `${p.name}=${p.version}`), builder: await builderDigest() }))
    .digest('hex')
    .slice(0, 16);
}

export function cacheDir(root: string): string {
  return path.join(root, 'node_modules', '.cache', 'dedge-arm64-vm');
}

/** Every file, directory and symlink under `dir` as cpio entries (sorted, directories first). */
async function collectEntries(dir: string, prefix = ''): Promise<CpioEntry[]> {
  const out: CpioEntry[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const full = path.join(dir, name);
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    const st = await lstat(full);
    if (st.isSymbolicLink()) out.push({ kind: 'symlink', name: rel, target: await readlink(full) });
    else if (st.isDirectory()) {
      out.push({ kind: 'dir', name: rel, mode: st.mode & 0o7777 });
      out.push(...(await collectEntries(full, rel)));
    } else if (st.isFile()) out.push({ kind: 'file', name: rel, data: await readFile(full), mode: st.mode & 0o7777 });
  }
  return out;
}

async function listModules(modulesDir: string, sub = 'kernel'): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(modulesDir, sub), { withFileTypes: true })) {
    const rel = `${sub}/${e.name}`;
    if (e.isDirectory()) out.push(...(await listModules(modulesDir, rel)));
    else if (e.name.endsWith('.ko')) out.push(rel);
  }
  return out;
}

/** Keeps only the modules the image needs and writes modules.dep / modules.alias for them. */
async function trimModules(root: string, log: (line: string) => void): Promise<{ version: string; kept: ModuleInfo[] }> {
  const versions = await readdir(path.join(root, 'lib', 'modules'));
  if (versions.length !== 1) throw new Error(`expected one kernel in lib/modules, found: ${versions.join(', ') || 'none'}`);
  const version = versions[0]!;
  const modulesDir = path.join(root, 'lib', 'modules', version);
  await decompressModules(modulesDir);
  const all = new Map<string, ModuleInfo>();
  for (const rel of await listModules(modulesDir)) {
    const m = await readModule(modulesDir, rel);
    all.set(m.name, m);
  }
  const roots = [...all.values()].filter((m) => keepModule(m.path)).map((m) => m.name);
  // modules.builtin names what the kernel has built in (modprobe succeeds for those without a file)
  const builtin = new Set(
    (await readFile(path.join(modulesDir, 'modules.builtin'), 'utf8').catch(() => ''))
      .split('\n')
      .map((l) => path.basename(l).replace(/\.ko$/, '').replace(/-/g, '_'))
      .filter(Boolean),
  );
  const preload = PRELOAD_MODULES.filter((p) => !builtin.has(p));
  for (const p of preload) if (!all.has(p)) throw new Error(`kernel ${version} has no module ${p}, neither as a file nor built in`);
  const kept = moduleClosure(all, [...new Set([...preload, ...roots])]);
  const keep = new Set(kept.map((m) => m.path));
  for (const m of all.values()) if (!keep.has(m.path)) await rm(path.join(modulesDir, m.path));
  await writeFile(path.join(modulesDir, 'modules.dep'), modulesDep(kept));
  await writeFile(path.join(modulesDir, 'modules.alias'), modulesAlias(kept));
  log(`kernel ${version}: ${kept.length} of ${all.size} modules kept`);
  return { version, kept };
}

/**
 * Debian 13 packages install under /usr only (merged /usr, https://wiki.debian.org/UsrMerge); the root's
 * /bin, /sbin and /lib are symlinks into it, as on an installed system. A package that still ships a root
 * folder has it moved in first.
 */
async function mergeUsr(root: string): Promise<void> {
  for (const d of ['bin', 'sbin', 'lib']) {
    const top = path.join(root, d);
    const usr = path.join(root, 'usr', d);
    await mkdir(usr, { recursive: true });
    const st = await lstat(top).catch(() => undefined);
    if (st?.isDirectory()) {
      for (const name of await readdir(top)) await rename(path.join(top, name), path.join(usr, name));
      await rm(top, { recursive: true });
    }
    if (!st?.isSymbolicLink()) await symlink(`usr/${d}`, top);
  }
}

/**
 * Debian's kernel packages ship xz-compressed modules (CONFIG_MODULE_COMPRESS_XZ): they are unpacked with
 * xz(1) so the module reader and busybox's modprobe see plain ELF files.
 */
async function decompressModules(modulesDir: string): Promise<void> {
  const compressed = (await readdir(modulesDir, { recursive: true })).filter((f) => f.endsWith('.ko.xz'));
  for (let i = 0; i < compressed.length; i += 200) {
    await runTool('xz', ['-d', '--', ...compressed.slice(i, i + 200)], modulesDir);
  }
}

/** Folders the dynamic loader searches in the image (Debian's multiarch paths, compiled into its ld.so). */
export const LIBRARY_DIRS: readonly string[] = ['lib/aarch64-linux-gnu', 'usr/lib/aarch64-linux-gnu', 'lib'];

/** Every shared-library file name (soname) the image's library folders hold. */
async function librariesOf(root: string): Promise<string[]> {
  const names = new Set<string>();
  for (const dir of LIBRARY_DIRS) {
    for (const name of await readdir(path.join(root, dir)).catch(() => [] as string[])) if (name.includes('.so')) names.add(name);
  }
  return [...names].sort();
}

/** `file: soname` for each library an executable or library of the image asks for and the image lacks. */
async function missingLibraries(root: string, available: ReadonlySet<string>): Promise<string[]> {
  const missing: string[] = [];
  const dirs = ['bin', 'sbin', 'usr/bin', 'usr/sbin', ...LIBRARY_DIRS];
  for (const dir of dirs) {
    for (const name of await readdir(path.join(root, dir)).catch(() => [] as string[])) {
      const file = path.join(root, dir, name);
      const st = await lstat(file);
      if (!st.isFile()) continue;
      const needed = elfNeeded(await readFile(file));
      for (const soname of needed ?? []) if (!available.has(soname)) missing.push(`${dir}/${name}: ${soname}`);
    }
  }
  return missing;
}

/** Builds the image unless the cache has it; downloads the .debs apt does not have yet. */
export async function buildArm64VmImage(opts: BuildArm64VmImageOptions): Promise<Arm64VmImage> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`arm64-vm: ${line}\n`));
  const cache = cacheDir(opts.root);
  const kernelRelease = opts.kernelRelease ?? ARM64_VM_RELEASE;
  const userlandApt = aptState(path.join(cache, `apt-${ARM64_VM_RELEASE}`), ARM64_VM_RELEASE);
  const kernelApt = kernelRelease === ARM64_VM_RELEASE ? userlandApt : aptState(path.join(cache, `apt-${kernelRelease}`), kernelRelease);
  await updateAptState(userlandApt, log);
  if (kernelApt !== userlandApt) await updateAptState(kernelApt, log);
  const userland = await resolveArm64VmPackages(userlandApt, ARM64_VM_USERLAND_PACKAGES);
  const kernelPackages = await resolveArm64VmPackages(kernelApt, [ARM64_VM_KERNEL_PACKAGE]);
  const packages = [...userland, ...kernelPackages];
  const key = await imageKey(packages);
  const prefix = `image-${kernelRelease}-`;
  const dir = path.join(cache, `${prefix}${key}`);
  const manifestFile = path.join(dir, 'image.json');
  try {
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as Omit<Arm64VmImage, 'dir' | 'kernel' | 'initrd' | 'cached'>;
    await stat(path.join(dir, 'initrd.cpio.gz'));
    await stat(path.join(dir, 'Image'));
    return { ...manifest, dir, kernel: path.join(dir, 'Image'), initrd: path.join(dir, 'initrd.cpio.gz'), cached: true };
  } catch {
    // not built yet (or a half-written folder): build it
  }

  const debDir = path.join(cache, 'debs');
  await mkdir(debDir, { recursive: true });
  log(`${packages.length} packages: downloading what the cache lacks (apt-get download)`);
  const debs = [...(await downloadDebs(userlandApt, debDir, userland)), ...(await downloadDebs(kernelApt, debDir, kernelPackages))];
  const work = await mkdtemp(path.join(cache, 'build-'));
  try {
    const rootfs = path.join(work, 'root');
    await mkdir(rootfs);
    for (const deb of debs) await extractDeb(deb, rootfs);
    await mergeUsr(rootfs);
    const bootFiles = await readdir(path.join(rootfs, 'boot'));
    const kernelFile = bootFiles.find((f) => f.startsWith('vmlinuz-'));
    if (!kernelFile) throw new Error(`no vmlinuz in the kernel package (boot/ holds: ${bootFiles.join(', ')})`);
    const out = path.join(work, 'out');
    await mkdir(out);
    await copyFile(path.join(rootfs, 'boot', kernelFile), path.join(out, 'Image'));
    const { version, kept } = await trimModules(rootfs, log);
    for (const p of PRUNE) await rm(path.join(rootfs, p), { recursive: true, force: true });
    await mkdir(path.join(rootfs, 'etc'), { recursive: true });
    await writeFile(path.join(rootfs, 'etc', 'dedge-preload-modules'), `${PRELOAD_MODULES.join('\n')}\n`);
    // getaddrinfo("localhost") without DNS: files only
    await writeFile(path.join(rootfs, 'etc', 'nsswitch.conf'), 'hosts: files\n');
    await writeFile(path.join(rootfs, 'etc', 'hosts'), '127.0.0.1 localhost\n::1 localhost ip6-localhost\n');
    await writeFile(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    await writeFile(path.join(rootfs, 'etc', 'group'), 'root:x:0:\n');
    await writeFile(path.join(rootfs, 'init'), INIT, { mode: 0o755 });
    const entries: CpioEntry[] = [
      { kind: 'dir', name: 'dev' },
      { kind: 'char', name: 'dev/console', major: 5, minor: 1 },
      { kind: 'char', name: 'dev/null', major: 1, minor: 3, mode: 0o666 },
      ...(await collectEntries(rootfs)),
      // the kernel runs /sbin/modprobe for modules it wants (request_module); scripts run /bin/sh
      { kind: 'symlink', name: 'usr/bin/sh', target: 'busybox' },
      { kind: 'symlink', name: 'usr/sbin/modprobe', target: '/usr/bin/busybox' },
    ];
    const libraries = await librariesOf(rootfs);
    const missing = await missingLibraries(rootfs, new Set(libraries));
    if (missing.length > 0) throw new Error(`the image lacks shared libraries (add their packages):\n  ${missing.join('\n  ')}`);
    const cpio = buildCpio(entries);
    await writeFile(path.join(out, 'initrd.cpio.gz'), gzipSync(cpio, { level: 6 }));
    const manifest = { key, kernelVersion: version, packages, modules: kept.map((m) => m.name), libraries };
    await writeFile(path.join(out, 'image.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    // Older images of this kernel are of no further use: one image per kernel release is kept.
    for (const old of await readdir(cache)) if (old.startsWith(prefix)) await rm(path.join(cache, old), { recursive: true, force: true });
    await rename(out, dir);
    log(`image ${key}: initrd ${(await stat(path.join(dir, 'initrd.cpio.gz'))).size} bytes (${cpio.length} unpacked)`);
    return { ...manifest, dir, kernel: path.join(dir, 'Image'), initrd: path.join(dir, 'initrd.cpio.gz'), cached: false };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
