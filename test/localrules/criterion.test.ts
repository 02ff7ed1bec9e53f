import { describe, expect, it } from 'vitest';
import { CidrSet, parseDottedQuad } from '../../src/localrules/cidrSet.ts';
import { compareNumbers, compileCriterion, judgeListValue } from '../../src/localrules/criterion.ts';
import type { ComparisonOperator } from '../../src/localrules/metrics.ts';

describe('numeric operators (normal when value OP threshold)', () => {
  const cases: [ComparisonOperator, number, boolean][] = [
    ['less-than', 9, true],
    ['less-than', 10, false],
    ['less-than', 11, false],
    ['less-than-equals', 9, true],
    ['less-than-equals', 10, true],
    ['less-than-equals', 11, false],
    ['greater-than', 9, false],
    ['greater-than', 10, false],
    ['greater-than', 11, true],
    ['greater-than-equals', 9, false],
    ['greater-than-equals', 10, true],
    ['greater-than-equals', 11, true],
  ];
  it.each(cases)('%s 10 with value %d → normal %s', (op, v, normal) => {
    expect(compareNumbers(op, v, 10)).toBe(normal);
  });
  it('works on negative and fractional custom numbers', () => {
    expect(compareNumbers('greater-than', -0.5, -1)).toBe(true);
    expect(compareNumbers('less-than-equals', 75.000001, 75)).toBe(false);
  });
});

describe('port sets', () => {
  const allow = compileCriterion('in-port-set', { ports: [22, 443] });
  const deny = compileCriterion('not-in-port-set', { ports: [23, 2323] });
  it('in-port-set is an allow-list over every port', () => {
    expect(judgeListValue(allow, { ports: [22] })).toBe('normal');
    expect(judgeListValue(allow, { ports: [22, 443] })).toBe('normal');
    // The troubleshooting guide's example: set [8888], listening on 443 ⇒ violated.
    expect(judgeListValue(compileCriterion('in-port-set', { ports: [8888] }), { ports: [443] })).toBe('violating');
    expect(judgeListValue(allow, { ports: [22, 8080] })).toBe('violating');
  });
  it('not-in-port-set is a deny-list', () => {
    expect(judgeListValue(deny, { ports: [22, 80] })).toBe('normal');
    expect(judgeListValue(deny, { ports: [80, 2323] })).toBe('violating');
  });
  it('an empty list conforms to both (and clears)', () => {
    expect(judgeListValue(allow, { ports: [] })).toBe('empty');
    expect(judgeListValue(deny, { ports: [] })).toBe('empty');
    expect(judgeListValue(compileCriterion('in-port-set', { ports: [] }), { ports: [] })).toBe('empty');
    expect(judgeListValue(compileCriterion('in-port-set', { ports: [] }), { ports: [1] })).toBe('violating');
  });
  it('skips a value of another container', () => {
    expect(judgeListValue(allow, { cidrs: ['10.0.0.1'] })).toBe('skip');
  });
});

describe('CIDR sets', () => {
  const allow = compileCriterion('in-cidr-set', { cidrs: ['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::1'] });
  const deny = compileCriterion('not-in-cidr-set', { cidrs: ['12.8.0.0/16', '15.102.16.0/24', 'fe80::/10'] });
  it('IPv4 ranges, bare addresses and boundaries', () => {
    expect(judgeListValue(allow, { cidrs: ['10.0.0.0', '10.255.255.255', '192.168.1.7'] })).toBe('normal');
    expect(judgeListValue(allow, { cidrs: ['11.0.0.0'] })).toBe('violating');
    expect(judgeListValue(allow, { cidrs: ['192.168.1.8'] })).toBe('violating');
    expect(judgeListValue(deny, { cidrs: ['12.9.0.1', '15.102.17.1'] })).toBe('normal');
    expect(judgeListValue(deny, { cidrs: ['8.8.8.8', '15.102.16.255'] })).toBe('violating');
  });
  it('IPv6 ranges, compressed forms and IPv4-mapped addresses', () => {
    expect(judgeListValue(allow, { cidrs: ['2001:db8:ffff::1', '0:0:0:0:0:0:0:1'] })).toBe('normal');
    expect(judgeListValue(allow, { cidrs: ['2001:db9::1'] })).toBe('violating');
    expect(judgeListValue(allow, { cidrs: ['::ffff:10.1.2.3'] })).toBe('normal');
    expect(judgeListValue(deny, { cidrs: ['fe80::1'] })).toBe('violating');
    expect(judgeListValue(deny, { cidrs: ['::ffff:12.8.1.1'] })).toBe('violating');
  });
  it('empty lists conform; /0 matches everything of its family', () => {
    expect(judgeListValue(allow, { cidrs: [] })).toBe('empty');
    expect(judgeListValue(deny, { cidrs: [] })).toBe('empty');
    const any4 = new CidrSet(['0.0.0.0/0']);
    expect(any4.has('255.255.255.255')).toBe(true);
    expect(any4.has('::2')).toBe(false);
    expect(new CidrSet(['::ffff:0:0/96']).has('1.2.3.4')).toBe(true);
  });
  it('an unparseable address is in no set (allow-list violated, deny-list not)', () => {
    expect(judgeListValue(allow, { cidrs: ['not-an-ip'] })).toBe('violating');
    expect(judgeListValue(deny, { cidrs: ['not-an-ip'] })).toBe('normal');
  });
  it('parses dotted quads strictly', () => {
    expect(parseDottedQuad('1.2.3.4')).toBe(0x01020304);
    expect(parseDottedQuad('255.255.255.255')).toBe(0xffffffff);
    for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '1.2.3.4 ', '1234.1.1.1', ''])
      expect(parseDottedQuad(bad), bad).toBeUndefined();
  });
});

describe('in-set / not-in-set (our documented choice: allow-list / deny-list)', () => {
  it('strings', () => {
    const allow = compileCriterion('in-set', { strings: ['v1', 'v2'] });
    expect(judgeListValue(allow, { strings: ['v1'] })).toBe('normal');
    expect(judgeListValue(allow, { strings: ['v1', 'v3'] })).toBe('violating');
    expect(judgeListValue(compileCriterion('not-in-set', { strings: ['bad'] }), { strings: ['ok', 'bad'] })).toBe('violating');
    expect(judgeListValue(compileCriterion('not-in-set', { strings: ['bad'] }), { strings: ['ok'] })).toBe('normal');
    expect(judgeListValue(allow, { strings: [] })).toBe('empty');
  });
  it('numbers compare by numeric equality', () => {
    const allow = compileCriterion('in-set', { numbers: [1, 2.5] });
    expect(judgeListValue(allow, { numbers: [2.5, 1] })).toBe('normal');
    expect(judgeListValue(allow, { numbers: [2.50001] })).toBe('violating');
    expect(judgeListValue(compileCriterion('not-in-set', { numbers: [0] }), { numbers: [-0] })).toBe('violating');
  });
});
