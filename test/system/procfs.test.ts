import { afterEach, describe, expect, it } from 'vitest';
import {
  findCgroup2Mount,
  parseProcCgroup,
  parseProcStat,
  readAncestry,
  readProcessInfo,
  readProcStat,
  socketInodeOfLink,
} from '../../src/system/procfs.ts';
import { Children } from '../support/children.ts';

const children = new Children();
afterEach(() => children.killAll());

describe('procfs', () => {
  it('parses stat lines whose comm holds spaces and parentheses', () => {
    const line = '4242 (a b) (c)) S 100 4242 4242 0 -1 4194560 1 0 0 0 7 3 0 0 20 0 1 0 987654 1000 1 18446744073709551615';
    expect(parseProcStat(line)).toEqual({
      pid: 4242,
      comm: 'a b) (c)',
      state: 'S',
      ppid: 100,
      flags: 4194560,
      utime: 7,
      stime: 3,
      cutime: 0,
      cstime: 0,
      startTime: 987654,
    });
    expect(parseProcStat('garbage')).toBeUndefined();
    expect(parseProcStat('12 (x) S 1')).toBeUndefined();
  });

  it('reads the cgroup v2 line, and the first v1 hierarchy apart', () => {
    expect(parseProcCgroup('0::/system.slice/greengrass.service\n')).toEqual({ v2: '/system.slice/greengrass.service' });
    expect(parseProcCgroup('4:memory:/docker/abc\n0::/\n')).toEqual({ v2: '/', v1: '/docker/abc' });
    expect(parseProcCgroup('4:memory:/docker/abc\n2:cpu:/x\n')).toEqual({ v1: '/docker/abc' });
    expect(parseProcCgroup('')).toEqual({});
  });

  it('extracts socket inodes from fd links only', () => {
    expect(socketInodeOfLink('socket:[17437]')).toBe(17437);
    expect(socketInodeOfLink('/dev/null')).toBe(0);
    expect(socketInodeOfLink('pipe:[123]')).toBe(0);
    expect(socketInodeOfLink('socket:[x]')).toBe(0);
  });

  it('reads a real child: comm, exe, cmdline, parent, start time', async () => {
    const c = await children.start({ extraArgs: ['marker-arg'] });
    const info = readProcessInfo(c.pid);
    expect(info).not.toBeNull();
    expect(info!.ppid).toBe(process.pid);
    expect(info!.exe).toBe(process.execPath);
    expect(info!.cmdline).toContain('marker-arg');
    expect(info!.startTime).toBeGreaterThan(0);
    expect(info!.startTime).toBe(readProcStat(c.pid)!.startTime);
    expect(info!.kernelThread).toBe(false);
    expect(
      readAncestry(c.pid)
        .map((p) => p.pid)
        .slice(0, 2),
    ).toEqual([c.pid, process.pid]);
    expect(readProcessInfo(999_999_9)).toBeNull();
    expect(readProcStat(999_999_9)).toBeUndefined();
  });

  it('finds the cgroup2 mount', () => {
    const m = findCgroup2Mount();
    expect(m === null || m.startsWith('/')).toBe(true);
  });
});
