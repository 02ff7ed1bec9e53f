import { describe, expect, it } from 'vitest';
import { canonicalAddress, interfaceMapFromIpJson, interfaceMapFromOs, interfaceOf } from '../../src/collector/interfaceAddresses.ts';

describe('address → interface map', () => {
  const ipJson = JSON.stringify([
    {
      ifindex: 1,
      ifname: 'lo',
      addr_info: [
        { family: 'inet', local: '127.0.0.1' },
        { family: 'inet6', local: '::1' },
      ],
    },
    {
      ifindex: 2,
      ifname: 'eth0',
      addr_info: [
        { family: 'inet', local: '192.168.1.10' },
        { family: 'inet6', local: '2001:0db8:0:0:0:0:0:0010' },
        { family: 'inet6', local: 'fe80::1' },
      ],
    },
    { ifindex: 3, ifname: 'veth0' },
    { bogus: true },
  ]);

  it('builds from ip -j addr, canonicalising IPv6 so /proc text matches', () => {
    const m = interfaceMapFromIpJson(ipJson);
    expect(interfaceOf(m, '192.168.1.10')).toBe('eth0');
    expect(interfaceOf(m, '2001:db8::10')).toBe('eth0');
    expect(interfaceOf(m, '::1')).toBe('lo');
    expect(interfaceOf(m, '127.0.0.53')).toBe('lo');
    expect(interfaceOf(m, '0.0.0.0')).toBeUndefined();
    expect(interfaceOf(m, '::')).toBeUndefined();
    expect(interfaceOf(m, '10.9.9.9')).toBeUndefined();
    expect([...m.names]).toEqual(['lo', 'eth0', 'veth0']);
    expect(() => interfaceMapFromIpJson('{}')).toThrow(/expected a JSON array/);
  });

  it('builds from os.networkInterfaces() shape, dropping zone ids', () => {
    const m = interfaceMapFromOs({
      eth1: [{ address: 'fe80::abcd%eth1', family: 'IPv6', netmask: '', mac: '', internal: false, cidr: null, scopeid: 2 }],
    });
    expect(interfaceOf(m, 'fe80::abcd')).toBe('eth1');
    expect(canonicalAddress('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(canonicalAddress('not-an-ip')).toBeUndefined();
  });
});
