// /proc/net/dev parsing and the counter deltas Device Defender's network_stats wants
// ("Delta Metric, >= 0", docs/reports.md#the-document). Pure.
import type { TrafficDelta } from './sample.ts';

export interface InterfaceCounters {
  bytesIn: number;
  packetsIn: number;
  bytesOut: number;
  packetsOut: number;
}

/**
 * `Inter-|   Receive …` two header lines, then `  eth0: rxbytes rxpackets errs drop fifo frame compressed
 * multicast txbytes txpackets …`. A name and its first number may touch (`eth0:123`), so split on ':'.
 */
export function parseProcNetDev(text: string): { interfaces: Map<string, InterfaceCounters>; badLines: string[] } {
  const interfaces = new Map<string, InterfaceCounters>();
  const badLines: string[] = [];
  const lines = text.split('\n');
  for (let i = 2; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const colon = line.indexOf(':');
    if (colon < 0) {
      badLines.push(`line ${i + 1}: no interface name`);
      continue;
    }
    const name = line.slice(0, colon).trim();
    const nums = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    if (name === '' || nums.length < 16 || nums.some((n) => !Number.isFinite(n) || n < 0)) {
      badLines.push(`line ${i + 1}: expected 16 counters for '${name}'`);
      continue;
    }
    interfaces.set(name, { bytesIn: nums[0]!, packetsIn: nums[1]!, bytesOut: nums[8]!, packetsOut: nums[9]! });
  }
  return { interfaces, badLines };
}

/**
 * Difference of two cumulative counters. A counter that went backwards was reset (interface re-created,
 * driver reload, 32-bit wrap): the interval's true value is unknown, and the smallest honest answer is
 * the new value counted from zero — never a negative delta, which the service rejects (">= 0").
 */
export function counterDelta(previous: number, current: number): number {
  return current >= previous ? current - previous : current;
}

export function trafficDelta(previous: InterfaceCounters, current: InterfaceCounters): TrafficDelta {
  return {
    bytesIn: counterDelta(previous.bytesIn, current.bytesIn),
    bytesOut: counterDelta(previous.bytesOut, current.bytesOut),
    packetsIn: counterDelta(previous.packetsIn, current.packetsIn),
    packetsOut: counterDelta(previous.packetsOut, current.packetsOut),
  };
}

export function addTraffic(a: TrafficDelta, b: TrafficDelta): TrafficDelta {
  return {
    bytesIn: a.bytesIn + b.bytesIn,
    bytesOut: a.bytesOut + b.bytesOut,
    packetsIn: a.packetsIn + b.packetsIn,
    packetsOut: a.packetsOut + b.packetsOut,
  };
}

export const zeroTraffic = (): TrafficDelta => ({ bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 });

/**
 * Per-interface deltas and their total. An interface that appeared since the previous sample counts
 * from zero (its counters started during the interval); the loopback interface is left out of the total
 * unless asked for — the Python agent SDK counts it, which inflates network_stats (docs/reports.md#what-other-agents-do).
 */
export function networkDeltas(
  previous: Map<string, InterfaceCounters>,
  current: Map<string, InterfaceCounters>,
  includeLoopback: boolean,
): { total: TrafficDelta; perInterface: Record<string, TrafficDelta> } {
  let total = zeroTraffic();
  const perInterface: Record<string, TrafficDelta> = {};
  for (const [name, now] of current) {
    if (name === 'lo' && !includeLoopback) continue;
    const before = previous.get(name) ?? { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 };
    const d = trafficDelta(before, now);
    perInterface[name] = d;
    total = addTraffic(total, d);
  }
  return { total, perInterface };
}
