// The dependency probe (fixtures/dependencyProbe.ts) baked into a real SEA executable (scripts/seaExecutables.ts), on the
// cached stripped x64 base binary, exactly as the product binary is built: proves that inside a SEA the
// aws-crt addon loads from beside the executable (and not from a decoy two folders up), cbor-x takes its
// pure JS path, aedes + mqtt talk over loopback, pino-pretty works. Today no command of the product loads
// aws-crt yet, so this is the check that the binary's native-addon path works. Needs the base binary
// `npm run build:binaries` caches (npm run setup runs it).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { BaseBinary } from '../../scripts/baseBinaries.ts';
import { BUILD_TARGETS, CRT_ADDON_NAME } from '../../scripts/buildTargets.ts';
import { bundle } from '../../scripts/bundle.ts';
import { buildSeaExecutables } from '../../scripts/seaExecutables.ts';
import { builtFile, requirement, requires } from '../support/requirements.ts';

const run = promisify(execFile);
const root = path.resolve(new URL('../..', import.meta.url).pathname);
const baseDir = path.join(root, 'node_modules', '.cache', 'defender-edge-build', 'base', 'amd64');
const x64 = requirement(process.arch === 'x64', `not an x64 machine (${process.arch}): the probe runs the x64 base binary`);
const cached = builtFile('node_modules/.cache/defender-edge-build/base/amd64/node.json');

describe('dependency probe as a SEA executable', requires(x64, cached), () => {
  let scratch = '';
  afterAll(async () => {
    if (scratch !== '') await rm(scratch, { recursive: true, force: true });
  });

  it('loads the addon beside the executable and every dependency works', async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'dedge-sea-'));
    const record = JSON.parse(readFileSync(path.join(baseDir, 'node.json'), 'utf8')) as { stripped: boolean; sha256: string };
    const base: BaseBinary = { target: BUILD_TARGETS.find((t) => t.arch === 'amd64')!, nodePath: path.join(baseDir, 'node'), ...record };
    const bundleFile = path.join(scratch, 'probe.cjs');
    await bundle({ root, entry: 'test/packaging/fixtures/dependencyProbe.ts', outfile: bundleFile, version: '0.0.0-probe' });
    const exes = await buildSeaExecutables({ root, bundle: bundleFile, bases: [base], workDir: scratch, log: () => {} });

    const appDir = path.join(scratch, 'app', 'a', 'b');
    await mkdir(appDir, { recursive: true });
    const exe = path.join(appDir, 'probe');
    await rename(exes.get('amd64')!, exe);
    await copyFile(
      path.join(root, 'node_modules', 'aws-crt', 'dist', 'bin', 'linux-x64-glibc', CRT_ADDON_NAME),
      path.join(appDir, CRT_ADDON_NAME),
    );
    const decoyDir = path.join(scratch, 'app', 'bin', 'linux-x64-glibc');
    await mkdir(decoyDir, { recursive: true });
    await writeFile(path.join(decoyDir, CRT_ADDON_NAME), 'not an ELF file: loading this would throw');

    const { stdout } = await run(exe, ['p', 'q'], { cwd: scratch, timeout: 30_000 });
    expect(JSON.parse(stdout)).toMatchObject({
      crtErrorName: 'AWS_ERROR_SUCCESS',
      crtAddonPath: path.join(appDir, CRT_ADDON_NAME),
      cborRoundTrip: 7,
      cborNative: false,
      pretty: true,
      mqtt: 'hello-through-aedes',
      memTotal: true,
      argv: ['p', 'q'],
    });
  }, 120_000);
});
