// Enforcement that matches the kernel, with real nftables and links in two network namespaces this file
// creates (`dedge…g` gateway, `dedge…d` device) and real processes it starts: every change is read back;
// an nft element deleted by hand, a link set up by hand, a stopped process continued by hand are found by
// the reconcile (or by the next offence) and recorded as an operator's lift with its quiet window — never
// "already active" while the kernel holds nothing; operator lifts, pause and resume are audited with who.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/validate.ts';
import type { ActionRecord, Operator } from '../../src/enforce/actionModel.ts';
import { loadEnforcementState } from '../../src/enforce/activeStore.ts';
import { createEnforcer, enforcementPaths } from '../../src/enforce/createEnforcer.ts';
import type { EnforcementConfig, Enforcer } from '../../src/enforce/enforcer.ts';
import type { ActionSpec, ViolationEvent } from '../../src/localrules/contracts.ts';
import { silentLogger } from '../../src/log.ts';
import { createCommandRunner } from '../../src/system/commandRunner.ts';
import { Children, procState } from '../support/children.ts';
import { canConnect, createTopology, destroyTopology, inNs, linkIsUp, startTcpServer, type Topology } from '../support/netns.ts';
import { requires, root } from '../support/requirements.ts';
import { uniqueId } from '../support/uniqueId.ts';
import { until } from '../support/until.ts';
import { type DeviceAlarmTarget, deviceAlarm, processAlarm } from '../support/violationEvents.ts';

const PORT = 7209;
const id = uniqueId();
const table = `${id}_t`;
let topo: Topology;
const servers: ChildProcess[] = [];
const enforcers: Enforcer[] = [];
const children = new Children();
let stateDir: string;
let records: ActionRecord[];

beforeAll(async () => {
  topo = createTopology(id);
  servers.push(await startTcpServer(topo.dev, topo.devAddr, PORT));
});
afterAll(() => {
  for (const s of servers) s.kill('SIGKILL');
  destroyTopology(topo);
});
beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'dedge-readback-'));
  records = [];
});
afterEach(async () => {
  for (const e of enforcers.splice(0)) await e.stop();
  await children.killAll();
  try {
    inNs(topo.gw, 'nft', ['delete', 'table', 'inet', table]);
  } catch {
    /* not created by this test */
  }
  inNs(topo.gw, 'ip', ['link', 'set', topo.gwIf, 'up']);
  rmSync(stateDir, { recursive: true, force: true });
});

function enforcer(config: Partial<EnforcementConfig> = {}, reconcileMs = 0): Enforcer {
  const e = createEnforcer({
    config: { ...defaultConfig().enforcement, mode: 'enforce', nftTable: table, ...config },
    stateDir,
    logger: silentLogger(),
    runner: createCommandRunner({ netns: topo.gw }),
    onAction: (r) => records.push(r),
    reconcileMs,
  });
  enforcers.push(e);
  return e;
}

/** A device on the far side of the veth pair (topo.devAddr unless said otherwise) in alarm. */
const sensorAlarm = (action: ActionSpec, device: Partial<DeviceAlarmTarget> = {}): ViolationEvent =>
  deviceAlarm(action, { addresses: [topo.devAddr], ...device });

const block4 = () => inNs(topo.gw, 'nft', ['-j', 'list', 'set', 'inet', table, 'block4']);
const blocked = () => block4().includes(`"${topo.devAddr}"`);
const deleteByHand = () => inNs(topo.gw, 'nft', ['delete', 'element', 'inet', table, 'block4', `{ ${topo.devAddr} }`]);
const gwToDev = () => canConnect(topo.gw, topo.devAddr, PORT);
const audit = () =>
  readFileSync(enforcementPaths(stateDir).auditPath, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const alice: Operator = { via: 'socket', user: 'alice', uid: 0 };

describe('read-back and drift with real nftables', requires(root), () => {
  it('reads every block back; an element deleted by hand is found by the reconcile and recorded as an operator lift with its quiet window', async () => {
    const e = enforcer({ liftQuietSeconds: 600 });
    const [applied] = await e.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 120 }));
    expect(applied).toMatchObject({ outcome: 'applied', readBack: { state: 'in-force' } });
    expect(applied!.readBack!.observed).toMatch(
      new RegExp(`^${topo.devAddr.replaceAll('.', '\\.')} in inet ${table} block4, expires in \\d+ s$`),
    );
    expect(applied!.rails!.join('\n')).toMatch(/neverBlockCidrs/);
    expect(blocked()).toBe(true);

    deleteByHand();
    const r = await e.reconcile();
    expect(r).toMatchObject({ checked: 1, inForce: 0 });
    expect(r.lifted).toHaveLength(1);
    const lifted = r.lifted[0]!;
    expect(lifted).toMatchObject({ outcome: 'lifted', reason: 'drift', by: { via: 'host' }, actionId: applied!.actionId });
    expect(lifted.readBack).toMatchObject({ state: 'not-in-force' });
    expect(lifted.detail).toMatch(/not in inet .* block4: changed outside the agent, recorded as an operator's lift/);
    expect(lifted.quietUntil! - Date.now()).toBeGreaterThan(590_000);
    expect(e.status().active).toEqual([]);
    expect(await gwToDev()).toBe(true);

    // The device offends again: left alone for the quiet window, and said so — not "already active".
    const again = await e.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 120 }));
    expect(again).toEqual([expect.objectContaining({ outcome: 'skipped', reason: 'quiet-after-lift', quietUntil: lifted.quietUntil })]);
    expect(blocked()).toBe(false);
    const persisted = loadEnforcementState(enforcementPaths(stateDir).statePath).state;
    expect(persisted.actions).toEqual([]);
    expect(Object.values(persisted.quiet ?? {})).toEqual([
      expect.objectContaining({ until: lifted.quietUntil, actionId: applied!.actionId }),
    ]);
    expect(audit().map((l) => `${l.outcome}:${l.reason ?? ''}`)).toEqual(['applied:', 'lifted:drift', 'skipped:quiet-after-lift']);
  });

  it('the next offence itself reads the kernel: deleted by hand before any reconcile, never "already active" while ineffective', async () => {
    const e = enforcer({ liftQuietSeconds: 0 }); // no quiet window: the offender is blocked again at once
    await e.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 120 }));
    deleteByHand();
    expect(blocked()).toBe(false);
    const recs = await e.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 120 }));
    expect(recs.map((x) => `${x.outcome}:${x.reason ?? ''}`)).toEqual(['lifted:drift', 'applied:']);
    expect(recs.some((x) => x.reason === 'already-active')).toBe(false);
    expect(blocked()).toBe(true);
    expect(recs[1]!.escalationLevel).toBe(1); // a repeat offender all the same
  });

  it('a reconcile reads the table once for all blocks and tells the lifted one from the one in force', async () => {
    const e = enforcer();
    await e.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 120 }));
    await e.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 120 }, { thingName: 'sensor-9', addresses: ['10.231.0.77'] }));
    deleteByHand();
    const r = await e.reconcile();
    expect(r).toMatchObject({ checked: 2, inForce: 1 });
    expect(r.lifted.map((x) => x.violation.thingName)).toEqual(['sensor-1']);
    expect(e.status().active.map((a) => [a.violation.thingName, a.readBack?.state])).toEqual([['sensor-9', 'in-force']]);
    expect(block4()).toContain('"10.231.0.77"');
  });

  it('the periodic reconcile finds it without being asked', async () => {
    const e = enforcer({}, 200);
    await e.start();
    await e.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 120 }));
    deleteByHand();
    await until(() => records.some((x) => x.outcome === 'lifted' && x.reason === 'drift'), 5000, 'the drift lift record');
    expect(e.status().lastReconcile).toMatchObject({ lifted: 1 });
  });

  it('an operator lift (by id prefix) removes the block, is audited with who, and sticks for its quiet window only', async () => {
    const e = enforcer();
    const [applied] = await e.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 120 }));
    await expect(e.lift('nope-nope', { by: alice })).rejects.toThrow('actionId: no action in force with id "nope-nope"');
    const lifted = await e.lift(applied!.actionId!.slice(0, 8), { by: alice, quietForSeconds: 2 });
    expect(lifted).toMatchObject({ outcome: 'lifted', reason: 'operator', by: alice, actionId: applied!.actionId });
    expect(lifted.detail).toMatch(/^lifted by alice \(uid 0\) on the gateway; removed/);
    expect(blocked()).toBe(false);
    expect(await gwToDev()).toBe(true);
    const during = await e.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 120 }));
    expect(during).toEqual([expect.objectContaining({ outcome: 'skipped', reason: 'quiet-after-lift' })]);
    expect(during[0]!.detail).toMatch(/lifted by alice \(uid 0\) on the gateway; no action until/);
    await new Promise((r) => setTimeout(r, Math.max(0, lifted.quietUntil! - Date.now()) + 50));
    const after = await e.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 120 }));
    expect(after).toEqual([expect.objectContaining({ outcome: 'applied' })]);
    expect(blocked()).toBe(true);
    expect(audit().find((l) => l.outcome === 'lifted')).toMatchObject({ by: { via: 'socket', user: 'alice', uid: 0 } });
  });

  it('a table flushed wholesale (a firewall reload) is not a lift: the block is applied again', async () => {
    const e = enforcer();
    await e.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 120 }));
    inNs(topo.gw, 'nft', ['delete', 'table', 'inet', table]);
    const r = await e.reconcile();
    expect(r.restored).toEqual([
      expect.objectContaining({ outcome: 'restored', reason: 'kernel-lost', readBack: expect.objectContaining({ state: 'in-force' }) }),
    ]);
    expect(blocked()).toBe(true);
    expect(await gwToDev()).toBe(false);
  });

  it('deleted by hand while the agent was stopped: the next start on the same boot records the lift instead of re-applying', async () => {
    const e1 = enforcer();
    await e1.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 120 }));
    await e1.stop();
    deleteByHand();
    const e2 = enforcer();
    const recs = await e2.start();
    expect(recs).toEqual([expect.objectContaining({ outcome: 'lifted', reason: 'drift' })]);
    expect(blocked()).toBe(false);
  });

  it('pause makes every decision dry-run until resumed; both are audited with who', async () => {
    const e = enforcer();
    const p = await e.pause(300, alice);
    expect(p.until - p.at).toBe(300_000);
    expect(e.status()).toMatchObject({ mode: 'dry-run', configuredMode: 'enforce', paused: { by: alice } });
    const [dry] = await e.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 120 }));
    expect(dry).toMatchObject({ outcome: 'would-apply', dryRun: true, readBack: { state: 'simulated' } });
    expect(dry!.rails!.at(-1)).toMatch(/^dry-run: enforcement paused by alice/);
    expect(() => block4()).toThrow(); // nothing was even created
    expect(await e.resume(alice)).toMatchObject({ by: alice });
    expect(e.status().mode).toBe('enforce');
    // The simulated block gives way to the real one (it must not count as "already active").
    const after = await e.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 120 }));
    expect(after.map((x) => `${x.outcome}:${x.reason ?? ''}:${x.dryRun}`)).toEqual(['would-revert:superseded:true', 'applied::false']);
    expect(blocked()).toBe(true);
    const commands = audit().filter((l) => l.record === 'command');
    expect(commands.map((l) => [l.command, l.outcome, (l.by as Operator).user])).toEqual([
      ['pause', 'accepted', 'alice'],
      ['resume', 'accepted', 'alice'],
    ]);
  });

  it('a pause survives a restart of the enforcer', async () => {
    const e1 = enforcer();
    await e1.pause(300, alice);
    await e1.stop();
    const e2 = enforcer();
    await e2.start();
    expect(e2.status()).toMatchObject({ mode: 'dry-run', paused: { by: alice } });
  });
});

describe('read-back and drift of interface-down', requires(root), () => {
  it('reads the link back down; set up by hand, it is recorded as lifted', async () => {
    const e = enforcer();
    const [applied] = await e.handle(sensorAlarm({ type: 'interface-down', ttlSeconds: 120 }, { interface: topo.gwIf }));
    expect(applied).toMatchObject({ outcome: 'applied', readBack: { state: 'in-force' } });
    expect(applied!.readBack!.observed).toMatch(new RegExp(`^interface ${topo.gwIf} is down`));
    expect(linkIsUp(topo.gw, topo.gwIf)).toBe(false);
    inNs(topo.gw, 'ip', ['link', 'set', topo.gwIf, 'up']);
    const r = await e.reconcile();
    expect(r.lifted).toEqual([expect.objectContaining({ outcome: 'lifted', reason: 'drift', type: 'interface-down' })]);
    expect(r.lifted[0]!.readBack!.observed).toMatch(new RegExp(`^interface ${topo.gwIf} is up`));
    expect(linkIsUp(topo.gw, topo.gwIf)).toBe(true);
    expect(e.status().active).toEqual([]);
  });
});

describe('read-back and drift of process actions', requires(root), () => {
  it('reads a suspended process back as stopped; continued by hand, it is recorded as lifted; gone, it is dropped', async () => {
    const e = enforcer({ liftQuietSeconds: 0 }); // the second child is the same program: no quiet window in between
    const c = await children.start();
    const [applied] = await e.handle(processAlarm({ pid: c.pid }, { type: 'process-suspend', ttlSeconds: 120 }));
    expect(applied).toMatchObject({
      outcome: 'applied',
      readBack: { state: 'in-force', observed: expect.stringMatching(new RegExp(`^pid ${c.pid} \\(.+\\) stopped \\(state T\\)$`)) },
    });
    expect(applied!.rails!.join('\n')).toMatch(/no pid reuse/);
    process.kill(c.pid, 'SIGCONT'); // an operator continues it by hand
    await until(() => procState(c.pid) !== 'T', 10_000, 'the process continued');
    const r = await e.reconcile();
    expect(r.lifted).toEqual([expect.objectContaining({ outcome: 'lifted', reason: 'drift', type: 'process-suspend' })]);
    expect(r.lifted[0]!.readBack!.observed).toMatch(new RegExp(`^pid ${c.pid} \\(.+\\) is running`));
    expect(['S', 'R']).toContain(procState(c.pid));

    const d = await children.start();
    await e.handle(processAlarm({ pid: d.pid }, { type: 'process-suspend', ttlSeconds: 120 }));
    process.kill(d.pid, 'SIGKILL');
    await d.exited;
    const r2 = await e.reconcile();
    expect(r2.gone).toEqual([
      expect.objectContaining({
        outcome: 'reverted',
        reason: 'target-gone',
        detail: expect.stringMatching(new RegExp(`^pid ${d.pid} \\(.+\\) is gone$`)),
      }),
    ]);
    expect(e.status().active).toEqual([]);
  });

  it('process-terminate reads back pending at SIGTERM when the process ignores it, and gone once killed', async () => {
    const e = enforcer({ stopGraceMs: 300 });
    const c = await children.start({ ignoreTerm: true });
    const [applied] = await e.handle(processAlarm({ pid: c.pid }, { type: 'process-terminate' }));
    expect(applied!.readBack).toMatchObject({ state: 'pending' });
    await until(() => records.some((x) => x.outcome === 'killed'), 5000, 'the killed record');
    expect(records.find((x) => x.outcome === 'killed')!.readBack).toMatchObject({
      state: 'in-force',
      observed: expect.stringMatching(new RegExp(`^pid ${c.pid} \\(.+\\) is gone$`)),
    });
  });
});
