// From a violation's offender to a validated, rail-checked target — or a refusal saying why not.
// Used on every apply and, with `recheckTarget`, again on restore after a restart (fail2ban re-checks
// its ignoreip list on restore; so do we with every rail).
import { join } from 'node:path';
import type { ViolationEvent } from '../localrules/contracts.ts';
import { listCgroupSubtreePids, type ProcessInfo, readProcessInfo } from '../system/procfs.ts';
import type { ActionTarget, EnforceActionType, Refusal } from './actionModel.ts';
import type { HostFacts } from './hostFacts.ts';
import { checkAddress, checkCgroupMembers, checkInterface, checkProcessTarget, type ProcessRailContext } from './rails.ts';
import { type ParsedCidr, parseAddress, parseCidr, validateInterfaceName, validatePid } from './targetValidation.ts';

export interface ResolverDeps {
  hostFacts: HostFacts;
  processRails: ProcessRailContext;
  neverBlock: readonly ParsedCidr[];
  allowDefaultRouteInterface: boolean;
  cgroupRoot: string | null;
  procRoot?: string;
}

export type Resolution =
  | { ok: true; target: ActionTarget /** some of the offender's addresses were refused, the rest go ahead */; partial?: Refusal }
  | { ok: false; refusal: Refusal };

const refuse = (code: string, detail: string): Resolution => ({ ok: false, refusal: { code, detail } });

function isProcessType(type: EnforceActionType): boolean {
  return type === 'process-suspend' || type === 'process-terminate' || type === 'process-freeze';
}

function checkFreeze(cgroup: string | undefined, deps: ResolverDeps): Refusal | null {
  if (deps.cgroupRoot === null) return { code: 'no-cgroup-v2', detail: 'process-freeze needs a cgroup v2 mount' };
  if (cgroup === undefined) return { code: 'no-cgroup', detail: 'the process has no cgroup v2 path' };
  if (cgroup === '/' || cgroup === '') return checkCgroupMembers(cgroup, [], deps.processRails);
  const members = listCgroupSubtreePids(join(deps.cgroupRoot, cgroup))
    .map((pid) => readProcessInfo(pid, deps.procRoot))
    .filter((i): i is ProcessInfo => i !== null);
  return checkCgroupMembers(cgroup, members, deps.processRails);
}

function resolveProcess(type: EnforceActionType, ev: ViolationEvent, deps: ResolverDeps): Resolution {
  const o = ev.offender;
  if (o.kind !== 'process') return refuse('no-target', `${type} needs a process offender, the violation names a ${o.kind}`);
  let pid: number;
  try {
    pid = validatePid(o.pid, 'offender.pid');
  } catch (err) {
    return refuse('invalid-target', (err as Error).message);
  }
  const expected = o.startTime === undefined ? { pid, comm: o.comm } : { pid, comm: o.comm, startTime: o.startTime };
  // PID 1 / self are refused before /proc is even read (checkProcessTarget does that first).
  const info = pid === 1 || pid === deps.processRails.agentPid ? null : readProcessInfo(pid, deps.procRoot);
  const r = checkProcessTarget(expected, info, deps.processRails);
  if (r !== null || info === null) return { ok: false, refusal: r ?? { code: 'process-gone', detail: `pid ${pid} no longer exists` } };
  const cgroup = info.cgroup ?? o.cgroup;
  if (type === 'process-freeze') {
    const f = checkFreeze(cgroup, deps);
    if (f !== null) return { ok: false, refusal: f };
  }
  const target: ActionTarget = { kind: 'process', pid, startTime: info.startTime, comm: info.comm };
  if (info.exe !== undefined) target.exe = info.exe;
  if (cgroup !== undefined) target.cgroup = cgroup;
  return { ok: true, target };
}

/** The addresses an address-block acts on: a device's own, or the host addresses of a cidrs value. */
function candidateAddresses(ev: ViolationEvent): string[] | null {
  if (ev.offender.kind === 'device') return ev.offender.addresses;
  if (ev.value !== undefined && 'cidrs' in ev.value) return ev.value.cidrs;
  return null;
}

async function resolveAddresses(ev: ViolationEvent, deps: ResolverDeps): Promise<Resolution> {
  const candidates = candidateAddresses(ev);
  if (candidates === null || candidates.length === 0)
    return refuse('no-target', 'address-block needs a device with addresses or a cidrs value');
  const ctx = { localAddresses: await deps.hostFacts.localAddresses(), neverBlock: deps.neverBlock };
  const accepted = new Set<string>();
  const refused: Refusal[] = [];
  candidates.forEach((text, i) => {
    try {
      const slash = text.indexOf('/');
      if (slash >= 0) {
        const [ip, bits] = parseCidr(text, `address[${i}]`);
        // Only host entries: blocking a whole prefix from a metric value is too blunt to do by default.
        if (bits !== (ip.kind() === 'ipv4' ? 32 : 128)) {
          refused.push({ code: 'not-a-host-address', detail: `${text} is a prefix, not a host` });
          return;
        }
      }
      const addr = parseAddress(slash >= 0 ? text.slice(0, slash) : text, `address[${i}]`);
      const r = checkAddress(addr, ctx);
      if (r === null) accepted.add(addr.text);
      else refused.push(r);
    } catch (err) {
      refused.push({ code: 'invalid-target', detail: (err as Error).message });
    }
  });
  const summary = (): Refusal => ({ code: refused[0]!.code, detail: refused.map((r) => r.detail).join('; ') });
  if (accepted.size === 0) return { ok: false, refusal: summary() };
  const target: ActionTarget = { kind: 'addresses', addresses: [...accepted] };
  return refused.length > 0 ? { ok: true, target, partial: summary() } : { ok: true, target };
}

async function resolveInterface(type: EnforceActionType, ev: ViolationEvent, deps: ResolverDeps): Promise<Resolution> {
  const o = ev.offender;
  if (o.kind !== 'device' || o.interface === undefined) return refuse('no-target', `${type} needs a device offender with an interface`);
  let ifname: string;
  try {
    ifname = validateInterfaceName(o.interface, 'offender.interface');
  } catch (err) {
    return refuse('invalid-target', (err as Error).message);
  }
  const r = checkInterface(ifname, {
    defaultRouteInterfaces: await deps.hostFacts.defaultRouteInterfaces(),
    allowDefaultRouteInterface: deps.allowDefaultRouteInterface,
  });
  return r === null ? { ok: true, target: { kind: 'interface', ifname } } : { ok: false, refusal: r };
}

export async function resolveTarget(type: EnforceActionType, ev: ViolationEvent, deps: ResolverDeps): Promise<Resolution> {
  if (isProcessType(type)) return resolveProcess(type, ev, deps);
  if (type === 'address-block') return resolveAddresses(ev, deps);
  return resolveInterface(type, ev, deps);
}

/** Rails again for a persisted action (on restore): the config or the host may have changed. */
export async function recheckTarget(type: EnforceActionType, target: ActionTarget, deps: ResolverDeps): Promise<Refusal | null> {
  switch (target.kind) {
    case 'process': {
      const info = target.pid === 1 || target.pid === deps.processRails.agentPid ? null : readProcessInfo(target.pid, deps.procRoot);
      const r = checkProcessTarget({ pid: target.pid, comm: target.comm, startTime: target.startTime }, info, deps.processRails);
      if (r !== null) return r;
      return type === 'process-freeze' ? checkFreeze(target.cgroup, deps) : null;
    }
    case 'addresses': {
      const ctx = { localAddresses: await deps.hostFacts.localAddresses(), neverBlock: deps.neverBlock };
      for (const a of target.addresses) {
        const r = checkAddress(parseAddress(a), ctx);
        if (r !== null) return r;
      }
      return null;
    }
    case 'interface':
      return checkInterface(target.ifname, {
        defaultRouteInterfaces: await deps.hostFacts.defaultRouteInterfaces(),
        allowDefaultRouteInterface: deps.allowDefaultRouteInterface,
      });
  }
}
