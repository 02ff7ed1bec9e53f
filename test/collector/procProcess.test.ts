import { describe, expect, it } from 'vitest';
import { parseProcCgroup, parseProcStat, socketInodeOfLink } from '../../src/collector/procProcess.ts';

describe('per-process /proc parsers', () => {
  it('reads comm (with spaces and parentheses) and start time from /proc/PID/stat', () => {
    const stat = '4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 305 0 0 0 1 2 0 0 20 0 1 0 987654 12345678 300 18446744073709551615 0 0';
    expect(parseProcStat(stat)).toEqual({ pid: 4242, comm: 'my (odd) proc', startTime: 987654 });
    expect(parseProcStat('garbage')).toBeUndefined();
    expect(parseProcStat('12 (x) S 1')).toBeUndefined();
  });

  it('prefers the cgroup v2 line, falls back to the first hierarchy', () => {
    expect(parseProcCgroup('0::/system.slice/greengrass.service\n')).toBe('/system.slice/greengrass.service');
    expect(parseProcCgroup('4:memory:/docker/abc\n0::/\n')).toBe('/');
    expect(parseProcCgroup('4:memory:/docker/abc\n2:cpu:/x\n')).toBe('/docker/abc');
    expect(parseProcCgroup('')).toBeUndefined();
  });

  it('extracts socket inodes from fd links only', () => {
    expect(socketInodeOfLink('socket:[17437]')).toBe(17437);
    expect(socketInodeOfLink('/dev/null')).toBe(0);
    expect(socketInodeOfLink('pipe:[123]')).toBe(0);
    expect(socketInodeOfLink('socket:[x]')).toBe(0);
  });
});
