// The esbuild bundles behind the binaries — the main script (the agent's commands) and the tools asset (every
// command): complete, reproducible, and every runtime dependency working from them, run with the project's
// Node from a scratch folder, the aws-crt addon beside the bundle, and a decoy addon where aws-crt would
// look by default.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORE_COMMANDS } from '../../scripts/binaryCommands.ts';
import { CRT_ADDON_NAME } from '../../scripts/buildTargets.ts';
import { bundle, bundleBinary } from '../../scripts/bundle.ts';

const run = promisify(execFile);
const root = path.resolve(new URL('../..', import.meta.url).pathname);
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const crtAddon = path.join(root, 'node_modules', 'aws-crt', 'dist', 'bin', `linux-${process.arch}-glibc`, CRT_ADDON_NAME);

let scratch = '';
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'dedge-bundle-'));
});
afterAll(async () => {
  if (scratch !== '') await rm(scratch, { recursive: true, force: true });
});

describe('product bundles (the main script and the tools asset)', () => {
  const mainCommands = () =>
    [...readFileSync(path.join(root, 'src', 'main.ts'), 'utf8').matchAll(/import\('\.\/((?:cli|demo)\/[\w]+\.ts)'\)/g)].map(
      (m) => `src/${m[1]}`,
    );

  it('the main script holds the core commands only; the tools bundle every command module src/main.ts loads; no absolute path', async () => {
    const out = await bundleBinary({ root, outDir: path.join(scratch, 'a'), version: pkg.version });
    const commands = mainCommands();
    expect(commands.length).toBeGreaterThanOrEqual(8);
    for (const c of commands) expect(out.tools.inputs).toContain(c);
    const core = Object.values(CORE_COMMANDS);
    for (const c of commands) expect({ c, inMain: out.core.inputs.includes(c) }).toEqual({ c, inMain: core.includes(c) });
    // what the agent never runs is not parsed by it
    for (const m of ['node_modules/aedes/', 'node_modules/mqtt/', 'src/ipc/emulator/', 'src/demo/']) {
      expect(out.core.inputs.filter((i) => i.startsWith(m))).toEqual([]);
    }
    expect([...out.core.warnings, ...out.tools.warnings]).toEqual([]);
    for (const f of [out.core.outfile, out.tools.outfile]) {
      const text = await readFile(f, 'utf8');
      expect(text.includes(root)).toBe(false);
      expect(text.includes(`${tmpdir()}/`)).toBe(false);
    }
  });

  it('is byte-for-byte reproducible', async () => {
    const a = await bundleBinary({ root, outDir: path.join(scratch, 'r1'), version: pkg.version });
    const b = await bundleBinary({ root, outDir: path.join(scratch, 'r2'), version: pkg.version });
    expect((await readFile(a.core.outfile)).equals(await readFile(b.core.outfile))).toBe(true);
    expect((await readFile(a.tools.outfile)).equals(await readFile(b.tools.outfile))).toBe(true);
  });

  it('prints the baked-in version without a package.json anywhere near it, and hands other commands to the tools bundle beside it', async () => {
    const out = await bundleBinary({ root, outDir: path.join(scratch, 'v'), version: '9.8.7-test' });
    expect((await run(process.execPath, [out.core.outfile, '--version'], { cwd: scratch })).stdout).toBe('9.8.7-test\n');
    const help = await run(process.execPath, [out.core.outfile, '--help'], { cwd: scratch });
    expect(help.stdout).toContain('defender-edge 9.8.7-test');
    // a usage error from the tools bundle keeps its exit code (2), like the sources
    const bad = await run(process.execPath, [out.core.outfile, 'validate-report', '--no-such-flag'], { cwd: scratch }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(bad?.code).toBe(2);
    expect(bad?.stderr).toContain('defender-edge validate-report:');
  });
});

describe('dependency probe bundle', () => {
  let probe = '';
  beforeAll(async () => {
    // a/b/probe.cjs: aws-crt's default search would look in <scratch>/probe/bin/<platform>/ (two levels up).
    probe = path.join(scratch, 'probe', 'a', 'b', 'probe.cjs');
    await bundle({ root, entry: 'test/packaging/fixtures/dependencyProbe.ts', outfile: probe, version: pkg.version });
    const decoyDir = path.join(scratch, 'probe', 'bin', `linux-${process.arch}-glibc`);
    await mkdir(decoyDir, { recursive: true });
    await writeFile(path.join(decoyDir, CRT_ADDON_NAME), 'not an ELF file: loading this would throw');
  });

  it('fails clearly, naming only the path beside the bundle, when the addon is missing', async () => {
    const err = (await run(process.execPath, [probe], { cwd: scratch }).then(
      () => null,
      (e: { stderr: string; code: number }) => e,
    )) as { stderr: string; code: number } | null;
    expect(err).not.toBeNull();
    expect(err!.stderr).toContain('AWS CRT binary not present');
    expect(err!.stderr).toContain(path.join(path.dirname(probe), CRT_ADDON_NAME));
    expect(err!.stderr).not.toContain(path.join(scratch, 'probe', 'bin'));
  });

  it('runs every dependency from the bundle with the addon beside it (decoy ignored)', async () => {
    await copyFile(crtAddon, path.join(path.dirname(probe), CRT_ADDON_NAME));
    // aws-crt would try a relative override before the absolute path: the banner must drop it.
    const env = { ...process.env, AWS_CRT_NODEJS_BINARY_RELATIVE_PATH: `../../bin/linux-${process.arch}-glibc/${CRT_ADDON_NAME}` };
    const { stdout } = await run(process.execPath, [probe, 'x', 'y'], { cwd: scratch, env });
    expect(JSON.parse(stdout)).toEqual({
      crtErrorName: 'AWS_ERROR_SUCCESS',
      crtAddonPath: path.join(path.dirname(probe), CRT_ADDON_NAME),
      cborRoundTrip: 7,
      cborNative: false,
      pretty: true,
      mqtt: 'hello-through-aedes',
      configErrors: ['sampling.intervalMs: must be >= 100, got number 5'],
      memTotal: true,
      lru: 1,
      cidr: 8,
      yaml: 1,
      argv: ['x', 'y'],
    });
  });
});
