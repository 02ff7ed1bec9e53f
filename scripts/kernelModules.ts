// Kernel modules for a VM image, read straight from the .ko files (the build machine needs no kmod, and
// the modules may be of another architecture): each module's `.modinfo` ELF section carries `depends=`
// and `alias=` (written by modpost, https://docs.kernel.org/kbuild/modules.html), which is all modprobe
// needs. This file writes modules.dep and modules.alias in the format kmod's depmod writes and busybox's
// modprobe reads (https://man7.org/linux/man-pages/man5/modules.dep.5.html): `path: dep…`, where the
// last dependency is loaded first.
import { readFile } from 'node:fs/promises';

export interface ModuleInfo {
  /** module name as the kernel knows it (file name without .ko, '-' read as '_') */
  name: string;
  /** path relative to /lib/modules/<version>/ */
  path: string;
  depends: string[];
  aliases: string[];
}

export const moduleName = (file: string): string => file.replace(/^.*\//, '').replace(/\.ko$/, '').replace(/-/g, '_');

/** The NUL-separated `key=value` strings of a 64-bit little-endian ELF file's `.modinfo` section. */
export function readModinfo(elf: Buffer): Map<string, string[]> {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (elf[4] !== 2 || elf[5] !== 1) throw new Error('only 64-bit little-endian ELF modules are read');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return { name: elf.readUInt32LE(at), offset: Number(elf.readBigUInt64LE(at + 0x18)), size: Number(elf.readBigUInt64LE(at + 0x20)) };
  };
  const names = section(shstrndx);
  const info = new Map<string, string[]>();
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const start = names.offset + s.name;
    const end = elf.indexOf(0, start);
    if (elf.toString('latin1', start, end) !== '.modinfo') continue;
    for (const entry of elf.toString('latin1', s.offset, s.offset + s.size).split('\0')) {
      const eq = entry.indexOf('=');
      if (eq <= 0) continue;
      const key = entry.slice(0, eq);
      const list = info.get(key) ?? [];
      list.push(entry.slice(eq + 1));
      info.set(key, list);
    }
  }
  return info;
}

export async function readModule(modulesDir: string, relPath: string): Promise<ModuleInfo> {
  const info = readModinfo(await readFile(`${modulesDir}/${relPath}`));
  const depends = (info.get('depends')?.[0] ?? '').split(',').filter((d) => d !== '');
  return {
    name: info.get('name')?.[0] ?? moduleName(relPath),
    path: relPath,
    depends: depends.map(moduleName),
    aliases: info.get('alias') ?? [],
  };
}

/**
 * Every module the roots need, dependencies before the modules that need them. Throws when a dependency
 * is not among `all` (it would fail to load in the VM).
 */
export function moduleClosure(all: ReadonlyMap<string, ModuleInfo>, roots: readonly string[]): ModuleInfo[] {
  const ordered: ModuleInfo[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, from: string) => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`module dependency cycle through ${name}`);
    const m = all.get(name);
    if (!m) throw new Error(`module ${name} (needed by ${from}) is not in the kernel package`);
    state.set(name, 'visiting');
    for (const d of m.depends) visit(d, name);
    state.set(name, 'done');
    ordered.push(m);
  };
  for (const r of roots) visit(r, 'the image');
  return ordered;
}

/** modules.dep text for `modules` (each one's dependencies must be in the list). */
export function modulesDep(modules: readonly ModuleInfo[]): string {
  const byName = new Map(modules.map((m) => [m.name, m]));
  const lines = modules.map((m) => {
    // the module's whole dependency closure, deepest last (modprobe loads from the end of the list)
    const deps = moduleClosure(byName, m.depends).reverse();
    return `${m.path}:${deps.map((d) => ` ${d.path}`).join('')}`;
  });
  return `${lines.join('\n')}\n`;
}

/** modules.alias text: `alias <pattern> <module>` lines, as the kernel's request_module() asks for them. */
export function modulesAlias(modules: readonly ModuleInfo[]): string {
  return `${modules.flatMap((m) => m.aliases.map((a) => `alias ${a} ${m.name}`)).join('\n')}\n`;
}
