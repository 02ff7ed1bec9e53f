// The build is reproducible across folders: this commit cloned into two temporary folders of different
// name lengths, `npm ci --offline` in each (from npm's cache, which the checkout's own `npm ci` filled),
// `build:binaries` in each, for both architectures: the zips (artifacts/defender-edge-<arch>.zip) and
// build-info.json must be byte-identical, and no executable may contain its build folder. The registry
// base-binary tarballs are copied in from this checkout's build cache when it has them (the build checks
// them against their pinned integrity either way), so nothing is downloaded. Tests HEAD, not uncommitted
// changes. About 1–2 minutes on 2 cores.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BINARY_NAME, BUILD_TARGETS, zipName } from '../../scripts/buildTargets.ts';
import { program, requirement, requires } from '../support/requirements.ts';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const TARBALLS = 'node_modules/.cache/defender-edge-build/npm';
const git = await program('git', 'git');
const checkout = requirement(existsSync(path.join(ROOT, '.git')), `${ROOT} is not a git checkout (the test clones its HEAD)`);

function run(file: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { cwd, timeout: timeoutMs, maxBuffer: 64 * 2 ** 20, encoding: 'utf8' }, (err, stdout, stderr) =>
      err ? reject(new Error(`${file} ${args.join(' ')} (in ${cwd}): ${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
}

/** A clone of HEAD with its dependencies installed from npm's cache and the base tarballs seeded. */
async function prepareClone(dir: string, commit: string): Promise<void> {
  await run('git', ['clone', '--quiet', '--no-checkout', ROOT, dir], tmpdir(), 120_000);
  await run('git', ['checkout', '--quiet', '--detach', commit], dir, 60_000);
  await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], dir, 300_000);
  const from = path.join(ROOT, TARBALLS);
  if (existsSync(from)) {
    await mkdir(path.join(dir, TARBALLS), { recursive: true });
    for (const f of (await readdir(from)).filter((n) => n.endsWith('.tgz')))
      await copyFile(path.join(from, f), path.join(dir, TARBALLS, f));
  }
}

/** Where two buffers first differ, with the printable text around it: what embedded a difference. */
function firstDifference(a: Buffer, b: Buffer): string {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  const around = (buf: Buffer) =>
    buf
      .subarray(Math.max(0, i - 120), i + 120)
      .toString('latin1')
      .replace(/[^\x20-\x7e]+/g, '·');
  return `sizes ${a.length} / ${b.length}, first difference at byte ${i}:\n  a: ${around(a)}\n  b: ${around(b)}`;
}

describe('reproducible build', requires(git, checkout), () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }, 120_000);

  it('two clones of HEAD in different folders build byte-identical zips for every architecture', async () => {
    const commit = (await run('git', ['rev-parse', 'HEAD'], ROOT, 30_000)).trim();
    const a = await mkdtemp(path.join(tmpdir(), 'dedge-repro-a-'));
    const b = await mkdtemp(path.join(tmpdir(), 'dedge-repro-bb-longer-'));
    dirs.push(a, b);
    // One after the other: two `npm ci` on one npm cache at once have left an empty node_modules here.
    for (const d of [a, b]) await prepareClone(d, commit);
    await Promise.all([a, b].map((d) => run(process.execPath, ['scripts/build-binaries.ts'], d, 480_000)));

    const infoA = await readFile(path.join(a, 'artifacts', 'build-info.json'), 'utf8');
    const infoB = await readFile(path.join(b, 'artifacts', 'build-info.json'), 'utf8');
    for (const t of BUILD_TARGETS) {
      const zipA = await readFile(path.join(a, 'artifacts', zipName(t.arch)));
      const zipB = await readFile(path.join(b, 'artifacts', zipName(t.arch)));
      const binA = await readFile(path.join(a, 'artifacts', t.arch, BINARY_NAME));
      const binB = await readFile(path.join(b, 'artifacts', t.arch, BINARY_NAME));
      // First what names a cause best: a build folder inside the executable; then any other difference.
      for (const [bin, dir] of [
        [binA, a],
        [binB, b],
      ] as const) {
        expect(bin.includes(Buffer.from(dir)), `${t.arch} ${BINARY_NAME} contains its build folder ${dir}`).toBe(false);
      }
      expect(binA.equals(binB), `${t.arch} ${BINARY_NAME}: ${firstDifference(binA, binB)}`).toBe(true);
      expect(zipA.equals(zipB), `${zipName(t.arch)}: ${firstDifference(zipA, zipB)}`).toBe(true);
    }
    expect(infoA).toBe(infoB);
    expect(JSON.parse(infoA).targets.map((t: { arch: string }) => t.arch)).toEqual(BUILD_TARGETS.map((t) => t.arch));
  }, 900_000);
});
