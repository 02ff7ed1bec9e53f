// Process actions stop the offender's FAMILY (docs/traffic.md#families): the offender and every descendant,
// except a protected descendant and everything under it; a protected offender is refused whatever its
// children do. Real process trees, each in a private pid namespace (test/support/pidns.ts) so that nothing
// here can touch a process it did not start, and the whole tree ends with the namespace.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/validate.ts';
import type { ActionRecord } from '../../src/enforce/actionModel.ts';
import { createEnforcer } from '../../src/enforce/createEnforcer.ts';
import type { Enforcer } from '../../src/enforce/enforcer.ts';
import type { ProcessBackend } from '../../src/enforce/processBackend.ts';
import type { ActionSpec, ViolationEvent } from '../../src/localrules/contracts.ts';
import { silentLogger } from '../../src/log.ts';
import { readProcStat } from '../../src/system/procfs.ts';
import { HELPERS } from '../support/childProcess.ts';
import { type PidNs, processTree, startInPidNs, type TreeProcess } from '../support/pidns.ts';
import { requires, root } from '../support/requirements.ts';
import { until } from '../support/until.ts';

interface Spec {
  title: string;
  ignoreTerm?: boolean;
  children?: Spec[];
}

const namespaces: PidNs[] = [];
const enforcers: Enforcer[] = [];
let stateDir: string;
let records: ActionRecord[];

beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'dedge-family-'));
  records = [];
});
afterEach(async () => {
  for (const e of enforcers.splice(0)) await e.stop();
  for (const ns of namespaces.splice(0)) await ns.stop(2000);
  rmSync(stateDir, { recursive: true, force: true });
});

/** A keeper as the namespace's PID 1 (a namespace init ignores SIGTERM it has no handler for), the tree under it. */
async function tree(root: Spec, titles: string[]): Promise<Map<string, TreeProcess>> {
  const ns = await startInPidNs([process.execPath, `${HELPERS}familyTree.ts`, JSON.stringify({ title: 'keeper', children: [root] })]);
  namespaces.push(ns);
  return until(
    () => {
      const byTitle = new Map(processTree(ns.init).map((p) => [p.comm, p]));
      return titles.every((t) => byTitle.has(t)) ? byTitle : undefined;
    },
    15_000,
    `the tree ${titles.join(', ')}`,
  );
}

function enforcer(): Enforcer {
  const e = createEnforcer({
    config: { ...defaultConfig().enforcement, mode: 'enforce', stopGraceMs: 500, protectedProcesses: ['sshd'] },
    stateDir,
    logger: silentLogger(),
    onAction: (r) => records.push(r),
  });
  enforcers.push(e);
  return e;
}

let seq = 0;
function alarm(p: TreeProcess, action: ActionSpec): ViolationEvent {
  return {
    violationId: `fam-${process.pid}-${++seq}`,
    thingName: 'gateway',
    behavior: 'bytesOut',
    metric: 'aws:all-bytes-out',
    event: 'in-alarm',
    value: { count: 20_000 },
    threshold: { count: 10_000 },
    comparisonOperator: 'less-than',
    t: Date.now(),
    offender: { kind: 'process', pid: p.pid, comm: p.comm, startTime: readProcStat(p.pid)!.startTime },
    action,
  };
}

const state = (pid: number) => readProcStat(pid)?.state ?? null;
const gone = (pid: number) => {
  const s = state(pid);
  return s === null || s === 'Z';
};

const FAMILY: Spec = {
  title: 'fam-root',
  children: [
    { title: 'fam-kid', children: [{ title: 'fam-grandkid', ignoreTerm: true }] },
    { title: 'fam-kid2' },
    { title: 'sshd', children: [{ title: 'fam-under-sshd' }] },
  ],
};
const TITLES = ['fam-root', 'fam-kid', 'fam-grandkid', 'fam-kid2', 'sshd', 'fam-under-sshd'];

describe('process actions act on the family', requires(root), () => {
  it('terminate: the offender and its descendants end (SIGKILL for one that ignores SIGTERM); a protected child and its subtree are spared', async () => {
    const t = await tree(FAMILY, TITLES);
    const e = enforcer();
    const [applied] = await e.handle(alarm(t.get('fam-root')!, { type: 'process-terminate' }));
    expect(applied).toMatchObject({ outcome: 'applied', type: 'process-terminate' });
    expect(applied!.detail).toMatch(/and 3 descendants \(.*fam-kid.*\)/);
    expect(applied!.detail).toMatch(/spared as protected: \d+ sshd/);
    await until(() => ['fam-root', 'fam-kid', 'fam-kid2', 'fam-grandkid'].every((n) => gone(t.get(n)!.pid)), 10_000, 'the family gone');
    await (e.backends.process as ProcessBackend).settled();
    for (const n of ['sshd', 'fam-under-sshd']) expect(state(t.get(n)!.pid), n).toMatch(/^[SR]$/);
  });

  it('suspend: every member stopped; alarm-cleared continues them all', async () => {
    const t = await tree(FAMILY, TITLES);
    const e = enforcer();
    const ev = alarm(t.get('fam-root')!, { type: 'process-suspend', revertOnClear: true });
    await e.handle(ev);
    const members = ['fam-root', 'fam-kid', 'fam-grandkid', 'fam-kid2'];
    for (const n of members) expect(state(t.get(n)!.pid), n).toBe('T');
    for (const n of ['sshd', 'fam-under-sshd']) expect(state(t.get(n)!.pid), n).toMatch(/^[SR]$/);
    const [reverted] = await e.handle({ ...ev, event: 'alarm-cleared', t: Date.now() });
    expect(reverted).toMatchObject({ outcome: 'reverted' });
    await until(() => members.every((n) => /^[SR]$/.test(state(t.get(n)!.pid) ?? '')), 10_000, 'the family running again');
  });

  it('a protected offender is refused, and its children are not acted on through it', async () => {
    const t = await tree({ title: 'sshd', children: [{ title: 'fam-session' }] }, ['sshd', 'fam-session']);
    const e = enforcer();
    const [r] = await e.handle(alarm(t.get('sshd')!, { type: 'process-terminate' }));
    expect(r).toMatchObject({ outcome: 'refused', reason: 'protected-process' });
    await new Promise((res) => setTimeout(res, 200));
    for (const n of ['sshd', 'fam-session']) expect(state(t.get(n)!.pid), n).toMatch(/^[SR]$/);
  });
});
