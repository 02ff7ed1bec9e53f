import { afterEach, describe, expect, it } from 'vitest';
import { findCgroup2Mount, parseStat, readAncestry, readProcessInfo } from '../../src/enforce/procfs.ts';
import { Children } from '../support/children.ts';

const children = new Children();
afterEach(() => children.killAll());

describe('procfs', () => {
  it('parses stat lines whose comm holds spaces and parentheses', () => {
    const line = '4242 (a b) (c)) S 100 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1000 1 18446744073709551615';
    expect(parseStat(line)).toEqual({ comm: 'a b) (c)', state: 'S', ppid: 100, flags: 4194560, startTime: 987654 });
    expect(parseStat('garbage')).toBeNull();
  });

  it('reads a real child: comm, exe, cmdline, parent, start time', async () => {
    const c = await children.start({ extraArgs: ['marker-arg'] });
    const info = readProcessInfo(c.pid);
    expect(info).not.toBeNull();
    expect(info!.ppid).toBe(process.pid);
    expect(info!.exe).toBe(process.execPath);
    expect(info!.cmdline).toContain('marker-arg');
    expect(info!.startTime).toBeGreaterThan(0);
    expect(info!.kernelThread).toBe(false);
    expect(
      readAncestry(c.pid)
        .map((p) => p.pid)
        .slice(0, 2),
    ).toEqual([c.pid, process.pid]);
    expect(readProcessInfo(999_999_9)).toBeNull();
  });

  it('finds the cgroup2 mount', () => {
    const m = findCgroup2Mount();
    expect(m === null || m.startsWith('/')).toBe(true);
  });
});
