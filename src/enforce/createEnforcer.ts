// Composition of the enforcement part: the one call the agent makes, and the one place that builds the
// backends. Production runs nft/ip in the host namespace; tests pass a runner bound to a namespace they
// created.
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { type CommandRunner, createCommandRunner } from '../system/commandRunner.ts';
import { findCgroup2Mount, readAncestry, readBootId } from '../system/procfs.ts';
import type { ActionRecord } from './actionModel.ts';
import { AuditLog } from './auditLog.ts';
import { DryRunBackend } from './dryRunBackend.ts';
import { type EnforcementConfig, Enforcer } from './enforcer.ts';
import { createHostFacts } from './hostFacts.ts';
import { LinkBackend } from './linkBackend.ts';
import { startWatchdog } from './linkWatchdog.ts';
import { NftBackend } from './nftBackend.ts';
import { ProcessBackend } from './processBackend.ts';
import { checkProtectedProcess } from './rails.ts';

export interface CreateEnforcerOptions {
  config: EnforcementConfig;
  /** the component's state directory; enforcement keeps `enforcement/active.json` and `enforcement/audit.jsonl` there */
  stateDir: string;
  logger: Logger;
  onAction?: (record: ActionRecord) => void;
  /** runs nft/ip; its namespace is the one acted in (tests: one they created). Default: this namespace */
  runner?: CommandRunner;
  now?: () => number;
  agentPid?: number;
  /** override cgroup2 mount discovery (null = no cgroup v2) */
  cgroupRoot?: string | null;
  auditMaxBytes?: number;
  /** how often actions in force are read back from the kernel (default 10 s; 0: on demand only) */
  reconcileMs?: number;
}

export function enforcementPaths(stateDir: string): { statePath: string; auditPath: string } {
  return { statePath: join(stateDir, 'enforcement', 'active.json'), auditPath: join(stateDir, 'enforcement', 'audit.jsonl') };
}

export function createEnforcer(options: CreateEnforcerOptions): Enforcer {
  const logger = options.logger.child({ module: 'enforce' });
  const runner = options.runner ?? createCommandRunner();
  const cgroupRoot = options.cgroupRoot === undefined ? findCgroup2Mount() : options.cgroupRoot;
  const { statePath, auditPath } = enforcementPaths(options.stateDir);
  let enforcer: Enforcer | undefined;
  // An offender's descendants are acted on with it unless a rail protects them (processFamily.ts).
  const agentPid = options.agentPid ?? process.pid;
  const rails = {
    agentPid,
    agentAncestors: new Set(
      readAncestry(agentPid)
        .slice(1)
        .map((p) => p.pid),
    ),
    protectedProcesses: new Set(options.config.protectedProcesses),
  };
  const processBackend = new ProcessBackend({
    logger,
    stopGraceMs: options.config.stopGraceMs,
    cgroupRoot,
    mayActOn: (info) => checkProtectedProcess(info, rails) === null,
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
      'dry-run': new DryRunBackend(logger),
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
