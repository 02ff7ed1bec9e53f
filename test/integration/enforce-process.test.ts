// The Enforcer end to end on real processes: violation in → process stopped/killed, rails refusing
// without acting, dry-run, rate limit, escalation, ttl expiry, restore after a restart.
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/validate.ts';
import type { ActionRecord } from '../../src/enforce/actionModel.ts';
import { type CreateEnforcerOptions, createEnforcer, enforcementPaths } from '../../src/enforce/createEnforcer.ts';
import type { EnforcementConfig, Enforcer } from '../../src/enforce/enforcer.ts';
import type { ProcessBackend } from '../../src/enforce/processBackend.ts';
import type { ViolationEvent } from '../../src/localrules/contracts.ts';
import { silentLogger } from '../../src/log.ts';
import { type Child, Children, procState, sleep, startTimeOf } from '../support/children.ts';
import { until } from '../support/until.ts';
import { processAlarm } from '../support/violationEvents.ts';

const children = new Children();
const enforcers: Enforcer[] = [];
let stateDir: string;
let records: ActionRecord[];

beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'dedge-enforce-'));
  records = [];
});
afterEach(async () => {
  for (const e of enforcers.splice(0)) await e.stop();
  await children.killAll();
  rmSync(stateDir, { recursive: true, force: true });
});

function enforcer(config: Partial<EnforcementConfig> = {}, extra: Partial<CreateEnforcerOptions> = {}): Enforcer {
  const e = createEnforcer({
    config: { ...defaultConfig().enforcement, mode: 'enforce', ...config },
    stateDir,
    logger: silentLogger(),
    onAction: (r) => records.push(r),
    ...extra,
  });
  enforcers.push(e);
  return e;
}

const running = (c: Child) => ['S', 'R'].includes(procState(c.pid) ?? '');
const auditLines = () =>
  readFileSync(enforcementPaths(stateDir).auditPath, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ActionRecord);

describe('Enforcer on processes', () => {
  it('stops the offender as soon as the violation is handled, and continues it on alarm-cleared', async () => {
    const c = await children.start();
    const e = enforcer();
    const ev = processAlarm({ pid: c.pid }, { type: 'process-suspend', revertOnClear: true });
    const [applied] = await e.handle(ev);
    expect(procState(c.pid)).toBe('T'); // already stopped when handle() resolves
    expect(applied).toMatchObject({
      outcome: 'applied',
      type: 'process-suspend',
      dryRun: false,
      escalationLevel: 0,
      ttlSeconds: 600,
      violation: { violationId: ev.violationId },
    });
    const [reverted] = await e.handle({ ...ev, event: 'alarm-cleared', t: Date.now() });
    expect(reverted).toMatchObject({ outcome: 'reverted', reason: 'alarm-cleared', actionId: applied!.actionId });
    await until(() => running(c), 10_000, 'the child running');
    expect(auditLines().map((r) => r.outcome)).toEqual(['applied', 'reverted']);
    expect(records.map((r) => r.outcome)).toEqual(['applied', 'reverted']);
    expect(e.active()).toEqual([]);
  });

  it('keeps the process stopped on alarm-cleared when revertOnClear is off, and lets it go after its ttl', async () => {
    const c = await children.start();
    const e = enforcer();
    const ev = processAlarm({ pid: c.pid }, { type: 'process-suspend', ttlSeconds: 1 });
    await e.handle(ev);
    expect(await e.handle({ ...ev, event: 'alarm-cleared' })).toEqual([]);
    expect(procState(c.pid)).toBe('T');
    await until(() => running(c), 5000, 'the child running');
    expect(records.at(-1)).toMatchObject({ outcome: 'reverted', reason: 'expired' });
  });

  it('terminates, and kills after stopGraceMs a process that ignores SIGTERM', async () => {
    const c = await children.start({ ignoreTerm: true });
    const e = enforcer({ stopGraceMs: 200 });
    await e.handle(processAlarm({ pid: c.pid }, { type: 'process-terminate' }));
    expect((await c.exited).signal).toBe('SIGKILL');
    await (e.backends.process as ProcessBackend).settled();
    // the killed record follows the kernel's read-back that the process is gone (up to applySettleMs)
    await until(() => records.length >= 2, 5000, 'the killed record');
    expect(records.map((r) => r.outcome)).toEqual(['applied', 'killed']);
    expect(records[1]!.violation.violationId).toBe(records[0]!.violation.violationId);
    expect(e.active()).toEqual([]); // nothing to revert
  });

  describe('rails refuse without acting', () => {
    it('PID 1 and the agent itself', async () => {
      const e = enforcer();
      const r1 = await e.handle(processAlarm({ pid: 1, comm: 'init' }, { type: 'process-suspend' }));
      const r2 = await e.handle(processAlarm({ pid: process.pid }, { type: 'process-terminate' }));
      expect([r1[0]!.reason, r2[0]!.reason]).toEqual(['pid-1', 'self']);
      expect(procState(1)).not.toBe('T');
      expect(e.metrics()).toMatchObject({ refused: 2, applied: 0, backends: { process: { applied: 0 } } });
    });

    it('an ancestor of the agent', async () => {
      const c = await children.start();
      // the child plays the agent: this test process is then its parent
      const e = enforcer({}, { agentPid: c.pid });
      const [r] = await e.handle(processAlarm({ pid: process.pid }, { type: 'process-suspend' }));
      expect(r).toMatchObject({ outcome: 'refused', reason: 'agent-ancestor' });
    });

    it('a protected process (sshd by default) and the Greengrass nucleus', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'dedge-bin-'));
      try {
        symlinkSync('/bin/sleep', join(dir, 'sshd')); // comm of a process exec'd via this link is "sshd"
        const sshd = await children.startCommand(join(dir, 'sshd'), ['60']);
        expect(readFileSync(`/proc/${sshd.pid}/comm`, 'utf8').trim()).toBe('sshd');
        const nucleus = await children.start({ extraArgs: ['--', '-jar', '/greengrass/v2/alts/current/distro/lib/Greengrass.jar'] });
        const e = enforcer();
        const [r1] = await e.handle(processAlarm({ pid: sshd.pid, comm: 'sshd' }, { type: 'process-suspend' }));
        const [r2] = await e.handle(processAlarm({ pid: nucleus.pid }, { type: 'process-terminate' }));
        expect([r1!.reason, r2!.reason]).toEqual(['protected-process', 'greengrass-nucleus']);
        await sleep(100);
        expect(running(sshd) && running(nucleus)).toBe(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a pid that now belongs to another process (start time differs)', async () => {
      const c = await children.start();
      const e = enforcer();
      const [r] = await e.handle(processAlarm({ pid: c.pid, startTime: startTimeOf(c.pid) + 5 }, { type: 'process-suspend' }));
      expect(r).toMatchObject({ outcome: 'refused', reason: 'pid-reused' });
      expect(running(c)).toBe(true);
    });
  });

  it('dry-run (global or per behavior) logs what it would do and changes nothing', async () => {
    const a = await children.start();
    const b = await children.start();
    const global = enforcer({ mode: 'dry-run' });
    const [r1] = await global.handle(processAlarm({ pid: a.pid }, { type: 'process-terminate' }));
    const perBehavior = enforcer();
    const [r2] = await perBehavior.handle(processAlarm({ pid: b.pid }, { type: 'process-suspend', dryRun: true }));
    expect([r1, r2].map((r) => [r!.outcome, r!.dryRun])).toEqual([
      ['would-apply', true],
      ['would-apply', true],
    ]);
    expect(r2!.detail).toMatch(/^dry-run: would process-suspend pid/);
    await sleep(200);
    expect(running(a) && running(b)).toBe(true);
    expect(global.metrics().backends.process.applied + perBehavior.metrics().backends.process.applied).toBe(0);
    expect(global.metrics()).toMatchObject({ applied: 0, 'would-apply': 1 });
    // The audit log tells the same truth as the record.
    expect(auditLines().map((l) => l.outcome)).toEqual(['would-apply', 'would-apply']);
  });

  it('dry-run counts no repeat offence: simulated actions neither double the ttl nor carry over to enforcing', async () => {
    const config = { defaultTtlSeconds: 10, escalationFactor: 2, maxTtlSeconds: 40 };
    const dry = enforcer({ ...config, mode: 'dry-run' });
    for (let i = 0; i < 3; i++) {
      const c = await children.start();
      const [r] = await dry.handle(processAlarm({ pid: c.pid }, { type: 'process-suspend' }));
      expect(r).toMatchObject({ outcome: 'would-apply', escalationLevel: 0, ttlSeconds: 10 });
    }
    await dry.stop();
    // The same state directory, now enforcing: the first real action is a first offence.
    const real = enforcer(config);
    await real.start();
    const c = await children.start();
    const [r] = await real.handle(processAlarm({ pid: c.pid }, { type: 'process-suspend' }));
    expect(r).toMatchObject({ outcome: 'applied', escalationLevel: 0, ttlSeconds: 10 });
    expect(procState(c.pid)).toBe('T');
  });

  it('dry-run behaviors have their own rate budget: simulated actions never refuse a real one', async () => {
    const e = enforcer({ maxActionsPerMinute: 2 });
    const dry = [await children.start(), await children.start(), await children.start()];
    for (const c of dry) await e.handle(processAlarm({ pid: c.pid }, { type: 'process-suspend', dryRun: true }));
    const real = [await children.start(), await children.start()];
    for (const c of real) await e.handle(processAlarm({ pid: c.pid }, { type: 'process-suspend' }));
    // Dry-run says where enforcing would have been rate limited, and the real actions still had both slots.
    expect(records.map((r) => r.reason ?? r.outcome)).toEqual(['would-apply', 'would-apply', 'rate-limited', 'applied', 'applied']);
    expect(records[2]).toMatchObject({ outcome: 'refused', dryRun: true });
    expect(real.map((c) => procState(c.pid) === 'T')).toEqual([true, true]);
    expect(dry.every((c) => running(c))).toBe(true);
  });

  it('a simulated action ends with would-revert, and a restart neither re-applies nor reports it', async () => {
    const c = await children.start();
    const e1 = enforcer({ mode: 'dry-run' });
    await e1.handle(processAlarm({ pid: c.pid }, { type: 'process-suspend', ttlSeconds: 2 }));
    await e1.stop();
    const e2 = enforcer({ mode: 'dry-run' });
    expect(await e2.start()).toEqual([]);
    await until(() => records.some((r) => r.outcome === 'would-revert'), 6000, 'the simulated action to end');
    expect(records.map((r) => r.outcome)).toEqual(['would-apply', 'would-revert']);
    expect(records[1]).toMatchObject({ dryRun: true, reason: 'expired' });
    expect(running(c)).toBe(true);
  });

  it('rate limits: beyond maxActionsPerMinute the refusal is audited and nothing is done', async () => {
    const cs = [await children.start(), await children.start(), await children.start()];
    const e = enforcer({ maxActionsPerMinute: 2 });
    for (const c of cs) await e.handle(processAlarm({ pid: c.pid }, { type: 'process-suspend' }));
    expect(records.map((r) => r.reason ?? r.outcome)).toEqual(['applied', 'applied', 'rate-limited']);
    expect(cs.map((c) => procState(c.pid) === 'T')).toEqual([true, true, false]);
    expect(e.metrics().rateLimited).toBe(1);
    expect(auditLines().at(-1)).toMatchObject({ outcome: 'refused', reason: 'rate-limited' });
  });

  it('escalates the ttl for a repeat offender (same program, new pid) up to maxTtlSeconds', async () => {
    const e = enforcer({ defaultTtlSeconds: 10, escalationFactor: 2, maxTtlSeconds: 30 });
    const ttls: Array<number | undefined> = [];
    for (let i = 0; i < 3; i++) {
      const c = await children.start();
      const [r] = await e.handle(processAlarm({ pid: c.pid }, { type: 'process-suspend' }));
      ttls.push(r!.ttlSeconds);
    }
    expect(ttls).toEqual([10, 20, 30]);
    expect(records.map((r) => r.escalationLevel)).toEqual([0, 1, 2]);
  });

  it('handles a repeated in-alarm once and skips a second violation on a target already stopped', async () => {
    const c = await children.start();
    const e = enforcer();
    const ev = processAlarm({ pid: c.pid }, { type: 'process-suspend' });
    await e.handle(ev);
    expect(await e.handle({ ...ev, t: Date.now() })).toEqual([]);
    const [r] = await e.handle(processAlarm({ pid: c.pid }, { type: 'process-suspend' }, { behavior: 'msgReceive' }));
    expect(r).toMatchObject({ outcome: 'skipped', reason: 'already-active' });
    expect(e.active()).toHaveLength(1);
  });

  it('counts and ignores malformed events without throwing', async () => {
    const e = enforcer();
    expect(await e.handle({ violationId: 'x y' } as unknown as ViolationEvent)).toEqual([]);
    expect(await e.handle(processAlarm({ pid: 123, comm: 'x', startTime: 1 }, { type: 'process-smash' as never }))).toMatchObject([
      { outcome: 'refused', reason: 'unknown-action' },
    ]);
    expect(e.metrics()).toMatchObject({ events: 2, invalidEvents: 1 });
  });

  describe('restart', () => {
    it('restores a suspended process with its remaining time, then lets it go', async () => {
      const c = await children.start();
      const e1 = enforcer();
      await e1.handle(processAlarm({ pid: c.pid }, { type: 'process-suspend', ttlSeconds: 3 }));
      await e1.stop();
      expect(procState(c.pid)).toBe('T'); // stopping the agent lifts nothing
      await sleep(500);
      const e2 = enforcer();
      const [r] = await e2.start();
      expect(r).toMatchObject({ outcome: 'restored', type: 'process-suspend' });
      expect(r!.ttlSeconds).toBeLessThanOrEqual(2.5); // 500 ms of the 3 s passed while "down"
      expect(r!.ttlSeconds).toBeGreaterThan(0);
      expect(procState(c.pid)).toBe('T');
      await until(() => running(c), 6000, 'the child running');
      expect(records.at(-1)).toMatchObject({ outcome: 'reverted', reason: 'expired' });
    });

    it('re-checks the rails on restore and lifts what they now refuse', async () => {
      const c = await children.start();
      const e1 = enforcer();
      await e1.handle(processAlarm({ pid: c.pid }, { type: 'process-suspend' }));
      await e1.stop();
      const e2 = enforcer({ protectedProcesses: ['sshd', 'node'] });
      const [r] = await e2.start();
      expect(r).toMatchObject({ outcome: 'reverted', reason: 'rail-on-restore:protected-process' });
      await until(() => running(c), 10_000, 'the child running');
      expect(e2.active()).toEqual([]);
    });

    it('reverts on start what expired while the agent was down', async () => {
      const c = await children.start();
      const e1 = enforcer();
      await e1.handle(processAlarm({ pid: c.pid }, { type: 'process-suspend', ttlSeconds: 5 }));
      await e1.stop();
      const e2 = enforcer({}, { now: () => Date.now() + 10_000 });
      const [r] = await e2.start();
      expect(r).toMatchObject({ outcome: 'reverted', reason: 'expired' });
      await until(() => running(c), 10_000, 'the child running');
    });
  });
});
