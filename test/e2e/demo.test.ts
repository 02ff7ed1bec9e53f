// `defender-edge demo --json` as a real process (the executable a user runs), checked
// from its summary and, with --keep, from the files it leaves: the cloud record and the audit log. Also
// --dry-run, Ctrl-C cleanup, a usage error, and the same demo from the standalone binary when built.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { procState } from '../../src/demo/cast.ts';
import type { DemoSummary } from '../../src/demo/summary.ts';
import { builtFile, requires } from '../support/requirements.ts';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const cli = path.join(root, 'bin', 'defender-edge.js');
const binary = path.join(root, 'artifacts', 'amd64', 'defender-edge');
const built = builtFile('artifacts/amd64/defender-edge');

const procs: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(
      () => reject(new Error(`${args.join(' ')} did not finish in ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`)),
      timeoutMs,
    );
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A pid is gone, or belongs to a zombie/other process no longer running our actor. */
const gone = (pid: number) => {
  const s = procState(pid);
  return s === null || s === 'Z';
};

function parseSummary(r: Run): DemoSummary & { workDir?: string } {
  const lines = r.stdout.trim().split('\n');
  expect(lines, `stdout must be exactly one JSON object; stderr: ${r.stderr}`).toHaveLength(1);
  return JSON.parse(lines[0]!) as DemoSummary & { workDir?: string };
}

function jsonLines(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The scenario's profile (docs/demo.md#the-scenario). */
const SEED: Record<string, { metric: string; threshold: number }> = {
  msgReceive: { metric: 'aws:num-messages-received', threshold: 100 },
  bytesOut: { metric: 'aws:all-bytes-out', threshold: 10_000 },
};

function checkEnforced(s: DemoSummary): void {
  expect(s.problems).toEqual([]);
  expect(s.ok).toBe(true);
  expect(s.mode).toBe('enforce');
  expect(s.action).toBe('process-terminate');
  const rogue = s.offenders.find((o) => o.role === 'rogue-agent')!;
  expect(s.offender).toEqual({ pid: rogue.pid, comm: 'rogue-agent' });
  // Whichever seed behavior the flood crosses first stops it: msgReceive (> 100 messages, from the per-process
  // MQTT estimate) or bytesOut (> 10000 bytes).
  const fired = rogue.behaviors[0]!;
  expect(Object.keys(SEED)).toContain(fired);
  expect(rogue.outcome).toBe('applied');
  expect(rogue.stillRunning).toBe(false);
  expect(rogue.detectedAfterMs).not.toBeNull();
  expect(rogue.detectedAfterMs).toBe(s.detectedAfterMs);
  expect((rogue.value as { count: number }).count).toBeGreaterThanOrEqual(SEED[fired]!.threshold);
  expect(s.innocentSurvived).toBe(true);
  expect(s.behaviorsFired).toContain(fired);
  expect(s.cloud.violations).toBeGreaterThanOrEqual(1);
  expect(s.cloud.actions).toBeGreaterThanOrEqual(1);
  expect(s.cloud.gatewayReports).toBeGreaterThanOrEqual(1);
  expect(s.cloud.reportAfterViolation).toBe(true);
  expect(s.device.accepted).toBeGreaterThanOrEqual(1);
  expect(s.device.rejected).toBe(0);
  expect(s.contrast).toContain(`${s.detectedAfterMs} ms`);
  // The demo cleans up after itself: none of the processes it started outlives it.
  for (const c of s.cast) expect(gone(c.pid), `${c.role} pid ${c.pid}`).toBe(true);
}

describe('defender-edge demo', () => {
  it('--json --keep: stops the rogue agent, leaves the innocent alone, the violation, action and a later report reach the cloud record', async () => {
    const r = await run(process.execPath, [cli, 'demo', '--json', '--keep']);
    expect(r.code, r.stderr).toBe(0);
    const s = parseSummary(r);
    dirs.push(s.workDir!);
    checkEnforced(s);
    const rogue = s.offenders.find((o) => o.role === 'rogue-agent')!;

    // The files, read independently of the summary.
    const cloud = jsonLines(path.join(s.workDir!, 'cloud.jsonl')) as Array<{ ts: number; topic: string; payload: string }>;
    const docs = cloud.map((l) => ({ ...l, doc: JSON.parse(l.payload) as Record<string, unknown> }));
    const violation = docs.find((l) => l.doc.record === 'violation' && (l.doc.offender as { pid?: number }).pid === rogue.pid)!;
    expect(violation.topic).toBe('defender-edge/DemoGateway/violations');
    const seed = SEED[violation.doc.behavior as string]!;
    expect(violation.doc).toMatchObject({
      metric: seed.metric,
      event: 'in-alarm',
      offender: { kind: 'process', comm: 'rogue-agent' },
      threshold: { count: seed.threshold },
    });
    const action = docs.find((l) => l.doc.record === 'action' && (l.doc.target as { pid?: number } | undefined)?.pid === rogue.pid)!;
    expect(action.doc).toMatchObject({ type: 'process-terminate', outcome: 'applied', dryRun: false });
    expect(docs.some((l) => l.topic === '$aws/things/DemoGateway/defender/metrics/json' && l.ts > violation.ts)).toBe(true);
    expect(docs.some((l) => l.topic === '$aws/things/MyDevice/defender/metrics/json')).toBe(true);
    const audit = jsonLines(path.join(s.workDir!, 'state', 'enforcement', 'audit.jsonl'));
    expect(audit.some((a) => a.outcome === 'applied' && (a.target as { pid: number }).pid === rogue.pid)).toBe(true);
    const innocent = s.cast.find((c) => c.role === 'innocent')!;
    expect(audit.some((a) => (a.target as { pid?: number } | undefined)?.pid === innocent.pid)).toBe(false);
  }, 70_000);

  it('--dry-run: the rogue keeps running, the action is recorded as dry-run and everything still reaches the cloud', async () => {
    const r = await run(process.execPath, [cli, 'demo', '--json', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    const s = parseSummary(r);
    expect(s.problems).toEqual([]);
    expect(s.mode).toBe('dry-run');
    const rogue = s.offenders.find((o) => o.role === 'rogue-agent')!;
    expect(rogue.stillRunning).toBe(true);
    expect(rogue).toMatchObject({ action: 'process-terminate', outcome: 'would-apply', dryRun: true, detectedAfterMs: null });
    expect(rogue.actedAfterMs).not.toBeNull();
    expect(s.detectedAfterMs).toBeNull();
    expect(s.innocentSurvived).toBe(true);
    expect(s.cloud.violations).toBeGreaterThanOrEqual(1);
    expect(s.cloud.actions).toBeGreaterThanOrEqual(1);
    expect(s.contrast).toContain('dry-run');
    for (const c of s.cast) expect(gone(c.pid), `${c.role} pid ${c.pid}`).toBe(true);
  }, 70_000);

  it('Ctrl-C mid-demo: exits 130, every process it started is gone and its work dir removed', async () => {
    const child = spawn(process.execPath, [cli, 'demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(child);
    const pids: number[] = [];
    let workDir = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the rogue never started')), 30_000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        const dir = /work dir: (\S+)/.exec(line);
        if (dir) workDir = dir[1]!;
        const started = /started (\S+) \(pid (\d+)\)/.exec(line);
        if (started) pids.push(Number(started[2]));
        if (started?.[1] === 'rogue-agent') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    expect(workDir).not.toBe('');
    expect(existsSync(workDir)).toBe(true);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    for (const pid of pids) expect(gone(pid), `pid ${pid}`).toBe(true);
    expect(existsSync(workDir)).toBe(false);
  }, 60_000);

  it('`demo | head`: when the reader goes away it still stops everything and removes its work dir', async () => {
    const child = spawn(process.execPath, [cli, 'demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(child);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const workDir = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no work dir line')), 30_000);
      const rl = createInterface({ input: child.stdout });
      rl.on('line', (line) => {
        const m = /work dir: (\S+)/.exec(line);
        if (!m) return;
        clearTimeout(timer);
        rl.close();
        child.stdout.destroy(); // the read end closes: the next write gets EPIPE
        resolve(m[1]!);
      });
    });
    expect(await exited).toBe(130);
    expect(existsSync(workDir)).toBe(false);
  }, 60_000);

  it('a bad option is a usage error naming it (exit 2)', async () => {
    const r = await run(process.execPath, [cli, 'demo', '--action', 'explode']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--action: must be terminate or suspend');
    const r2 = await run(process.execPath, [cli, 'demo', '--sampling-ms', '5']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('--sampling-ms: must be an integer from 100 to 60000');
  });
});

describe('demo from the standalone binary', requires(built), () => {
  it('artifacts/amd64/defender-edge demo --json: same story, actors started from the binary itself', async () => {
    const r = await run(binary, ['demo', '--json']);
    expect(r.code, r.stderr).toBe(0);
    checkEnforced(parseSummary(r));
  }, 70_000);
});
