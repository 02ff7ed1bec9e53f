// Composition of the enforcement part: the one call the agent makes. Production uses the host
// namespace; tests pass `netns` so nft/ip act inside namespaces they created.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import type { ActionRecord } from './actionModel.ts';
import { AuditLog } from './auditLog.ts';
import { createCommandRunner } from './commandRunner.ts';
import { DryRunBackend } from './dryRunBackend.ts';
import { type EnforcementConfig, Enforcer } from './enforcer.ts';
import { createHostFacts } from './hostFacts.ts';
import { LinkBackend } from './linkBackend.ts';
import { startWatchdog } from './linkWatchdog.ts';
import { NftBackend } from './nftBackend.ts';
import { ProcessBackend } from './processBackend.ts';
import { findCgroup2Mount } from './procfs.ts';

export interface CreateEnforcerOptions {
  config: EnforcementConfig;
  /** the component's state directory; enforcement keeps `enforcement/active.json` and `enforcement/audit.jsonl` there */
  stateDir: string;
  logger: Logger;
  onAction?: (record: ActionRecord) => void;
  /** run nft/ip inside this network namespace (tests); absent = the agent's own namespace */
  netns?: string;
  now?: () => number;
  agentPid?: number;
  /** override cgroup2 mount discovery (null = no cgroup v2) */
  cgroupRoot?: string | null;
  auditMaxBytes?: number;
  commandTimeoutMs?: number;
  /** how often actions in force are read back from the kernel (default 10 s; 0: on demand only) */
  reconcileMs?: number;
}

/** This boot's id (proc(5) /proc/sys/kernel/random/boot_id); undefined where it cannot be read. */
export function readBootId(path = '/proc/sys/kernel/random/boot_id'): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function enforcementPaths(stateDir: string): { statePath: string; auditPath: string } {
  return { statePath: join(stateDir, 'enforcement', 'active.json'), auditPath: join(stateDir, 'enforcement', 'audit.jsonl') };
}

export function createEnforcer(options: CreateEnforcerOptions): Enforcer {
  const logger = options.logger.child({ module: 'enforce' });
  const runner = createCommandRunner({
    ...(options.netns === undefined ? {} : { netns: options.netns }),
    ...(options.commandTimeoutMs === undefined ? {} : { timeoutMs: options.commandTimeoutMs }),
  });
  const cgroupRoot = options.cgroupRoot === undefined ? findCgroup2Mount() : options.cgroupRoot;
  const { statePath, auditPath } = enforcementPaths(options.stateDir);
  let enforcer: Enforcer | undefined;
  const processBackend = new ProcessBackend({
    logger,
    stopGraceMs: options.config.stopGraceMs,
    cgroupRoot,
    onTerminateDone: (target, outcome) => enforcer?.terminateDone(target, outcome),
  });
  enforcer = new Enforcer({
    config: options.config,
    backends: {
      process: processBackend,
      nft: new NftBackend({ runner, table: options.config.nftTable, logger }),
      link: new LinkBackend({
        runner,
        logger,
        watchdog: (ifname, deadlineMs) => startWatchdog({ statePath, ifname, deadlineMs, netns: runner.netns }),
      }),
      dryRun: new DryRunBackend(logger),
    },
    hostFacts: createHostFacts(runner),
    statePath,
    audit: new AuditLog(auditPath, options.auditMaxBytes),
    logger,
    cgroupRoot,
    ...(options.onAction === undefined ? {} : { onAction: options.onAction }),
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.agentPid === undefined ? {} : { agentPid: options.agentPid }),
    ...(options.reconcileMs === undefined ? {} : { reconcileMs: options.reconcileMs }),
    ...optionalBootId(),
  });
  return enforcer;
}

function optionalBootId(): { bootId?: string } {
  const bootId = readBootId();
  return bootId === undefined ? {} : { bootId };
}
