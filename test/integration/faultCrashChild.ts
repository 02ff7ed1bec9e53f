// Child program for faultCrash.test.ts (not a test file): on start it RECOVERS every persisted store the
// agent has (outbox, last-good configuration, per-thing threshold state, active enforcement actions,
// report_id counter) exactly as the agent does, checks what it finds against its own progress log of
// the previous runs, prints one JSON verdict line, then hammers all stores at once until it is SIGKILLed.
//
// Progress lines are appended (O_APPEND) only AFTER an operation returned, so a line means "this was
// durable as far as the process can know": a kill between the operation and its line only makes the
// check weaker, never wrong. A torn last line (killed mid-append) is ignored.
//   usage: node faultCrashChild.ts <dir>
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LastGoodConfigStore } from '../../src/config/lastGoodStore.ts';
import { type EnforcementState, loadEnforcementState, saveEnforcementState } from '../../src/enforce/activeStore.ts';
import { Outbox } from '../../src/ipc/outbox.ts';
import { silentLogger } from '../../src/log.ts';
import { ReportIdStore } from '../../src/report/reportIdStore.ts';
import { KeyedJsonStore } from '../../src/store/keyedJsonStore.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: faultCrashChild.ts <dir>');
const progressPath = join(dir, 'progress.log');
const deliveredPath = join(dir, 'delivered.log');

function lines(path: string): string[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const all = text.split('\n');
  all.pop(); // '' after the last newline, or a torn line without one
  return all;
}

const problems: string[] = [];
const progress = lines(progressPath).map((l) => l.split(' '));
const last = (kind: string): number => progress.filter((p) => p[0] === kind).reduce((m, p) => Math.max(m, Number(p[1])), 0);

// 1. Outbox: everything enqueued is delivered already or still queued, in order.
const recovered: number[] = [];
const outbox = new Outbox({
  dir: join(dir, 'outbox'),
  maxEntries: 1_000_000,
  maxBytes: 1 << 30,
  logger: silentLogger(),
  publish: async (_topic, payload) => {
    appendFileSync(deliveredPath, `${payload.toString('utf8')}\n`);
  },
});
{
  // Peek at what recovery finds before the pump starts delivering it.
  const { DiskQueue } = await import('../../src/store/diskQueue.ts');
  const q = new DiskQueue<{ payload: string }>({ dir: join(dir, 'outbox'), maxEntries: 1_000_000, maxBytes: 1 << 30 });
  const info = q.open();
  if (info.corruptLines > 0 || info.cursorProblem)
    problems.push(`outbox: recovery found ${info.corruptLines} corrupt lines, cursor ${info.cursorProblem ?? 'ok'}`);
  for (const e of q.peek(1_000_000)) recovered.push(Number(e.value.payload));
  // No close(): close() syncs, and this look must not change what the real recovery below sees.
}
for (let i = 1; i < recovered.length; i++)
  if (recovered[i]! <= recovered[i - 1]!) {
    problems.push(`outbox: recovered out of order at ${i}`);
    break;
  }
const delivered = new Set(lines(deliveredPath).map(Number));
const queued = new Set(recovered);
const enqueued = progress.filter((p) => p[0] === 'q').map((p) => Number(p[1]));
const lost = enqueued.filter((n) => !delivered.has(n) && !queued.has(n));
if (lost.length > 0) problems.push(`outbox: ${lost.length} acknowledged messages lost (first ${lost[0]})`);

// 2. Last good configuration: once saved, always loadable, never older than the last save that returned.
// Schema only (no module checks): the store's write/recover path is what is tested, and the module checks
// would double this program's start time.
const lastGood = new LastGoodConfigStore(join(dir, 'last-good-config.json'));
const lg = lastGood.load();
const lastSaved = last('c');
if (lastSaved > 0 && (lg.kind !== 'ok' || lg.savedAt < lastSaved))
  problems.push(`last-good: ${lg.kind} ${lg.kind === 'ok' ? lg.savedAt : ''} after save ${lastSaved}`);

// 3. Threshold state per thing (KeyedJsonStore without fsync, as ThresholdCache uses it).
const things = new KeyedJsonStore<{ n: number }>(
  join(dir, 'thresholds'),
  (v) => (typeof (v as { n?: unknown }).n === 'number' ? null : 'n: must be a number'),
  { fsync: false },
);
const lastPerThing = new Map<string, number>();
for (const p of progress) if (p[0] === 'k') lastPerThing.set(p[1]!, Math.max(lastPerThing.get(p[1]!) ?? 0, Number(p[2])));
for (const [key, n] of lastPerThing) {
  const g = things.get(key);
  if (g.kind !== 'ok' || g.value.n < n) problems.push(`thresholds: ${key} is ${g.kind === 'ok' ? g.value.n : g.kind} after write ${n}`);
}

// 4. Active enforcement actions and offence counts.
const statePath = join(dir, 'enforcement', 'active.json');
const loaded = loadEnforcementState(statePath);
if (loaded.errors.length > 0) problems.push(`enforcement: ${loaded.errors.join('; ')}`);
const lastAction = last('a');
const count = loaded.state.offences.torture?.count ?? 0;
if (count < lastAction) problems.push(`enforcement: offence count ${count} after save ${lastAction}`);
if (loaded.state.actions.length !== Math.min(count, 20) && lastAction > 0)
  problems.push(`enforcement: ${loaded.state.actions.length} actions for count ${count}`);

// 5. report_id: never again an id that was handed out.
const ids = new ReportIdStore({ path: join(dir, 'report-ids.json'), nowMs: 1_000 });
if (ids.recovered.kind === 'corrupt') problems.push(`report ids: ${ids.recovered.error}`);
const maxId = last('r');

// No quarantined state files at all: a kill must never leave a half-written file behind.
const quarantined = readdirSync(dir, { recursive: true })
  .map(String)
  .filter((f) => f.includes('.corrupt-'));
if (quarantined.length > 0) problems.push(`quarantined files: ${quarantined.join(', ')}`);

// Load: from here on, everything at once, until killed. The clock steps back now and then.
let clock = 1_000 + Math.floor(Math.random() * 1000);
const firstId = ids.next(clock);
if (firstId <= maxId) problems.push(`report ids: ${firstId} after ${maxId} was issued`);
appendFileSync(progressPath, `r ${firstId}\n`);
process.stdout.write(
  `${JSON.stringify({ ready: true, problems, recovered: recovered.length, delivered: delivered.size, enqueued: enqueued.length })}\n`,
);

outbox.start();
let n = Math.max(0, ...enqueued, ...recovered, ...delivered);
let c = lastSaved;
let a = lastAction;
const action = (i: number) => ({
  id: `act-${i}`,
  type: 'address-block' as const,
  target: { kind: 'addresses' as const, addresses: [`192.0.2.${1 + (i % 250)}`] },
  backend: 'dry-run' as const,
  appliedAt: i,
  expiresAt: i + 60_000,
  escalationLevel: 0,
  revertOnClear: false,
  offenceKey: 'torture',
  violation: {
    violationId: `v-${i}`,
    thingName: 'Dev1',
    behavior: 'b',
    metric: 'm',
    event: 'in-alarm' as const,
    t: i,
    offender: { kind: 'device' as const, thingName: 'Dev1', addresses: [] },
  },
});
function step(): void {
  for (let i = 0; i < 20; i++) {
    n++;
    outbox.enqueue({ kind: 'report', topic: 't', payload: String(n), encoding: 'utf8' });
    appendFileSync(progressPath, `q ${n}\n`);
  }
  c = Math.max(c + 1, Date.now());
  lastGood.saveIfValid({ sampling: { intervalMs: 100 + (c % 1000) } }, c);
  appendFileSync(progressPath, `c ${c}\n`);
  const key = `thing-${n % 37}`;
  things.put(key, { n });
  appendFileSync(progressPath, `k ${key} ${n}\n`);
  a++;
  const state: EnforcementState = {
    version: 1,
    actions: Array.from({ length: Math.min(a, 20) }, (_, i) => action(a - i)),
    offences: { torture: { count: a, lastAt: a } },
  };
  saveEnforcementState(statePath, state);
  appendFileSync(progressPath, `a ${a}\n`);
  clock += Math.random() < 0.1 ? -5_000 : 1;
  const id = ids.next(clock);
  appendFileSync(progressPath, `r ${id}\n`);
  setImmediate(step);
}
step();
