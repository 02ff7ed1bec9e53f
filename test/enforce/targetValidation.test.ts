import { describe, expect, it } from 'vitest';
import { cidrContains, parseAddress, parseCidr, validateInterfaceName, validatePid } from '../../src/enforce/targetValidation.ts';

describe('target validation', () => {
  it('accepts integer pids in range and names the field otherwise', () => {
    expect(validatePid(4242)).toBe(4242);
    for (const bad of [0, -1, 1.5, '12', NaN, 2 ** 23, null]) expect(() => validatePid(bad, 'offender.pid')).toThrow(/^offender\.pid: /);
  });

  it('accepts interface names the kernel would, refuses anything that could be an option or a path', () => {
    expect(validateInterfaceName('eth0.100')).toBe('eth0.100');
    for (const bad of ['', 'a'.repeat(16), 'eth 0', 'eth0;rm', '../x', '..', 'a/b', 'eth0"', 5]) {
      expect(() => validateInterfaceName(bad, 'offender.interface')).toThrow(/^offender\.interface: /);
    }
  });

  it('canonicalises addresses and folds IPv4-mapped IPv6 into IPv4', () => {
    expect(parseAddress('10.0.0.1')).toMatchObject({ family: 4, text: '10.0.0.1' });
    expect(parseAddress('::ffff:10.0.0.1')).toMatchObject({ family: 4, text: '10.0.0.1' });
    expect(parseAddress('FD00:0:0::0001')).toMatchObject({ family: 6, text: 'fd00::1' });
    for (const bad of ['1.2.3', '010.1.1.1x', 'fe80::1%eth0', 'example.com', '', 7, '1.2.3.4/24'])
      expect(() => parseAddress(bad, 'addresses[0]')).toThrow(/^addresses\[0\]: /);
  });

  it('parses CIDRs and matches members of the same family only', () => {
    const net = parseCidr('10.1.0.0/16');
    expect(cidrContains(net, parseAddress('10.1.255.3'))).toBe(true);
    expect(cidrContains(net, parseAddress('10.2.0.1'))).toBe(false);
    expect(cidrContains(net, parseAddress('::ffff:10.1.0.9'))).toBe(true);
    expect(cidrContains(parseCidr('::/0'), parseAddress('10.1.0.9'))).toBe(false);
    expect(parseCidr('10.0.0.7')[1]).toBe(32);
    for (const bad of ['10.0.0.0/33', '10.0.0.0/x', 'fd00::/129', 5])
      expect(() => parseCidr(bad, 'enforcement.neverBlockCidrs[0]')).toThrow(/^enforcement\.neverBlockCidrs\[0\]: /);
  });
});
