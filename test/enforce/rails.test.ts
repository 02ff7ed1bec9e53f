import { describe, expect, it } from 'vitest';
import {
  checkAddress,
  checkCgroupMembers,
  checkInterface,
  checkProcessTarget,
  isGreengrassNucleus,
  type ProcessRailContext,
} from '../../src/enforce/rails.ts';
import { parseAddress, parseCidr } from '../../src/enforce/targetValidation.ts';
import type { ProcessInfo } from '../../src/system/procfs.ts';

const ctx: ProcessRailContext = { agentPid: 500, agentAncestors: new Set([400, 1]), protectedProcesses: new Set(['sshd', 'dropbear']) };
const proc = (over: Partial<ProcessInfo> = {}): ProcessInfo => ({
  pid: 1234,
  comm: 'rogue',
  exe: '/usr/bin/rogue',
  cmdline: 'rogue --loop',
  ppid: 600,
  state: 'S',
  startTime: 777,
  kernelThread: false,
  ...over,
});
const verdict = (info: ProcessInfo | null, expected = { pid: info?.pid ?? 1234, comm: 'rogue', startTime: 777 }) =>
  checkProcessTarget(expected, info, ctx)?.code ?? null;

describe('process rails', () => {
  it('lets an ordinary offender through when pid and start time match', () => {
    expect(verdict(proc())).toBeNull();
  });

  it('refuses PID 1, the agent, its ancestors and kernel threads', () => {
    expect(checkProcessTarget({ pid: 1, comm: 'init' }, null, ctx)?.code).toBe('pid-1');
    expect(checkProcessTarget({ pid: 500, comm: 'node' }, null, ctx)?.code).toBe('self');
    expect(verdict(proc({ pid: 400 }), { pid: 400, comm: 'rogue', startTime: 777 })).toBe('agent-ancestor');
    expect(verdict(proc({ kernelThread: true }))).toBe('kernel-thread');
    expect(verdict(proc({ ppid: 2 }))).toBe('kernel-thread');
  });

  it('refuses the Greengrass nucleus (java Greengrass.jar, nucleus lite daemons) but not a component under /greengrass', () => {
    expect(
      verdict(
        proc({
          comm: 'java',
          exe: '/usr/lib/jvm/bin/java',
          cmdline: 'java -Droot=/greengrass/v2 -jar /greengrass/v2/alts/current/distro/lib/Greengrass.jar --setup-system-service false',
        }),
        { pid: 1234, comm: 'java', startTime: 777 },
      ),
    ).toBe('greengrass-nucleus');
    expect(isGreengrassNucleus({ comm: 'ggipcd', cmdline: '/usr/bin/ggipcd' })).toBe(true);
    expect(isGreengrassNucleus({ comm: 'iotcored', cmdline: 'iotcored' })).toBe(true);
    expect(
      isGreengrassNucleus({
        comm: 'python3',
        exe: '/usr/bin/python3.11',
        cmdline: 'python3 /greengrass/v2/packages/artifacts/com.example.Rogue/1.0.0/rogue.py',
      }),
    ).toBe(false);
  });

  it('refuses protected processes by comm or by executable basename', () => {
    expect(verdict(proc({ comm: 'sshd' }), { pid: 1234, comm: 'sshd', startTime: 777 })).toBe('protected-process');
    expect(verdict(proc({ comm: 'dropbear-wrap', exe: '/usr/sbin/dropbear' }), { pid: 1234, comm: 'dropbear-wrap', startTime: 777 })).toBe(
      'protected-process',
    );
    expect(verdict(proc({ comm: 'x', exe: '/usr/sbin/sshd (deleted)' }), { pid: 1234, comm: 'x', startTime: 777 })).toBe(
      'protected-process',
    );
  });

  it('detects pid reuse by start time, and by comm when the collector had no start time', () => {
    expect(verdict(proc({ startTime: 778 }))).toBe('pid-reused');
    expect(checkProcessTarget({ pid: 1234, comm: 'other' }, proc(), ctx)?.code).toBe('pid-reused');
    expect(checkProcessTarget({ pid: 1234, comm: 'rogue' }, proc(), ctx)).toBeNull();
    expect(verdict(null)).toBe('process-gone');
    expect(verdict(proc({ state: 'Z' }))).toBe('process-gone');
  });

  it('refuses to freeze the root cgroup or one that also holds the agent or a protected process', () => {
    expect(checkCgroupMembers('/', [], ctx)?.code).toBe('cgroup-root');
    expect(checkCgroupMembers('/system.slice/rogue.service', [proc()], ctx)).toBeNull();
    expect(checkCgroupMembers('/system.slice/x', [proc(), proc({ pid: 500 })], ctx)?.code).toBe('cgroup-protected');
    expect(checkCgroupMembers('/system.slice/x', [proc(), proc({ pid: 77, comm: 'sshd' })], ctx)?.code).toBe('cgroup-protected');
    expect(checkCgroupMembers('/a/../b', [], ctx)?.code).toBe('invalid-target');
  });
});

describe('address rails', () => {
  const actx = {
    localAddresses: ['192.168.50.1', 'fd00::1'].map((a) => parseAddress(a)),
    neverBlock: ['10.9.0.0/16', '2001:db8::/32'].map((c) => parseCidr(c)),
  };
  const code = (a: string) => checkAddress(parseAddress(a), actx)?.code ?? null;

  it('blocks an ordinary remote or downstream address', () => {
    expect(code('192.168.50.23')).toBeNull();
    expect(code('2001:db9::5')).toBeNull();
  });

  it('refuses own addresses (also written as IPv4-mapped IPv6), never-block CIDRs, loopback and non-host addresses', () => {
    expect(code('192.168.50.1')).toBe('own-address');
    expect(code('::ffff:192.168.50.1')).toBe('own-address');
    expect(code('fd00:0::1')).toBe('own-address');
    expect(code('10.9.200.1')).toBe('never-block-cidr');
    expect(code('2001:db8:1::1')).toBe('never-block-cidr');
    expect(code('127.0.0.5')).toBe('loopback');
    expect(code('::1')).toBe('loopback');
    expect(code('0.0.0.0')).toBe('not-a-host-address');
    expect(code('224.0.0.1')).toBe('not-a-host-address');
    expect(code('255.255.255.255')).toBe('not-a-host-address');
  });
});

describe('interface rails', () => {
  it('refuses loopback and the default-route interface unless allowed', () => {
    const routes = new Set(['eth0']);
    expect(checkInterface('lo', { defaultRouteInterfaces: routes, allowDefaultRouteInterface: true })?.code).toBe('loopback-interface');
    expect(checkInterface('eth0', { defaultRouteInterfaces: routes, allowDefaultRouteInterface: false })?.code).toBe(
      'default-route-interface',
    );
    expect(checkInterface('eth0', { defaultRouteInterfaces: routes, allowDefaultRouteInterface: true })).toBeNull();
    expect(checkInterface('eth1', { defaultRouteInterfaces: routes, allowDefaultRouteInterface: false })).toBeNull();
  });
});
