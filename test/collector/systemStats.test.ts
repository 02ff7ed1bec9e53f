import { describe, expect, it } from 'vitest';
import { cpuUsagePercent, diskUsedPercent, parseMemUsedBytes, parseProcStatCpu } from '../../src/collector/systemStats.ts';

describe('host custom-metric arithmetic', () => {
  it('computes CPU busy percent from two /proc/stat samples (iowait counts as idle)', () => {
    const a = parseProcStatCpu('cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n')!;
    const b = parseProcStatCpu('cpu  150 0 150 800 100 0 0 0 0 0\n')!;
    expect(a).toEqual({ total: 1000, idle: 800 });
    expect(cpuUsagePercent(a, b)).toBe(50);
    expect(cpuUsagePercent(b, b)).toBeUndefined();
    expect(parseProcStatCpu('intr 1 2 3')).toBeUndefined();
  });

  it('memory used = MemTotal − MemAvailable in bytes', () => {
    expect(parseMemUsedBytes('MemTotal:       2000 kB\nMemFree:         100 kB\nMemAvailable:    500 kB\n')).toBe(1500 * 1024);
    expect(parseMemUsedBytes('MemTotal: 2000 kB\n')).toBeUndefined();
  });

  it('disk used percent like df (reserved blocks excluded from the denominator)', () => {
    expect(diskUsedPercent({ blocks: 1000, bfree: 500, bavail: 450 })).toBe(52.63);
    expect(diskUsedPercent({ blocks: 0, bfree: 0, bavail: 0 })).toBeUndefined();
  });
});
