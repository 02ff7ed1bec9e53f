// Process actions: SIGSTOP/SIGCONT, SIGTERM then SIGKILL after a grace period, cgroup v2 freeze.
// Signals go out first and are logged after (the rogue scenario wants the process stopped within ~1 s
// of detection). Every signal re-checks the pid's start time right before kill(2): no pid-reuse victims.
// Suspend and terminate act on the offender's FAMILY (processFamily.ts): the offender is stopped first
// (it can fork no more), then its descendants, round after round until none is left running; terminate
// then sends SIGTERM and SIGCONT to all of them and SIGKILL after the grace period to what is left.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { hasExited, type ProcessInfo, readCgroupFrozen, readProcStat } from '../system/procfs.ts';
import type { ActionTarget, ApplyRequest, BackendMetrics, EnforcementBackend, ReadBack } from './actionModel.ts';
import { type FamilyMember, familyOf } from './processFamily.ts';
import { validatePid } from './targetValidation.ts';

export class ProcessIdentityError extends Error {
  override name = 'ProcessIdentityError';
  readonly code: 'process-gone' | 'pid-reused';
  constructor(code: 'process-gone' | 'pid-reused', message: string) {
    super(message);
    this.code = code;
  }
}

type ProcessTarget = Extract<ActionTarget, { kind: 'process' }>;

export interface ProcessBackendOptions {
  logger: Logger;
  stopGraceMs: number;
  /** where cgroup2 is mounted; null = no cgroup v2 (process-freeze then fails clearly) */
  cgroupRoot: string | null;
  /** process-terminate finished: the process exited after SIGTERM, or ignored it for the grace period and got SIGKILL */
  onTerminateDone?: (target: ProcessTarget, outcome: 'exited' | 'killed') => void;
  procRoot?: string;
  /** poll period while waiting for a terminated process to exit */
  pollMs?: number;
  /**
   * May this descendant of an offender be acted on with it? (createEnforcer: the rails' checkProtectedProcess;
   * default: anything but PID 1 and this process). A refused descendant is spared with its whole subtree.
   */
  mayActOn?: (info: ProcessInfo) => boolean;
}

/** How many times the family is gathered again for children forked while it was being stopped. */
const FAMILY_ROUNDS = 5;

function describeFamily(members: readonly FamilyMember[], spared: readonly FamilyMember[]): string {
  const list = (xs: readonly FamilyMember[]) =>
    xs
      .slice(0, 8)
      .map((m) => `${m.pid} ${m.comm}`)
      .join(', ') + (xs.length > 8 ? `, … ${xs.length - 8} more` : '');
  let text = members.length === 0 ? '' : ` and ${members.length} descendant${members.length === 1 ? '' : 's'} (${list(members)})`;
  if (spared.length > 0) text += `; spared as protected: ${list(spared)}`;
  return text;
}

export class ProcessBackend implements EnforcementBackend {
  readonly name = 'process' as const;
  readonly #o: ProcessBackendOptions;
  readonly #counters: BackendMetrics = { applied: 0, reverted: 0, failed: 0 };
  /** pending SIGKILL follow-ups of process-terminate (the offender and its family) */
  readonly #pendingKills = new Set<{
    target: ProcessTarget;
    members: FamilyMember[];
    timer: NodeJS.Timeout;
    finish: () => void;
    done: Promise<void>;
  }>();
  readonly #mayActOn: (info: ProcessInfo) => boolean;

  constructor(options: ProcessBackendOptions) {
    this.#o = options;
    this.#mayActOn = options.mayActOn ?? ((info) => info.pid !== 1 && info.pid !== process.pid);
  }

  /** Signals a family member if it is still the process we found (start time); false when it is gone. */
  #signalMember(m: FamilyMember, signal: NodeJS.Signals): boolean {
    const stat = readProcStat(m.pid, this.#o.procRoot);
    if (stat === undefined || stat.startTime !== m.startTime || stat.state === 'Z' || m.pid === 1 || m.pid === process.pid) return false;
    try {
      process.kill(m.pid, signal);
      return true;
    } catch {
      return false; // exited in between
    }
  }

  /**
   * SIGSTOP every descendant the rails allow, gathering again until a round finds none new (a child
   * forked by a member that was still running is caught by the next round). The offender itself must
   * already be stopped.
   */
  #stopFamily(t: ProcessTarget): { members: FamilyMember[]; spared: FamilyMember[] } {
    const stopped = new Map<number, FamilyMember>();
    let spared: FamilyMember[] = [];
    for (let round = 0; round < FAMILY_ROUNDS; round++) {
      const family = familyOf(t.pid, this.#mayActOn, this.#o.procRoot);
      spared = family.spared;
      const fresh = family.members.filter((m) => !stopped.has(m.pid));
      if (fresh.length === 0) break;
      for (const m of fresh) if (this.#signalMember(m, 'SIGSTOP')) stopped.set(m.pid, m);
    }
    return { members: [...stopped.values()], spared };
  }

  /** Throws unless the pid still names the process we decided on. Cheap (one /proc read). */
  #verify(t: ProcessTarget): void {
    const pid = validatePid(t.pid, 'target.pid');
    // Defence in depth: the rails refuse these long before, but a backend must never be the one that
    // stops init or the agent, whatever its caller did.
    if (pid === 1 || pid === process.pid) throw new ProcessIdentityError('pid-reused', `refusing to signal pid ${pid}`);
    const stat = readProcStat(pid, this.#o.procRoot);
    if (stat === undefined || stat.state === 'Z' || stat.state === 'X')
      throw new ProcessIdentityError('process-gone', `pid ${pid} no longer exists`);
    if (stat.startTime !== t.startTime)
      throw new ProcessIdentityError('pid-reused', `pid ${pid} was reused (start ${stat.startTime} ≠ ${t.startTime})`);
  }

  #signal(t: ProcessTarget, signal: NodeJS.Signals): void {
    this.#verify(t);
    process.kill(t.pid, signal);
  }

  #freezeFile(t: ProcessTarget): string {
    if (this.#o.cgroupRoot === null) throw new Error('process-freeze: no cgroup v2 mount found');
    if (t.cgroup === undefined || t.cgroup === '/' || t.cgroup.split('/').includes('..'))
      throw new Error(`process-freeze: unusable cgroup ${JSON.stringify(t.cgroup)}`);
    return join(this.#o.cgroupRoot, t.cgroup, 'cgroup.freeze');
  }

  async apply(req: ApplyRequest): Promise<string> {
    const t = req.target;
    if (t.kind !== 'process') throw new Error(`process backend cannot apply ${req.type} to a ${t.kind} target`);
    try {
      let detail: string;
      switch (req.type) {
        case 'process-suspend': {
          this.#signal(t, 'SIGSTOP');
          const family = this.#stopFamily(t);
          detail = `SIGSTOP sent to pid ${t.pid}${describeFamily(family.members, family.spared)}`;
          break;
        }
        case 'process-terminate': {
          // Stopped first, all of them: nobody forks a replacement while the family is being ended.
          this.#signal(t, 'SIGSTOP');
          const family = this.#stopFamily(t);
          const all: FamilyMember[] = [{ pid: t.pid, startTime: t.startTime, comm: t.comm }, ...family.members];
          for (const m of all) this.#signalMember(m, 'SIGTERM');
          // A stopped process acts on SIGTERM (its handler, or the default exit) once continued.
          for (const m of all) this.#signalMember(m, 'SIGCONT');
          this.#scheduleKill(t, family.members);
          detail =
            `SIGTERM sent to pid ${t.pid}${describeFamily(family.members, family.spared)}; ` +
            `SIGKILL after ${this.#o.stopGraceMs} ms if still running`;
          break;
        }
        case 'process-freeze': {
          this.#verify(t);
          writeFileSync(this.#freezeFile(t), '1');
          detail = `cgroup ${t.cgroup} frozen`;
          break;
        }
        default:
          throw new Error(`process backend cannot apply ${req.type}`);
      }
      this.#counters.applied++;
      this.#o.logger.info({ action: req.type, pid: t.pid, comm: t.comm }, detail);
      return detail;
    } catch (err) {
      this.#counters.failed++;
      throw err;
    }
  }

  async revert(req: ApplyRequest): Promise<string> {
    const t = req.target;
    if (t.kind !== 'process') throw new Error(`process backend cannot revert ${req.type} on a ${t.kind} target`);
    try {
      let detail: string;
      switch (req.type) {
        case 'process-suspend':
          try {
            // Its family first: stopped processes cannot exit or be reparented, so they are still its descendants.
            const family = familyOf(t.pid, this.#mayActOn, this.#o.procRoot);
            this.#signal(t, 'SIGCONT');
            for (const m of family.members) this.#signalMember(m, 'SIGCONT');
            detail = `SIGCONT sent to pid ${t.pid}${describeFamily(family.members, [])}`;
          } catch (err) {
            // The offender is gone (or its pid belongs to someone else now): nothing left to continue.
            if (err instanceof ProcessIdentityError) detail = `nothing to continue: ${err.message}`;
            else throw err;
          }
          break;
        case 'process-freeze': {
          const file = this.#freezeFile(t);
          // A removed cgroup thaws nothing; the processes left with it.
          if (existsSync(file)) {
            writeFileSync(file, '0');
            detail = `cgroup ${t.cgroup} thawed`;
          } else detail = `cgroup ${t.cgroup} no longer exists`;
          break;
        }
        case 'process-terminate':
          detail = 'a terminated process cannot be restored';
          break;
        default:
          throw new Error(`process backend cannot revert ${req.type}`);
      }
      this.#counters.reverted++;
      this.#o.logger.info({ action: req.type, pid: t.pid }, detail);
      return detail;
    } catch (err) {
      this.#counters.failed++;
      throw err;
    }
  }

  #scheduleKill(t: ProcessTarget, members: FamilyMember[]): void {
    const pollMs = this.#o.pollMs ?? 50;
    const deadline = Date.now() + this.#o.stopGraceMs;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const entry = { target: t, members, timer: undefined as unknown as NodeJS.Timeout, finish, done };
    const tick = (): void => {
      const rootGone = hasExited(t.pid, t.startTime, this.#o.procRoot);
      const left = members.filter((m) => !hasExited(m.pid, m.startTime, this.#o.procRoot));
      if (rootGone && left.length === 0) {
        this.#o.onTerminateDone?.(t, 'exited');
        return end();
      }
      if (Date.now() < deadline) {
        entry.timer = setTimeout(tick, pollMs);
        return;
      }
      for (const m of left) this.#signalMember(m, 'SIGKILL');
      if (rootGone) this.#o.onTerminateDone?.(t, 'exited');
      else this.#kill(t);
      end();
    };
    const end = (): void => {
      this.#pendingKills.delete(entry);
      finish();
    };
    entry.timer = setTimeout(tick, Math.min(pollMs, this.#o.stopGraceMs));
    this.#pendingKills.add(entry);
  }

  #kill(t: ProcessTarget): void {
    try {
      this.#signal(t, 'SIGKILL');
      this.#o.logger.warn({ pid: t.pid, comm: t.comm, graceMs: this.#o.stopGraceMs }, 'process ignored SIGTERM: SIGKILL sent');
      this.#o.onTerminateDone?.(t, 'killed');
    } catch (err) {
      // exited on its own between the check and the signal: nothing to kill
      if (!(err instanceof ProcessIdentityError)) this.#o.logger.error({ err, pid: t.pid }, 'SIGKILL failed');
      this.#o.onTerminateDone?.(t, 'exited');
    }
  }

  /** What /proc (and the cgroup's cgroup.events) shows for the action now. */
  #observe(type: ApplyRequest['type'], t: ProcessTarget): Omit<ReadBack, 'at'> {
    const stat = readProcStat(t.pid, this.#o.procRoot);
    const gone = stat === undefined || stat.startTime !== t.startTime || stat.state === 'Z' || stat.state === 'X';
    const who = `pid ${t.pid} (${t.comm})`;
    switch (type) {
      case 'process-terminate':
        return gone
          ? { state: 'in-force', observed: `${who} is gone` }
          : { state: 'pending', observed: `${who} still running (state ${stat.state}) after SIGTERM` };
      case 'process-suspend':
        if (gone) return { state: 'target-gone', observed: `${who} is gone` };
        // T: stopped by a signal; t: stopped while traced (proc(5)) — either way it does not run.
        return stat.state === 'T' || stat.state === 't'
          ? { state: 'in-force', observed: `${who} stopped (state ${stat.state})` }
          : { state: 'not-in-force', observed: `${who} is running (state ${stat.state})` };
      case 'process-freeze': {
        const frozen = readCgroupFrozen(join(this.#freezeFile(t), '..'));
        if (frozen === undefined) return { state: 'target-gone', observed: `cgroup ${t.cgroup} no longer exists` };
        return frozen
          ? { state: 'in-force', observed: `cgroup ${t.cgroup} frozen` }
          : { state: 'not-in-force', observed: `cgroup ${t.cgroup} not frozen` };
      }
      default:
        throw new Error(`process backend cannot read back ${type}`);
    }
  }

  async readBack(req: ApplyRequest, settleMs = 0): Promise<ReadBack> {
    const t = req.target;
    if (t.kind !== 'process') throw new Error(`process backend cannot read back ${req.type} on a ${t.kind} target`);
    const deadline = Date.now() + settleMs;
    for (;;) {
      const r = this.#observe(req.type, t);
      // A stop or a freeze lands when the target is next scheduled: wait for it up to settleMs.
      if ((r.state !== 'not-in-force' && r.state !== 'pending') || Date.now() >= deadline) return { ...r, at: Date.now() };
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Resolves when every pending SIGTERM→SIGKILL follow-up has finished (tests, benchmarks, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.#pendingKills].map((p) => p.done));
  }

  /**
   * Decision: a pending SIGKILL is carried out at once on shutdown (the operator asked for the process
   * to end; leaving it running because we stop would be the surprise). Suspended/frozen processes stay
   * so — the persisted state restores their timers on the next start.
   */
  async shutdown(): Promise<void> {
    const pending = [...this.#pendingKills];
    this.#pendingKills.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      for (const m of p.members) this.#signalMember(m, 'SIGKILL');
      if (!hasExited(p.target.pid, p.target.startTime, this.#o.procRoot)) this.#kill(p.target);
      p.finish();
    }
  }

  metrics(): BackendMetrics {
    return { ...this.#counters };
  }
}
