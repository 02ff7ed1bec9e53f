// Packaging numbers: zip size per arch (target ≤ 45 MB) and cold start of the x64 binary —
// `--version` wall time, and time to the first line a `collect` prints (the first sample; target
// ≤ 400 ms) — as medians, with a baseline measured in the same run: the project's own Node starting an
// empty script. The arm64 binary under qemu-user is reported for information (emulation, not a target).
// Skips with a reason when `npm run build:binaries` has not run.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { BuildInfo } from '../scripts/buildBinaries.ts';
import { ARM64_SYSROOT, QEMU_ARM64, qemuArm64Args } from '../test/support/requirements.ts';
import type { BenchSuite } from './run.ts';
import { median, percentile, round } from './stats.ts';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const artifacts = path.join(root, 'artifacts');
const MAX_ZIP_BYTES = 45_000_000;
const COLD_RUNS = 15;
const SAMPLE_RUNS = 5;

interface Timed {
  ms: number;
  code: number | null;
  firstLine: string;
  stderr: string;
}

/** Wall time from spawn to exit, or (untilFirstLine) to the first stdout line, after which the child is stopped. */
function timeRun(file: string, args: string[], untilFirstLine: boolean, timeoutMs = 10_000): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    let done = false;
    const finish = (code: number | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, code, firstLine: out.split('\n')[0] ?? '', stderr });
    };
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (untilFirstLine && out.includes('\n')) {
        finish(0);
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => finish(code));
  });
}

async function coldStart(file: string, args: string[], runs: number): Promise<{ medianMs: number; p90Ms: number; runs: number }> {
  await timeRun(file, args, false); // warm the page cache: "cold" means a new process, not a cold disk
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = await timeRun(file, args, false);
    if (t.code !== 0) throw new Error(`${path.basename(file)} ${args.join(' ')}: exit ${t.code}: ${t.stderr.split('\n')[0]}`);
    ms.push(t.ms);
  }
  return { medianMs: round(median(ms), 1), p90Ms: round(percentile(ms, 90), 1), runs };
}

async function firstSample(bin: string): Promise<Record<string, unknown>> {
  const probe = await timeRun(bin, ['collect'], true);
  if (probe.firstLine === '') {
    return { skipped: `collect printed no sample (exit ${probe.code}: ${probe.stderr.split('\n')[0] ?? ''})` };
  }
  const ms: number[] = [];
  for (let i = 0; i < SAMPLE_RUNS; i++) ms.push((await timeRun(bin, ['collect'], true)).ms);
  return { medianMs: round(median(ms), 1), runs: SAMPLE_RUNS, targetMs: 400 };
}

export const suite: BenchSuite = {
  name: 'packaging',
  async run() {
    const infoFile = path.join(artifacts, 'build-info.json');
    if (!existsSync(infoFile)) return { skipped: 'artifacts not built: run `npm run build:binaries`' };
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as BuildInfo;
    const zips = Object.fromEntries(
      info.targets.map((t) => [
        t.arch,
        {
          zipBytes: t.zip.bytes,
          zipMiB: round(t.zip.bytes / 2 ** 20, 1),
          binaryBytes: t.binary.bytes,
          stripped: t.stripped,
          withinTarget: t.zip.bytes <= MAX_ZIP_BYTES,
        },
      ]),
    );
    const x64 = path.join(artifacts, 'amd64', 'defender-edge');
    const baseline = await coldStart(process.execPath, ['-e', '0'], COLD_RUNS);
    const version = await coldStart(x64, ['--version'], COLD_RUNS);
    const result: Record<string, unknown> = {
      zipTargetBytes: MAX_ZIP_BYTES,
      zips,
      coldStartVersion: {
        ...version,
        baselineNodeEmptyMs: baseline.medianMs,
        ratioToBaseline: round(version.medianMs / baseline.medianMs, 2),
      },
      coldStartToFirstSample: await firstSample(x64),
    };
    if (existsSync(path.join(ARM64_SYSROOT, 'lib', 'ld-linux-aarch64.so.1'))) {
      try {
        result.arm64UnderQemuVersion = await coldStart(
          QEMU_ARM64,
          qemuArm64Args(path.join(artifacts, 'aarch64', 'defender-edge'), ['--version']),
          5,
        );
      } catch (err) {
        result.arm64UnderQemuVersion = { skipped: (err as Error).message };
      }
    }
    return result;
  },
};
