// The helper build (scripts/buildSockDiag.ts): static, reproducible (two forced builds, same bytes), cached
// by source/flags/compiler, and a clear error naming the Debian packages when a compiler is missing.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSockDiag, compilerFor, compilerPackages } from '../../scripts/buildSockDiag.ts';
import { program, requires } from '../support/requirements.ts';
import { ROOT } from '../support/sockDiagHelper.ts';

const compiler = (arch: 'x64' | 'arm64') => program(compilerFor(arch), compilerPackages(arch));

const scratch = await mkdtemp(path.join(tmpdir(), 'dedge-sockdiag-build-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));
const buildable = { x64: await compiler('x64'), arm64: await compiler('arm64') };

describe('buildSockDiag', () => {
  it("names the native compiler or Debian's cross gcc, and the packages that hold them", () => {
    expect(compilerFor('x64', 'x64')).toBe('cc');
    expect(compilerFor('arm64', 'x64')).toBe('aarch64-linux-gnu-gcc');
    expect(compilerFor('x64', 'arm64')).toBe('x86_64-linux-gnu-gcc');
    expect(compilerPackages('arm64', 'x64')).toBe('gcc-aarch64-linux-gnu libc6-dev-arm64-cross');
  });

  for (const arch of ['x64', 'arm64'] as const) {
    it(`${arch}: two forced builds give the same bytes; the next build is a cache hit`, requires(buildable[arch]), async () => {
      const a = await buildSockDiag({ root: ROOT, arch, outFile: path.join(scratch, arch, 'a', 'dedge-sockdiag'), force: true });
      const b = await buildSockDiag({ root: ROOT, arch, outFile: path.join(scratch, arch, 'b', 'dedge-sockdiag'), force: true });
      expect(a.upToDate).toBe(false);
      expect(b.sha256).toBe(a.sha256);
      expect((await readFile(a.path)).equals(await readFile(b.path))).toBe(true);
      const again = await buildSockDiag({ root: ROOT, arch, outFile: a.path });
      expect(again).toEqual({ ...a, upToDate: true });
      // static and stripped: no interpreter path, no symbol names of our own functions
      const bytes = await readFile(a.path);
      expect(bytes.includes(Buffer.from('/ld-linux'))).toBe(false);
      expect(bytes.includes(Buffer.from('dump_tcp_any_family'))).toBe(false);
    });
  }

  it('a missing compiler is a clear error naming the packages', async () => {
    const saved = process.env.PATH;
    process.env.PATH = path.join(scratch, 'empty-path');
    try {
      await expect(
        buildSockDiag({ root: ROOT, arch: process.arch === 'x64' ? 'arm64' : 'x64', outFile: path.join(scratch, 'never') }),
      ).rejects.toThrow(/-linux-gnu-gcc: not found \(to build dedge-sockdiag for (arm64|x64), install the Debian packages gcc-/);
    } finally {
      process.env.PATH = saved;
    }
  });
});
