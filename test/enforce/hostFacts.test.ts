import { describe, expect, it } from 'vitest';
import { parseDefaultRouteJson, parseIpAddrJson } from '../../src/enforce/hostFacts.ts';

describe('ip -j parsing', () => {
  it('collects every local address of every link', () => {
    const text = JSON.stringify([
      {
        ifname: 'lo',
        addr_info: [
          { family: 'inet', local: '127.0.0.1' },
          { family: 'inet6', local: '::1' },
        ],
      },
      {
        ifname: 'eth0',
        addr_info: [
          { family: 'inet', local: '192.168.1.10' },
          { family: 'inet6', local: 'fe80::1' },
        ],
      },
      { ifname: 'eth1' },
    ]);
    expect(parseIpAddrJson(text).map((a) => a.text)).toEqual(['127.0.0.1', '::1', '192.168.1.10', 'fe80::1']);
  });

  it('names default-route devices, multipath included', () => {
    expect(parseDefaultRouteJson(JSON.stringify([{ dst: 'default', gateway: '192.168.1.1', dev: 'eth0' }]))).toEqual(['eth0']);
    expect(parseDefaultRouteJson(JSON.stringify([{ dst: 'default', nexthops: [{ dev: 'wwan0' }, { dev: 'eth0' }] }]))).toEqual([
      'wwan0',
      'eth0',
    ]);
    expect(parseDefaultRouteJson('')).toEqual([]);
    expect(() => parseDefaultRouteJson('{}')).toThrow(/expected a JSON array/);
  });
});
