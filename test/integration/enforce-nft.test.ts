// Address blocks, interface quarantine and interface down with real nftables and real traffic, inside
// two network namespaces this file creates (`dedge…g` gateway, `dedge…d` device) and deletes.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/validate.ts';
import type { ActionRecord } from '../../src/enforce/actionModel.ts';
import { createEnforcer, enforcementPaths } from '../../src/enforce/createEnforcer.ts';
import type { EnforcementConfig, Enforcer } from '../../src/enforce/enforcer.ts';
import { startWatchdog, WATCHDOG_GRACE_MS } from '../../src/enforce/linkWatchdog.ts';
import { parseTableJson } from '../../src/enforce/nftBackend.ts';
import type { ActionSpec, ViolationEvent } from '../../src/localrules/contracts.ts';
import { silentLogger } from '../../src/log.ts';
import { createCommandRunner } from '../../src/system/commandRunner.ts';
import { readAncestry } from '../../src/system/procfs.ts';
import {
  canConnect,
  createTopology,
  destroyTopology,
  inNs,
  linkIsUp,
  nftRuleset,
  startTcpServer,
  type Topology,
} from '../support/netns.ts';
import { requires, root } from '../support/requirements.ts';
import { uniqueId } from '../support/uniqueId.ts';
import { until } from '../support/until.ts';
import { type DeviceAlarmTarget, deviceAlarm } from '../support/violationEvents.ts';

const PORT = 7207;
const id = uniqueId();
const table = `${id}_t`;
let topo: Topology;
const servers: ChildProcess[] = [];
const enforcers: Enforcer[] = [];
let stateDir: string;
let records: ActionRecord[];

beforeAll(async () => {
  topo = createTopology(id);
  servers.push(await startTcpServer(topo.dev, '::', PORT)); // the device answers on v4 and v6
  servers.push(await startTcpServer(topo.gw, topo.gwAddr, PORT));
});
afterAll(() => {
  for (const s of servers) s.kill('SIGKILL');
  destroyTopology(topo);
});
beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'dedge-nft-'));
  records = [];
});
afterEach(async () => {
  for (const e of enforcers.splice(0)) await e.stop();
  try {
    inNs(topo.gw, 'nft', ['delete', 'table', 'inet', table]);
  } catch {
    /* not created by this test */
  }
  try {
    inNs(topo.gw, 'ip', ['route', 'del', 'default']);
  } catch {
    /* none */
  }
  inNs(topo.gw, 'ip', ['link', 'set', topo.gwIf, 'up']);
  rmSync(stateDir, { recursive: true, force: true });
  // Watchdogs whose state folder is gone exit by themselves: none outlives the test.
  await until(() => watchdogsOf(stateDir).length === 0, 5000, 'no watchdog left', 100);
});

/** The elements of our nft sets, as the gateway namespace's kernel reports them. */
const nftElements = () => parseTableJson(inNs(topo.gw, 'nft', ['-j', 'list', 'table', 'inet', table]));

function enforcer(config: Partial<EnforcementConfig> = {}): Enforcer {
  const e = createEnforcer({
    config: { ...defaultConfig().enforcement, mode: 'enforce', nftTable: table, ...config },
    stateDir,
    logger: silentLogger(),
    runner: createCommandRunner({ netns: topo.gw }),
    onAction: (r) => records.push(r),
  });
  enforcers.push(e);
  return e;
}

/** Watchdog processes started for this state folder (their command line names its state file). */
function watchdogsOf(dir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmd.includes('_link-watchdog') && cmd.includes(dir) && !cmd.includes('--detach')) pids.push(Number(name)); // not its launcher
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

function ancestorsOf(pid: number): number[] {
  return readAncestry(pid)
    .slice(1)
    .map((p) => p.pid);
}

/** A device on the far side of the veth pair (topo.devAddr unless said otherwise) in alarm. */
const sensorAlarm = (action: ActionSpec, device: Partial<DeviceAlarmTarget> = {}): ViolationEvent =>
  deviceAlarm(action, { addresses: [topo.devAddr], ...device });

const gwToDev = () => canConnect(topo.gw, topo.devAddr, PORT);
const gwToDev6 = () => canConnect(topo.gw, topo.devAddr6, PORT);
const devToGw = () => canConnect(topo.dev, topo.gwAddr, PORT);

describe('nft address backend in a namespace', requires(root), () => {
  it('blocks a device (v4 + v6, both directions), the traffic stops, and flows again after the ttl', async () => {
    const probeAll = () => Promise.all([gwToDev(), gwToDev6(), devToGw()]);
    // Precondition: the fresh veth pair carries v4 and v6 (under CPU load the first v6 probe can miss its
    // 700 ms; waiting for it is not what this test is about).
    await until(async () => (await probeAll()).every(Boolean), 8000, 'v4 and v6 probes through the fresh veth pair', 200);
    const e = enforcer();
    const [r] = await e.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 4 }, { addresses: [topo.devAddr, topo.devAddr6] }));
    expect(r).toMatchObject({
      outcome: 'applied',
      type: 'address-block',
      target: { kind: 'addresses', addresses: [topo.devAddr, topo.devAddr6] },
      ttlSeconds: 4,
    });
    expect(await probeAll()).toEqual([false, false, false]);
    const listed = nftElements();
    expect(listed.map((x) => x.target)).toEqual([
      { kind: 'addresses', addresses: [topo.devAddr] },
      { kind: 'addresses', addresses: [topo.devAddr6] },
    ]);
    expect(listed[0]!.expiresInMs).toBeLessThanOrEqual(4000);
    await until(async () => (await gwToDev()) && (await devToGw()), 8000, 'traffic flowing again both ways', 200);
    await until(() => records.some((x) => x.outcome === 'reverted' && x.reason === 'expired'), 3000, 'the expiry revert record');
  });

  it('a block expires in the kernel even when the agent is gone', async () => {
    const e = enforcer();
    await e.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 3 }));
    await e.stop(); // no timer left to revert anything
    expect(await gwToDev()).toBe(false);
    await until(gwToDev, 8000, 'traffic flowing again', 200);
  });

  it("refuses the gateway's own address and never-block CIDRs without touching nft", async () => {
    const before = nftRuleset(topo.gw);
    const e = enforcer({ neverBlockCidrs: ['10.231.0.0/28'] });
    const [own] = await e.handle(sensorAlarm({ type: 'address-block' }, { addresses: [topo.gwAddr] }));
    const [nb] = await e.handle(sensorAlarm({ type: 'address-block' }, { addresses: [topo.devAddr] }));
    expect([own!.reason, nb!.reason]).toEqual(['own-address', 'never-block-cidr']);
    expect(nftRuleset(topo.gw)).toBe(before);
    expect(await gwToDev()).toBe(true);
  });

  it('blocks the acceptable addresses of a device and audits the refused ones', async () => {
    const e = enforcer();
    const recs = await e.handle(
      sensorAlarm({ type: 'address-block', ttlSeconds: 30 }, { addresses: [topo.gwAddr, topo.devAddr, 'not-an-ip'] }),
    );
    expect(recs.map((r) => [r.outcome, r.reason])).toEqual([
      ['refused', 'own-address'],
      ['applied', undefined],
    ]);
    expect(recs[0]!.detail).toMatch(/address\[2\]: /);
    expect(recs[1]!.target).toEqual({ kind: 'addresses', addresses: [topo.devAddr] });
    expect(await devToGw()).toBe(false);
  });

  it('dry-run changes nothing: same ruleset, traffic still flows', async () => {
    const before = nftRuleset(topo.gw);
    const e = enforcer({ mode: 'dry-run' });
    const [r] = await e.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 30 }));
    expect(r).toMatchObject({ outcome: 'would-apply', dryRun: true });
    expect(nftRuleset(topo.gw)).toBe(before);
    expect(await gwToDev()).toBe(true);
  });

  it('restores a block after a restart with its remaining time, even if the kernel lost it', async () => {
    const e1 = enforcer();
    await e1.handle(sensorAlarm({ type: 'address-block', ttlSeconds: 5 }));
    await e1.stop();
    inNs(topo.gw, 'nft', ['delete', 'table', 'inet', table]); // as after a reboot
    expect(await gwToDev()).toBe(true); // also lets some of the ttl pass
    const e2 = enforcer();
    const [r] = await e2.start();
    expect(r).toMatchObject({ outcome: 'restored', type: 'address-block' });
    expect(r!.ttlSeconds).toBeLessThan(5);
    expect(await gwToDev()).toBe(false);
    const [entry] = nftElements();
    expect(entry!.expiresInMs).toBeLessThanOrEqual(5000); // nft -j reports whole seconds
    await until(gwToDev, 8000, 'traffic flowing again', 200);
  });
});

describe('interface actions in a namespace', requires(root), () => {
  it('quarantines an interface in the nft table; it flows again after the ttl', async () => {
    const e = enforcer();
    const [r] = await e.handle(sensorAlarm({ type: 'interface-quarantine', ttlSeconds: 3 }, { interface: topo.gwIf }));
    expect(r).toMatchObject({ outcome: 'applied', target: { kind: 'interface', ifname: topo.gwIf } });
    expect(await Promise.all([gwToDev(), devToGw()])).toEqual([false, false]);
    await until(async () => (await gwToDev()) && (await devToGw()), 8000, 'traffic flowing again both ways', 200);
  });

  it('refuses the default-route interface unless allowDefaultRouteInterface', async () => {
    inNs(topo.gw, 'ip', ['route', 'add', 'default', 'via', topo.devAddr, 'dev', topo.gwIf]);
    const before = nftRuleset(topo.gw);
    const [refused] = await enforcer().handle(sensorAlarm({ type: 'interface-down' }, { interface: topo.gwIf }));
    expect(refused).toMatchObject({ outcome: 'refused', reason: 'default-route-interface' });
    expect(linkIsUp(topo.gw, topo.gwIf)).toBe(true);
    const [q] = await enforcer().handle(sensorAlarm({ type: 'interface-quarantine' }, { interface: topo.gwIf }));
    expect(q).toMatchObject({ outcome: 'refused', reason: 'default-route-interface' });
    expect(nftRuleset(topo.gw)).toBe(before);
    const [allowed] = await enforcer({ allowDefaultRouteInterface: true }).handle(
      sensorAlarm({ type: 'interface-quarantine', ttlSeconds: 30 }, { interface: topo.gwIf }),
    );
    expect(allowed).toMatchObject({ outcome: 'applied' });
    expect(await gwToDev()).toBe(false);
  });

  it('takes a downstream interface down and brings it up on alarm-cleared', async () => {
    const e = enforcer();
    const ev = sensorAlarm({ type: 'interface-down', ttlSeconds: 60, revertOnClear: true }, { interface: topo.gwIf });
    await e.handle(ev);
    expect(linkIsUp(topo.gw, topo.gwIf)).toBe(false);
    expect(await gwToDev()).toBe(false);
    const [r] = await e.handle({ ...ev, event: 'alarm-cleared' });
    expect(r).toMatchObject({ outcome: 'reverted', reason: 'alarm-cleared' });
    expect(linkIsUp(topo.gw, topo.gwIf)).toBe(true);
    await until(gwToDev, 8000, 'traffic flowing again', 200);
  });

  it('an interface-down outlives an agent that stops for good: its watchdog brings the link up after the deadline', async () => {
    const e = enforcer();
    const applied = Date.now();
    const [r] = await e.handle(sensorAlarm({ type: 'interface-down', ttlSeconds: 2 }, { interface: topo.gwIf }));
    expect(r).toMatchObject({ outcome: 'applied' });
    await until(() => watchdogsOf(stateDir).length === 1, 3000, 'one watchdog', 50);
    // Out of the agent's process tree once its launcher has exited: the nucleus stops a component by
    // killing its whole tree.
    const [dog] = watchdogsOf(stateDir);
    await until(() => !ancestorsOf(dog!).includes(process.pid), 3000, "the watchdog outside the agent's process tree", 50);
    // The agent stops (as on a deployment that removes it) and never comes back: stop() never reverts.
    await e.stop();
    enforcers.splice(enforcers.indexOf(e), 1);
    expect(linkIsUp(topo.gw, topo.gwIf)).toBe(false);
    await until(() => linkIsUp(topo.gw, topo.gwIf), 2000 + WATCHDOG_GRACE_MS + 5000, 'the link up again', 100);
    // Not before the action's deadline plus the grace left to the agent.
    expect(Date.now() - applied).toBeGreaterThanOrEqual(2000 + WATCHDOG_GRACE_MS);
    await until(() => watchdogsOf(stateDir).length === 0, 3000, 'no watchdog left', 100);
    await until(gwToDev, 8000, 'traffic flowing again', 200);
  });

  it("a watchdog left by an earlier run waits for a newer action on the same interface; a revert stops the agent's own", async () => {
    const first = enforcer();
    const ev = sensorAlarm({ type: 'interface-down', ttlSeconds: 1, revertOnClear: true }, { interface: topo.gwIf });
    await first.handle(ev);
    await until(() => watchdogsOf(stateDir).length === 1, 3000, 'one watchdog', 50);
    const [early] = watchdogsOf(stateDir);
    // Reverted by the agent itself: its watchdog is stopped.
    await first.handle({ ...ev, event: 'alarm-cleared' });
    await until(() => !watchdogsOf(stateDir).includes(early!), 3000, 'the early watchdog gone', 50);
    // An orphan from an "earlier run": a watchdog for a deadline that passes while a newer action is in force.
    startWatchdog({ statePath: enforcementPaths(stateDir).statePath, ifname: topo.gwIf, deadlineMs: Date.now(), netns: topo.gw });
    await until(() => watchdogsOf(stateDir).length === 1, 3000, 'one watchdog', 50);
    const [orphan] = watchdogsOf(stateDir);
    const [newer] = await first.handle(sensorAlarm({ type: 'interface-down', ttlSeconds: 6 }, { interface: topo.gwIf }));
    expect(newer).toMatchObject({ outcome: 'applied' });
    await new Promise((res) => setTimeout(res, WATCHDOG_GRACE_MS + 1500));
    expect(linkIsUp(topo.gw, topo.gwIf)).toBe(false);
    expect(watchdogsOf(stateDir)).toContain(orphan);
  });

  it('refuses an interface action for a device without an interface', async () => {
    const [r] = await enforcer().handle(sensorAlarm({ type: 'interface-down' }));
    expect(r).toMatchObject({ outcome: 'refused', reason: 'no-target' });
  });
});
