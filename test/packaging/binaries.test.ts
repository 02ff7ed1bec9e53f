// The built standalone binaries (artifacts/, from `npm run build:binaries`): each matches build-info,
// is the right architecture, fits the size target, unpacks from its zip the way Greengrass does it, and
// behaves exactly like the TypeScript sources for every command line tried — the x64 one natively, the
// arm64 one under qemu-user — and runs the dedge-sockdiag helper shipped beside it (the arm64 one falls
// back to /proc + ss under qemu-user, which cannot run sock_diag). `npm test` builds them first (npm run
// setup); skipped, with the reason in the skip report, when nothing is built.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256File } from '../../scripts/baseBinaries.ts';
import type { BuildInfo } from '../../scripts/buildBinaries.ts';
import { BINARY_NAME, CRT_ADDON_NAME, zipName } from '../../scripts/buildTargets.ts';
import { recipeDefaultConfiguration } from '../../scripts/recipeDefaults.ts';
import { SOCKDIAG_NAME } from '../../src/collector/sockDiagLocation.ts';
import { arm64Emulation, builtFile, program, QEMU_ARM64, qemuArm64Args, requires } from '../support/requirements.ts';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const artifacts = path.join(root, 'artifacts');
const infoFile = path.join(artifacts, 'build-info.json');
const built = existsSync(infoFile);
const builtInfo = builtFile('artifacts/build-info.json');
const info = built ? (JSON.parse(readFileSync(infoFile, 'utf8')) as BuildInfo) : null;
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const armEmulation = await arm64Emulation();
const unzip = await program('unzip', 'unzip', ['-v']);
/** Greengrass zip size target (README, Benchmarks). */
const MAX_ZIP_BYTES = 45_000_000;
const ELF_MACHINE = { amd64: 62, aarch64: 183 } as const;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runFile(file: string, args: string[], cwd: string): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, timeout: 50_000, maxBuffer: 8 * 2 ** 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

const viaSources = (args: string[], cwd: string) => runFile(process.execPath, [path.join(root, 'bin', 'defender-edge.js'), ...args], cwd);

async function elfMachine(file: string): Promise<number> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(20);
    await fh.read(head, 0, 20, 0);
    expect(head.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    return head.readUInt16LE(18);
  } finally {
    await fh.close();
  }
}

/** The command names as src/main.ts lists them in --help. */
function commandNames(help: string): string[] {
  const lines = help.split('\n');
  const start = lines.indexOf('commands:');
  return lines
    .slice(start + 1)
    .filter((l) => /^ {2}[a-z]/.test(l))
    .map((l) => l.trim().split(/\s+/)[0]!);
}

describe('standalone binaries', requires(builtInfo), () => {
  let scratch = '';
  let configFile = '';
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'dedge-bin-'));
    configFile = path.join(scratch, 'config.json');
    await writeFile(configFile, JSON.stringify(recipeDefaultConfiguration()));
  });
  afterAll(async () => {
    if (scratch !== '') await rm(scratch, { recursive: true, force: true });
  });

  it('match build-info, are the right architecture, and each zip is within the size target', async () => {
    expect(info!.version).toBe(pkg.version);
    expect(info!.targets.map((t) => t.arch).sort()).toEqual(['aarch64', 'amd64']);
    for (const t of info!.targets) {
      for (const f of [t.binary, t.addon, t.helper, t.zip]) {
        expect({ file: f.path, sha256: await sha256File(path.join(artifacts, f.path)) }).toEqual({ file: f.path, sha256: f.sha256 });
      }
      expect(t.binary.path).toBe(`${t.arch}/${BINARY_NAME}`);
      expect(t.addon.path).toBe(`${t.arch}/${CRT_ADDON_NAME}`);
      expect(t.helper.path).toBe(`${t.arch}/${SOCKDIAG_NAME}`);
      expect(t.zip.path).toBe(zipName(t.arch as 'amd64' | 'aarch64'));
      const machine = ELF_MACHINE[t.arch as keyof typeof ELF_MACHINE];
      expect(await elfMachine(path.join(artifacts, t.binary.path))).toBe(machine);
      expect(await elfMachine(path.join(artifacts, t.addon.path))).toBe(machine);
      expect(await elfMachine(path.join(artifacts, t.helper.path))).toBe(machine);
      expect((await stat(path.join(artifacts, t.binary.path))).mode & 0o111).not.toBe(0);
      expect((await stat(path.join(artifacts, t.helper.path))).mode & 0o111).not.toBe(0);
      // static: no program interpreter, so it runs whatever the gateway's libc
      expect(readFileSync(path.join(artifacts, t.helper.path)).includes(Buffer.from('/ld-linux'))).toBe(false);
      expect(t.zip.bytes).toBeLessThanOrEqual(MAX_ZIP_BYTES);
    }
  });

  it("x64: --version prints the package version, --help the sources' command list", async () => {
    const bin = path.join(artifacts, 'amd64', BINARY_NAME);
    expect(await runFile(bin, ['--version'], scratch)).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    const help = await runFile(bin, ['--help'], scratch);
    expect(help.code).toBe(0);
    expect(commandNames(help.stdout)).toEqual([
      'run',
      'emulator',
      'demo',
      'evaluate',
      'validate-report',
      'check-config',
      'collect',
      'status',
      'actions',
      'violations',
      'explain',
      'pause',
      'resume',
    ]);
  });

  it('x64: every command line tried behaves exactly as the TypeScript sources do', async () => {
    const bin = path.join(artifacts, 'amd64', BINARY_NAME);
    const commands = commandNames((await viaSources(['--help'], scratch)).stdout);
    const lines: string[][] = [
      [],
      ['--help'],
      ['--version'],
      ['no-such-command'],
      ...commands.map((c) => [c, '--help']),
      ['check-config', configFile],
    ];
    for (const args of lines) {
      const [fromBinary, fromSources] = await Promise.all([runFile(bin, args, scratch), viaSources(args, scratch)]);
      expect({ args, ...fromBinary }).toEqual({ args, ...fromSources });
    }
  });

  it('x64: the zip unpacks into a folder named after it and runs from there', requires(unzip), async () => {
    const decompressed = path.join(scratch, 'decompressed', zipName('amd64').replace(/\.zip$/, ''));
    await mkdir(decompressed, { recursive: true });
    await new Promise<void>((resolve, reject) =>
      execFile('unzip', ['-q', path.join(artifacts, zipName('amd64')), '-d', decompressed], (err) => (err ? reject(err) : resolve())),
    );
    const out = await runFile(path.join(decompressed, BINARY_NAME), ['--version'], scratch);
    expect(out).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    expect(existsSync(path.join(decompressed, CRT_ADDON_NAME))).toBe(true);
    expect((await stat(path.join(decompressed, SOCKDIAG_NAME))).mode & 0o755).toBe(0o755);

    // The collector runs the helper from beside the executable (debug log names it), and nothing degrades.
    const debugConfig = path.join(scratch, 'debug.json');
    await writeFile(debugConfig, JSON.stringify({ ...recipeDefaultConfiguration(), logLevel: 'debug' }));
    const collect = await runFile(
      path.join(decompressed, BINARY_NAME),
      ['collect', '--once', '--json', '--interval', '100', '--config', debugConfig],
      scratch,
    );
    expect(collect.code).toBe(0);
    const logs = collect.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; msg: string; path?: string });
    expect(logs.filter((l) => l.msg === 'dedge-sockdiag helper started').map((l) => l.path)).toEqual([
      path.join(decompressed, SOCKDIAG_NAME),
    ]);
    expect(logs.filter((l) => ['warn', 'error', 'fatal'].includes(l.level))).toEqual([]);
    const sample = JSON.parse(collect.stdout) as { host: { listening: unknown[]; degraded: string[] } };
    expect(sample.host.degraded).toEqual([]);
  });

  describe(`arm64 under ${QEMU_ARM64}`, requires(armEmulation), () => {
    const underQemu = (args: string[]) => runFile(QEMU_ARM64, qemuArm64Args(path.join(artifacts, 'aarch64', BINARY_NAME), args), scratch);

    it('--version prints the package version', async () => {
      expect(await underQemu(['--version'])).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    });

    it('collect: the helper cannot run under qemu-user, so the collector falls back to /proc + ss and still samples', async () => {
      const out = await underQemu(['collect', '--once', '--json', '--interval', '100']);
      expect(out.code).toBe(0);
      const warnings = out.stderr
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { level: string; msg: string; reason: string })
        .filter((l) => l.level === 'warn');
      expect(warnings.map((w) => w.msg)).toContain(
        'dedge-sockdiag helper failed; this sample reads /proc/net and ss instead, the next restarts it',
      );
      const sample = JSON.parse(out.stdout) as { host: { listening: unknown[]; degraded: string[] } };
      expect(sample.host.degraded).toEqual([]);
    }, 60_000);

    it('validate-report and check-config behave as the sources do', async () => {
      for (const args of [
        ['validate-report', '--help'],
        ['check-config', configFile],
      ]) {
        const [fromBinary, fromSources] = await Promise.all([underQemu(args), viaSources(args, scratch)]);
        expect({ args, ...fromBinary }).toEqual({ args, ...fromSources });
      }
    });
  });
});
