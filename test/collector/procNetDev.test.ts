import { describe, expect, it } from 'vitest';
import { counterDelta, networkDeltas, parseProcNetDev } from '../../src/collector/procNetDev.ts';

const DEV1 = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0:12345678 9000 0 0 0 0 0 0 5555 44 0 0 0 0 0 0
 broken line
 wlan0: 1 2 3
`;
const DEV2 = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1500      15    0    0    0     0          0         0     1500      15    0    0    0     0       0          0
  eth0:12345778 9002 0 0 0 0 0 0 5655 46 0 0 0 0 0 0
 veth9:     300       3    0    0    0     0          0         0      200       2    0    0    0     0       0          0
`;

describe('/proc/net/dev', () => {
  it('parses counters, including a name glued to its first number, and names bad lines', () => {
    const r = parseProcNetDev(DEV1);
    expect(r.interfaces.get('eth0')).toEqual({ bytesIn: 12345678, packetsIn: 9000, bytesOut: 5555, packetsOut: 44 });
    expect(r.interfaces.get('lo')).toEqual({ bytesIn: 1000, packetsIn: 10, bytesOut: 1000, packetsOut: 10 });
    expect(r.badLines).toEqual(['line 5: no interface name', "line 6: expected 16 counters for 'wlan0'"]);
  });

  it('computes deltas without loopback by default, with it on request, new interfaces from zero', () => {
    const a = parseProcNetDev(DEV1).interfaces;
    const b = parseProcNetDev(DEV2).interfaces;
    const without = networkDeltas(a, b, false);
    expect(without.total).toEqual({ bytesIn: 100 + 300, bytesOut: 100 + 200, packetsIn: 2 + 3, packetsOut: 2 + 2 });
    expect(Object.keys(without.perInterface).sort()).toEqual(['eth0', 'veth9']);
    const withLo = networkDeltas(a, b, true);
    expect(withLo.total.bytesIn).toBe(400 + 500);
    expect(withLo.perInterface.lo).toEqual({ bytesIn: 500, bytesOut: 500, packetsIn: 5, packetsOut: 5 });
  });

  it('never yields a negative delta when a counter resets', () => {
    expect(counterDelta(100, 150)).toBe(50);
    expect(counterDelta(1_000_000, 20)).toBe(20);
  });
});
