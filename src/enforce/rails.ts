// The safety rails (README "Privileges and safety rails"): pure verdicts over facts read elsewhere. Each returns null (go) or
// a Refusal with a stable code. Checked before every apply and again on restore after a restart.

import type { ProcessInfo } from '../system/procfs.ts';
import type { Refusal } from './actionModel.ts';
import { cidrContains, type ParsedAddress, type ParsedCidr } from './targetValidation.ts';

export interface ProcessRailContext {
  agentPid: number;
  /**
   * The agent's ancestors. Decision: refused like the agent itself — when we run as a component our
   * parent chain is the nucleus's shell runner and the nucleus; stopping any of them stops us too.
   */
  agentAncestors: ReadonlySet<number>;
  /** matched against comm and against the basename of exe (comm is cut to 15 characters) */
  protectedProcesses: ReadonlySet<string>;
}

// Greengrass nucleus detection (decision, documented in the enforce README section of the report):
// - Java nucleus: `java … -jar <root>/alts/current/distro/lib/Greengrass.jar` (main class in
//   com.aws.greengrass) — matched on the command line.
// - Nucleus lite: a set of daemons (aws-greengrass-lite docs/design: gghealthd, ggconfigd, ggdeploymentd,
//   ggipcd, ggpubsubd, iotcored, gg-fleet-statusd; plus tesd, tes-serverd, recipe-runner) — matched on comm.
// - Anything whose comm or exe basename starts with `greengrass` (loader scripts, service wrappers).
// A component's own process merely living under /greengrass/v2/packages is NOT the nucleus: a rogue
// component must stay stoppable.
const NUCLEUS_LITE = new Set([
  'gghealthd',
  'ggconfigd',
  'ggdeploymentd',
  'ggipcd',
  'ggpubsubd',
  'iotcored',
  'gg-fleet-status',
  'gg-fleet-statusd',
  'tesd',
  'tes-serverd',
  'recipe-runner',
]);

export function isGreengrassNucleus(info: Pick<ProcessInfo, 'comm' | 'exe' | 'cmdline'>): boolean {
  if (/Greengrass\.jar|com\.aws\.greengrass\./.test(info.cmdline)) return true;
  if (NUCLEUS_LITE.has(info.comm)) return true;
  const exeBase = info.exe === undefined ? '' : info.exe.slice(info.exe.lastIndexOf('/') + 1);
  return /^greengrass/i.test(info.comm) || /^greengrass/i.test(exeBase);
}

function exeBasename(info: ProcessInfo): string | undefined {
  if (info.exe === undefined) return undefined;
  // a replaced binary reads as "/usr/bin/x (deleted)"
  const exe = info.exe.endsWith(' (deleted)') ? info.exe.slice(0, -10) : info.exe;
  return exe.slice(exe.lastIndexOf('/') + 1);
}

/** Rails that hold for any process we would touch, whatever the action. */
export function checkProtectedProcess(info: ProcessInfo, ctx: ProcessRailContext): Refusal | null {
  if (info.pid === 1) return { code: 'pid-1', detail: 'never acts on PID 1 (init)' };
  if (info.pid === ctx.agentPid) return { code: 'self', detail: 'never acts on the agent itself' };
  if (info.kernelThread || info.pid === 2 || info.ppid === 2)
    return { code: 'kernel-thread', detail: `pid ${info.pid} is a kernel thread` };
  if (ctx.agentAncestors.has(info.pid))
    return { code: 'agent-ancestor', detail: `pid ${info.pid} (${info.comm}) is a parent of the agent` };
  if (isGreengrassNucleus(info)) return { code: 'greengrass-nucleus', detail: `pid ${info.pid} (${info.comm}) is the Greengrass nucleus` };
  const base = exeBasename(info);
  if (ctx.protectedProcesses.has(info.comm) || (base !== undefined && ctx.protectedProcesses.has(base))) {
    return { code: 'protected-process', detail: `pid ${info.pid} (${info.comm}) is in enforcement.protectedProcesses` };
  }
  return null;
}

export interface ExpectedProcess {
  pid: number;
  comm: string;
  startTime?: number;
}

/**
 * The offender as the collector saw it vs. the process now at that pid. With a startTime the match is
 * exact; without one (a collector that could not read it) we fall back to comm — weaker, documented.
 */
export function checkProcessTarget(expected: ExpectedProcess, info: ProcessInfo | null, ctx: ProcessRailContext): Refusal | null {
  // PID 1 and self are refused before looking at /proc at all.
  if (expected.pid === 1) return { code: 'pid-1', detail: 'never acts on PID 1 (init)' };
  if (expected.pid === ctx.agentPid) return { code: 'self', detail: 'never acts on the agent itself' };
  if (info === null || info.state === 'Z' || info.state === 'X')
    return { code: 'process-gone', detail: `pid ${expected.pid} no longer exists` };
  if (expected.startTime !== undefined ? info.startTime !== expected.startTime : info.comm !== expected.comm) {
    return {
      code: 'pid-reused',
      detail: `pid ${expected.pid} is now ${info.comm} (start ${info.startTime}), not the offender ${expected.comm} (start ${expected.startTime ?? 'unknown'})`,
    };
  }
  return checkProtectedProcess(info, ctx);
}

/** cgroup.freeze freezes every process of the subtree: refuse if any of them is protected. */
export function checkCgroupMembers(cgroup: string, members: readonly ProcessInfo[], ctx: ProcessRailContext): Refusal | null {
  if (cgroup === '/' || cgroup === '') return { code: 'cgroup-root', detail: 'never freezes the root cgroup' };
  if (cgroup.split('/').includes('..')) return { code: 'invalid-target', detail: `cgroup path ${JSON.stringify(cgroup)} is not canonical` };
  for (const m of members) {
    const r = checkProtectedProcess(m, ctx);
    if (r !== null)
      return { code: 'cgroup-protected', detail: `cgroup ${cgroup} also holds ${r.detail.replace(/^never acts on /, '')} (${r.code})` };
  }
  return null;
}

export interface AddressRailContext {
  /** every address on every local interface (of the namespace the nft table lives in) */
  localAddresses: readonly ParsedAddress[];
  neverBlock: readonly ParsedCidr[];
}

export function checkAddress(addr: ParsedAddress, ctx: AddressRailContext): Refusal | null {
  const range = addr.ip.range();
  if (range === 'loopback') return { code: 'loopback', detail: `${addr.text} is a loopback address` };
  if (range === 'unspecified' || range === 'multicast' || range === 'broadcast') {
    return { code: 'not-a-host-address', detail: `${addr.text} is ${range}, not a host` };
  }
  if (ctx.localAddresses.some((l) => l.text === addr.text))
    return { code: 'own-address', detail: `${addr.text} is an address of this gateway` };
  const cidr = ctx.neverBlock.find((c) => cidrContains(c, addr));
  if (cidr !== undefined)
    return { code: 'never-block-cidr', detail: `${addr.text} is in enforcement.neverBlockCidrs (${cidr[0].toString()}/${cidr[1]})` };
  return null;
}

export interface InterfaceRailContext {
  defaultRouteInterfaces: ReadonlySet<string>;
  allowDefaultRouteInterface: boolean;
}

export function checkInterface(ifname: string, ctx: InterfaceRailContext): Refusal | null {
  if (ifname === 'lo') return { code: 'loopback-interface', detail: 'never acts on the loopback interface' };
  if (ctx.defaultRouteInterfaces.has(ifname) && !ctx.allowDefaultRouteInterface) {
    return {
      code: 'default-route-interface',
      detail: `${ifname} carries the default route (enforcement.allowDefaultRouteInterface is false)`,
    };
  }
  return null;
}
