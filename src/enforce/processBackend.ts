// Process actions: SIGSTOP/SIGCONT, SIGTERM then SIGKILL after a grace period, cgroup v2 freeze.
// Signals go out first and are logged after (the rogue scenario wants the process stopped within ~1 s
// of detection). Every signal re-checks the pid's start time right before kill(2): no pid-reuse victims.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { hasExited, readCgroupFrozen, readProcStat } from '../system/procfs.ts';
import type { ActionTarget, ApplyRequest, BackendMetrics, EnforcementBackend, ReadBack } from './actionModel.ts';
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
}

export class ProcessBackend implements EnforcementBackend {
  readonly name = 'process' as const;
  readonly #o: ProcessBackendOptions;
  readonly #counters: BackendMetrics = { applied: 0, reverted: 0, failed: 0 };
  /** pending SIGKILL follow-ups of process-terminate */
  readonly #pendingKills = new Set<{ target: ProcessTarget; timer: NodeJS.Timeout; finish: () => void; done: Promise<void> }>();

  constructor(options: ProcessBackendOptions) {
    this.#o = options;
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
        case 'process-suspend':
          this.#signal(t, 'SIGSTOP');
          detail = `SIGSTOP sent to pid ${t.pid}`;
          break;
        case 'process-terminate':
          this.#signal(t, 'SIGTERM');
          this.#scheduleKill(t);
          detail = `SIGTERM sent to pid ${t.pid}; SIGKILL after ${this.#o.stopGraceMs} ms if still running`;
          break;
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
            this.#signal(t, 'SIGCONT');
            detail = `SIGCONT sent to pid ${t.pid}`;
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

  #scheduleKill(t: ProcessTarget): void {
    const pollMs = this.#o.pollMs ?? 50;
    const deadline = Date.now() + this.#o.stopGraceMs;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const entry = { target: t, timer: undefined as unknown as NodeJS.Timeout, finish, done };
    const tick = (): void => {
      if (hasExited(t.pid, t.startTime, this.#o.procRoot)) {
        this.#o.onTerminateDone?.(t, 'exited');
        return end();
      }
      if (Date.now() < deadline) {
        entry.timer = setTimeout(tick, pollMs);
        return;
      }
      this.#kill(t);
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
      if (!hasExited(p.target.pid, p.target.startTime, this.#o.procRoot)) this.#kill(p.target);
      p.finish();
    }
  }

  metrics(): BackendMetrics {
    return { ...this.#counters };
  }
}
