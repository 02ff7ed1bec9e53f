// The pure parts of the arm64 VM tier, without qemu: the cpio writer (read back, and by the system's cpio
// when installed), apt output parsing and the package closure, module ordering for modprobe, the ELF
// DT_NEEDED reader and the guest's result frames.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  aptState,
  DEBIAN_KEYRING,
  debFileName,
  dependencyClosure,
  parseAptDepends,
  parseAptShow,
  vmSources,
} from '../../scripts/arm64VmPackages.ts';
import { buildCpio, readCpio } from '../../scripts/cpioArchive.ts';
import { elfNeeded } from '../../scripts/elfNeeded.ts';
import { type ModuleInfo, moduleClosure, modulesAlias, modulesDep } from '../../scripts/kernelModules.ts';
import { parseFrames } from '../support/arm64Vm.ts';
import { program, requires } from '../support/requirements.ts';

const cpio = await program('cpio', 'cpio');

describe('cpio (newc) writer', () => {
  const entries = [
    { kind: 'dir' as const, name: 'etc' },
    { kind: 'file' as const, name: 'etc/hosts', data: Buffer.from('127.0.0.1 localhost\n') },
    { kind: 'file' as const, name: 'init', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
    { kind: 'file' as const, name: 'empty', data: Buffer.alloc(0) },
    { kind: 'symlink' as const, name: 'sh', target: 'bin/busybox' },
    { kind: 'char' as const, name: 'console', major: 5, minor: 1 },
  ];

  it('reads back what it wrote: names, modes, data, device numbers; 512-byte aligned; same input, same bytes', () => {
    const archive = buildCpio(entries);
    expect(archive.length % 512).toBe(0);
    expect(buildCpio(entries).equals(archive)).toBe(true);
    const back = readCpio(archive);
    expect(back.map((m) => [m.name, m.mode.toString(8), m.data.toString()])).toEqual([
      ['etc', '40755', ''],
      ['etc/hosts', '100644', '127.0.0.1 localhost\n'],
      ['init', '100755', '#!/bin/sh\n'],
      ['empty', '100644', ''],
      ['sh', '120777', 'bin/busybox'],
      ['console', '20600', ''],
    ]);
    expect(back.find((m) => m.name === 'console')!.rdev).toEqual([5, 1]);
  });

  it('refuses names that would leave the archive root', () => {
    for (const name of ['../x', 'a/../b', '', 'a//b', './a']) {
      expect(() => buildCpio([{ kind: 'dir', name }])).toThrow(/cpio entry name/);
    }
  });

  it('GNU cpio extracts it (files, modes, symlinks)', requires(cpio), async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'dedge-cpio-'));
    try {
      const archive = buildCpio(entries.filter((e) => e.kind !== 'char'));
      await new Promise<void>((resolve, reject) => {
        const p = execFile('cpio', ['-id', '--quiet'], { cwd: dir }, (err) => (err ? reject(err) : resolve()));
        p.stdin!.end(archive);
      });
      expect(await readFile(path.join(dir, 'etc/hosts'), 'utf8')).toBe('127.0.0.1 localhost\n');
      expect(await readlink(path.join(dir, 'sh'))).toBe('bin/busybox');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Debian package resolution', () => {
  // the shape of `apt-cache depends --recurse` output
  const depends = [
    'nftables:arm64',
    '  Depends: libc6:arm64',
    '  Depends: libnftables1:arm64',
    '  Depends: <debconf-2.0:arm64>',
    '    cdebconf:arm64',
    '  Depends: dpkg',
    'libnftables1:arm64',
    '  Depends: libjansson4:arm64',
    ' |Depends: libedit2:arm64',
    '  Depends: libreadline8:arm64',
    'libedit2:arm64',
    '  Depends: zlib1g:arm64',
    '  PreDepends: install-info:arm64',
    'linux-image-cloud-arm64:arm64',
    '  Depends: linux-image-6.1.0-57-cloud-arm64:arm64',
    'dpkg',
    '  Depends: tar',
    '',
  ].join('\n');

  it('follows library and kernel-image edges only (not maintainer-script tools), alternatives included', () => {
    const graph = parseAptDepends(depends);
    expect(graph.get('nftables')).toEqual(['libc6', 'libnftables1']);
    expect(graph.has('dpkg')).toBe(false);
    expect(dependencyClosure(graph, ['nftables', 'linux-image-cloud-arm64'])).toEqual([
      'libc6',
      'libedit2',
      'libjansson4',
      'libnftables1',
      'libreadline8',
      'linux-image-6.1.0-57-cloud-arm64',
      'linux-image-cloud-arm64',
      'nftables',
      'zlib1g',
    ]);
  });

  it('takes the first stanza per package from apt-cache show, and names files as apt-get download does', () => {
    const versions = parseAptShow(
      'Package: busybox-static\nVersion: 1:1.35.0-4+deb12u1+b1\n\nPackage: busybox-static\nVersion: 1:1.30\n\n',
    );
    expect([...versions]).toEqual([['busybox-static', '1:1.35.0-4+deb12u1+b1']]);
    expect(debFileName({ name: 'busybox-static', version: '1:1.35.0-4+deb12u1+b1' })).toBe(
      'busybox-static_1%3a1.35.0-4+deb12u1+b1_arm64.deb',
    );
  });
});

describe('kernel modules', () => {
  const mod = (name: string, depends: string[], aliases: string[] = []): ModuleInfo => ({
    name,
    path: `kernel/${name}.ko`,
    depends,
    aliases,
  });
  const all = new Map(
    [
      mod('nf_tables', ['nfnetlink', 'libcrc32c'], ['nfnetlink-subsys-10']),
      mod('nfnetlink', []),
      mod('libcrc32c', ['crc32c']),
      mod('crc32c', []),
      mod('veth', []),
    ].map((m) => [m.name, m]),
  );

  it('orders dependencies before the modules needing them, and says which one is missing', () => {
    expect(moduleClosure(all, ['nf_tables']).map((m) => m.name)).toEqual(['nfnetlink', 'crc32c', 'libcrc32c', 'nf_tables']);
    expect(() => moduleClosure(all, ['nft_ct'])).toThrow(/nft_ct \(needed by the image\)/);
  });

  it('writes modules.dep with the deepest dependency last (modprobe loads from the end) and modules.alias', () => {
    const kept = moduleClosure(all, ['nf_tables', 'veth']);
    expect(modulesDep(kept).split('\n')).toContain('kernel/nf_tables.ko: kernel/libcrc32c.ko kernel/crc32c.ko kernel/nfnetlink.ko');
    expect(modulesAlias(kept)).toBe('alias nfnetlink-subsys-10 nf_tables\n');
  });
});

describe('ELF DT_NEEDED', () => {
  it("lists a dynamic executable's libraries; null for a file that is not ELF", () => {
    expect(elfNeeded(readFileSync(process.execPath))).toContain('libc.so.6');
    expect(elfNeeded(Buffer.from('#!/bin/sh\n'))).toBeNull();
  });
});

describe('guest result frames', () => {
  it('decodes each step (stdout, stderr, code, time) and notices the end of the script', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const text = [
      '@@dedge-step version 0 1234\r',
      b64('0.1.0\n'),
      '@@dedge-stderr',
      '@@dedge-end',
      'noise from the console',
      '@@dedge-step fails 3 5',
      '@@dedge-stderr',
      b64('bad\n'),
      '@@dedge-end',
      '@@dedge-done',
      '',
    ].join('\n');
    const { steps, completed } = parseFrames(text);
    expect(completed).toBe(true);
    expect(steps.get('version')).toMatchObject({ code: 0, ms: 1234, stdout: '0.1.0\n', stderr: '' });
    expect(steps.get('fails')).toMatchObject({ code: 3, ms: 5, stdout: '', stderr: 'bad\n' });
    expect(parseFrames('@@dedge-step cut 0 1\nAAAA\n').completed).toBe(false);
  });
});

describe('the private apt state', () => {
  it('sources: Debian 13 and its updates and security suites, arm64 only, signed by the Debian archive keyring', () => {
    const text = vmSources();
    const stanzas = text.trim().split(/\n\n/);
    expect(stanzas.map((st) => /^Suites: (.*)$/m.exec(st)?.[1])).toEqual(['trixie trixie-updates', 'trixie-security']);
    for (const st of stanzas) {
      expect(st).toMatch(/^Architectures: arm64$/m);
      expect(st).toContain(`Signed-By: ${DEBIAN_KEYRING}`);
      expect(st).toMatch(/^URIs: http:\/\/deb\.debian\.org\/debian(-security)?$/m);
    }
  });

  it("every apt option points into the state's folder or turns the machine's own configuration off", () => {
    const { options } = aptState('/cache/apt');
    const pairs = options.filter((_, i) => i % 2 === 1).map((kv) => kv.split('='));
    expect(options.filter((_, i) => i % 2 === 0).every((o) => o === '-o')).toBe(true);
    const dirs = Object.fromEntries(pairs.filter(([k]) => k!.startsWith('Dir::')));
    expect(dirs).toEqual({
      'Dir::Etc::SourceList': '/dev/null',
      'Dir::Etc::SourceParts': '/cache/apt/sources.list.d',
      'Dir::Etc::Preferences': '/dev/null',
      'Dir::Etc::PreferencesParts': '/dev/null',
      'Dir::State::Lists': '/cache/apt/lists',
      'Dir::State::status': '/dev/null',
      'Dir::Cache': '/cache/apt/cache',
    });
  });
});
