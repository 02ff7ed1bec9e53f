// Parsers and arithmetic for the host-wide custom metrics (CPU, memory) read from /proc. Pure.

export interface CpuTimes {
  /** all jiffies (user nice system idle iowait irq softirq steal) */
  total: number;
  /** idle + iowait */
  idle: number;
}

/** First line of /proc/stat: `cpu  user nice system idle iowait irq softirq steal guest guest_nice`. */
export function parseProcStatCpu(text: string): CpuTimes | undefined {
  const nl = text.indexOf('\n');
  const line = nl < 0 ? text : text.slice(0, nl);
  const f = line.trim().split(/\s+/);
  if (f[0] !== 'cpu' || f.length < 5) return undefined;
  const n = f.slice(1, 9).map(Number);
  if (n.some((x) => !Number.isFinite(x) || x < 0)) return undefined;
  // guest time is already included in user/nice (proc(5)), so only the first 8 fields are summed.
  const total = n.reduce((a, b) => a + b, 0);
  return { total, idle: n[3]! + (n[4] ?? 0) };
}

/** Busy share of all CPUs over the interval, in percent (0–100, 2 decimals); undefined without progress. */
export function cpuUsagePercent(previous: CpuTimes, current: CpuTimes): number | undefined {
  const total = current.total - previous.total;
  const idle = current.idle - previous.idle;
  if (total <= 0 || idle < 0) return undefined;
  return Math.round(Math.min(100, Math.max(0, ((total - idle) / total) * 100)) * 100) / 100;
}

/** /proc/meminfo → used bytes = MemTotal − MemAvailable (what `free` calls used + shared-ish, the honest number). */
export function parseMemUsedBytes(text: string): number | undefined {
  let total: number | undefined;
  let available: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^(MemTotal|MemAvailable):\s+(\d+) kB$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === 'MemTotal') total = Number(m[2]) * 1024;
    else available = Number(m[2]) * 1024;
  }
  if (total === undefined || available === undefined) return undefined;
  return Math.max(0, total - available);
}

/** df's "Use%": used / (used + available to unprivileged users), in percent with 2 decimals. */
export function diskUsedPercent(s: { blocks: number; bfree: number; bavail: number }): number | undefined {
  const used = s.blocks - s.bfree;
  const denom = used + s.bavail;
  if (denom <= 0) return undefined;
  return Math.round((used / denom) * 10_000) / 100;
}
