// The built binaries run the real thing — `emulator` and `run` from the same
// executable, as separate processes over a Unix socket, until a Defender report reaches the emulator's
// cloud record and is accepted. x64 natively; arm64 under qemu-user. Skipped (reason in the skip report)
// when the binaries are not built (npm run setup builds them).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { arm64Emulation, builtFile, QEMU_ARM64, qemuArm64Args, requires } from '../support/requirements.ts';
import { until } from '../support/until.ts';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const bin = (arch: string) => path.join(root, 'artifacts', arch, 'defender-edge');
const x64Built = builtFile('artifacts/amd64/defender-edge');
const armBuilt = builtFile('artifacts/aarch64/defender-edge');
const armEmulation = await arm64Emulation();

const procs: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null) p.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function command(arch: 'amd64' | 'aarch64', args: string[]): [string, string[]] {
  return arch === 'amd64' ? [bin(arch), args] : [QEMU_ARM64, qemuArm64Args(bin(arch), args)];
}

async function emulatorPlusRun(arch: 'amd64' | 'aarch64', timeoutMs: number): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), `dedge-bin-${arch}-`));
  dirs.push(dir);
  const socket = path.join(dir, 'ipc.sock');
  const record = path.join(dir, 'cloud.jsonl');
  const [emuCmd, emuArgs] = command(arch, [
    'emulator',
    '--socket',
    socket,
    '--record',
    record,
    '--thing',
    'BinThing',
    '--recipe',
    path.join(root, 'recipe.yaml'),
    '--log-level',
    'warn',
  ]);
  const emu = spawn(emuCmd, emuArgs, { cwd: dir, stdio: ['pipe', 'pipe', 'inherit'] });
  procs.push(emu);
  const ready = await new Promise<{ components: Record<string, string> }>((resolve, reject) => {
    const rl = createInterface({ input: emu.stdout! });
    rl.once('line', (line) => resolve(JSON.parse(line) as { components: Record<string, string> }));
    emu.once('exit', (code) => reject(new Error(`emulator exited ${code}`)));
  });
  const token = Object.values(ready.components)[0]!;
  const [runCmd, runArgs] = command(arch, ['run', '--report-interval-seconds', '2', '--log-level', 'warn']);
  const agent = spawn(runCmd, runArgs, {
    cwd: dir,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: socket, SVCUID: token, AWS_IOT_THING_NAME: 'BinThing' },
  });
  procs.push(agent);
  const report = await until(
    () => {
      if (!existsSync(record)) return undefined;
      return readFileSync(record, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { topic: string; payload: string })
        .find((m) => m.topic === '$aws/things/BinThing/defender/metrics/json');
    },
    timeoutMs,
    'a report in the cloud record',
    100,
  );
  const doc = JSON.parse(report.payload) as { header: { version: string; report_id: number } };
  expect(doc.header.version).toBe('1.0');
  expect(doc.header.report_id).toBeGreaterThan(0);
  if (arch === 'amd64') {
    // A SEA binary's main thread is called "MainThread"; the agent sets its title so ps and pgrep name it.
    expect(readFileSync(`/proc/${agent.pid}/comm`, 'utf8').trim()).toBe('defender-edge');
    const [stCmd, stArgs] = command(arch, ['status', '--json', '--work-dir', dir]);
    const status = await new Promise<string>((res, rej) => execFile(stCmd, stArgs, { timeout: 30_000 }, (e, so) => (e ? rej(e) : res(so))));
    expect(JSON.parse(status)).toMatchObject({ running: true, thingName: 'BinThing', pid: agent.pid });
  }
  // The emulator's Device Defender endpoint validated it like the service: the agent counts no rejection.
  const stopped = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
  agent.kill('SIGTERM');
  expect(await stopped).toBe(0);
  emu.stdin!.end();
  await new Promise((r) => emu.once('exit', r));
  expect(existsSync(socket)).toBe(false);
  expect(existsSync(path.join(dir, 'control.sock'))).toBe(false);
}

describe('x64 binary end to end', requires(x64Built), () => {
  it('emulator + run from the binary: a report reaches the cloud record, both stop cleanly', async () => {
    await emulatorPlusRun('amd64', 20_000);
  }, 40_000);
});

describe('arm64 binary under qemu-user', requires(armBuilt, armEmulation), () => {
  it('--version and validate-report run under qemu', async () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    const [cmd, args] = command('aarch64', ['--version']);
    const out = await new Promise<string>((res, rej) => execFile(cmd, args, { timeout: 60_000 }, (e, so) => (e ? rej(e) : res(so))));
    expect(out.trim()).toBe(pkg.version);
    const [vcmd, vargs] = command('aarch64', ['validate-report', path.join(root, 'test', 'fixtures', 'python-agent-report.json')]);
    const verdict = await new Promise<string>((res, rej) => execFile(vcmd, vargs, { timeout: 60_000 }, (e, so) => (e ? rej(e) : res(so))));
    expect(JSON.parse(verdict)).toMatchObject({ status: 'ACCEPTED' });
  }, 120_000);

  it('emulator + run under qemu: a report reaches the cloud record', async () => {
    await emulatorPlusRun('aarch64', 90_000);
  }, 150_000);
});
