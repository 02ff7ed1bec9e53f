// No hiding: crossing → stopped latency per rogue style, and what the per-process traffic costs, per mode
// (eBPF vs the sock_diag path, same run). Measured, never asserted. Needs root (BPF, namespaces).
//
// Stage (test/support/rogueStage.ts): the whole agent (`defender-edge run`, default configuration except
// one per-process behavior, bytes out < 10,000 per 300 s → process-terminate, and a 1 s heartbeat for the
// latency rounds; the default 60 s for the cost) in a
// private pid namespace, rogues beside it sending 2 KB every 100 ms (fork: a child per send every 150 ms)
// to a peer in another network namespace, an innocent neighbour all along.
//   latency   per style: stoppedAt − crossedAt, both on the ROGUE's own clock: crossedAt = the timestamp
//             of the send that brought its cumulative bytes (its children's included) to 10,000; stoppedAt
//             = when its SIGTERM handler ran. Rounds of the four styles at once; sockdiag mode: the
//             streamer only (the others are not caught in that mode, docs/traffic.md#coverage).
//   cost      the agent and its helper, idle but for 2,000 open sockets in the namespace, over a window:
//             utime+stime from /proc (10 ms ticks) → % of one core, and per sample (1 s sampling; eBPF
//             mode also polls every 100 ms).
import { readFileSync } from 'node:fs';
import { HELPERS } from '../test/support/childProcess.ts';
import { childrenOf } from '../test/support/pidns.ts';
import { type Rogue, type RogueStyle, type Stage, startStage } from '../test/support/rogueStage.ts';
import { until } from '../test/support/until.ts';
import type { BenchSuite } from './run.ts';
import { percentile, round } from './stats.ts';

const ROUNDS = Number(process.env.NOHIDE_ROUNDS ?? 10);
const COST_WINDOW_MS = 15_000;
const SOCKETS = 2000;
const TICK_MS = 10;

const dist = (xs: number[]) =>
  xs.length === 0
    ? { n: 0 }
    : { n: xs.length, p50: round(percentile(xs, 50), 1), p99: round(percentile(xs, 99), 1), max: round(Math.max(...xs), 1) };

function cpuMs(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[14 - 3]) + Number(f[15 - 3])) * TICK_MS;
}

const comm = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};
const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
};

/** host pids of the agent (the keeper's child running `run`) and of its dedge-sockdiag helper */
function agentPids(stage: Stage): { agent: number; helper: number | undefined } {
  const agent = childrenOf(stage.keeper.init).find((p) => cmdline(p).includes('\0run\0'))!;
  return { agent, helper: childrenOf(agent).find((p) => comm(p) === 'dedge-sockdiag') };
}

/** The default configuration's cost: a stage with the 60 s heartbeat, idle but for the sockets. */
async function cost(ebpf: boolean): Promise<Record<string, unknown>> {
  const stage = await startStage({ ebpf, heartbeatSeconds: 60 });
  try {
    return await measureCost(stage);
  } finally {
    await stage.stop();
  }
}

async function measureCost(stage: Stage): Promise<Record<string, unknown>> {
  await stage.run([process.execPath, `${HELPERS}socketHolder.ts`, String(SOCKETS)], { keepStdin: true });
  // let the agent attribute the new sockets (a full /proc walk, once) before measuring
  await new Promise((r) => setTimeout(r, 3000));
  const { agent, helper } = await until(
    () => {
      const p = agentPids(stage);
      return p.helper !== undefined ? p : undefined;
    },
    10_000,
    'the agent and its helper',
  );
  const a0 = cpuMs(agent);
  const h0 = cpuMs(helper!);
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, COST_WINDOW_MS));
  const agentMs = cpuMs(agent) - a0;
  const helperMs = cpuMs(helper!) - h0;
  const elapsed = Date.now() - t0;
  const samples = Math.max(1, Math.round(elapsed / 1000)); // 1 s sampling
  return {
    sockets: SOCKETS,
    windowMs: elapsed,
    samples,
    agentPercentOfCore: round((100 * agentMs) / elapsed, 2),
    helperPercentOfCore: round((100 * helperMs) / elapsed, 2),
    totalPercentOfCore: round((100 * (agentMs + helperMs)) / elapsed, 2),
    cpuMsPerSample: round((agentMs + helperMs) / samples, 2),
    note: 'whole-process CPU over the window (10 ms ticks): sampling, polling (eBPF), evaluation, heartbeat and IPC',
  };
}

async function latencyRounds(stage: Stage, styles: readonly RogueStyle[], timeoutMs: number): Promise<Record<string, unknown>> {
  const by = new Map<string, number[]>(styles.map((s) => [s, []]));
  const missed = new Map<string, number>(styles.map((s) => [s, 0]));
  const unmeasured = new Map<string, number>(styles.map((s) => [s, 0]));
  for (let round = 0; round < ROUNDS; round++) {
    const rogues: Rogue[] = [];
    for (const style of styles) rogues.push(await stage.rogue(style, style === 'fork' ? { intervalMs: 150 } : {}));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && rogues.some((r) => r.exitedAt === undefined)) await new Promise((r) => setTimeout(r, 50));
    for (const r of rogues) {
      const crossed = r.crossedAt();
      const stopped = r.stoppedAt();
      if (r.exitedAt === undefined) missed.set(r.style, missed.get(r.style)! + 1);
      else if (crossed === undefined || stopped === undefined) unmeasured.set(r.style, unmeasured.get(r.style)! + 1);
      else by.get(r.style)!.push(stopped - crossed);
    }
  }
  const out: Record<string, unknown> = {};
  // notStopped: still running at the deadline; unmeasured: stopped, but a line it never got to print is missing
  for (const s of styles) out[s] = { ...dist(by.get(s)!), notStopped: missed.get(s), unmeasured: unmeasured.get(s) };
  out.all = dist([...by.values()].flat());
  return out;
}

export const suite: BenchSuite = {
  name: 'nohide',
  run: async () => {
    if (process.getuid?.() !== 0) return { skipped: 'needs root (BPF programs, network and pid namespaces)' };
    const out: Record<string, unknown> = { rounds: ROUNDS, threshold: 'bytes out ≥ 10,000 per 300 s', targetP99Ms: 300 };
    for (const mode of ['ebpf', 'sockdiag'] as const) {
      const stage = await startStage({ ebpf: mode === 'ebpf' });
      try {
        const traffic = stage.health()?.traffic as { mode?: string; reason?: string } | undefined;
        if (mode === 'ebpf' && traffic?.mode !== 'ebpf') {
          out.ebpf = { skipped: `eBPF unavailable: ${traffic?.reason ?? 'unknown'}` };
          continue;
        }
        await stage.rogue('innocent', { bytes: 100, intervalMs: 1000 });
        const latencyMs =
          mode === 'ebpf'
            ? await latencyRounds(stage, ['stream', 'reconnect', 'udp', 'fork'], 15_000)
            : await latencyRounds(stage, ['stream'], 15_000);
        out[mode] = { mode: traffic?.mode, reason: traffic?.reason, latencyMs };
      } finally {
        await stage.stop();
      }
      (out[mode] as Record<string, unknown>).cost = await cost(mode === 'ebpf');
    }
    return out;
  },
};
