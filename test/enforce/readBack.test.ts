// Reading actions back from what nft and ip print (pure parts; the kernel itself is exercised in
// test/integration/enforce-readback.test.ts).
import { describe, expect, it } from 'vitest';
import { readBackFromLinkShow } from '../../src/enforce/linkBackend.ts';
import { readBackFromTable } from '../../src/enforce/nftBackend.ts';

const listing = (elems: unknown[], set = 'block4') =>
  JSON.stringify({
    nftables: [
      { metainfo: { json_schema_version: 1 } },
      { table: { family: 'inet', name: 't', handle: 1 } },
      {
        set: {
          family: 'inet',
          name: set,
          table: 't',
          type: set === 'quarantine_if' ? 'ifname' : 'ipv4_addr',
          flags: ['timeout'],
          elem: elems,
        },
      },
    ],
  });

describe('nft read-back', () => {
  const req = (addresses: string[]) => ({
    type: 'address-block' as const,
    target: { kind: 'addresses' as const, addresses },
    ttlMs: 60_000,
  });

  it('in force when every element is in its set, with the kernel timeout left', () => {
    expect(readBackFromTable('t', req(['10.0.0.2']), listing([{ elem: { val: '10.0.0.2', timeout: 60, expires: 42 } }]))).toEqual({
      state: 'in-force',
      observed: '10.0.0.2 in inet t block4, expires in 42 s',
    });
  });

  it('not in force when an element is missing (deleted by hand), lost when the table is gone', () => {
    expect(readBackFromTable('t', req(['10.0.0.2']), listing([]))).toEqual({
      state: 'not-in-force',
      observed: '10.0.0.2 not in inet t block4',
    });
    expect(readBackFromTable('t', req(['10.0.0.2', '10.0.0.3']), listing([{ elem: { val: '10.0.0.3', expires: 5 } }])).state).toBe(
      'not-in-force',
    );
    expect(readBackFromTable('t', req(['10.0.0.2']), null)).toEqual({
      state: 'lost',
      observed: 'table inet t does not exist (ruleset flushed or reloaded)',
    });
  });

  it('compares IPv6 addresses in canonical form, and quarantined interfaces by name', () => {
    const v6 = JSON.stringify({ nftables: [{ set: { name: 'block6', elem: [{ elem: { val: 'fd00:dede::2', expires: 9 } }] } }] });
    expect(readBackFromTable('t', req(['fd00:dede:0:0::2']), v6).state).toBe('in-force');
    const q = { type: 'interface-quarantine' as const, target: { kind: 'interface' as const, ifname: 'eth1' }, ttlMs: 1000 };
    expect(readBackFromTable('t', q, listing([{ elem: { val: 'eth1', expires: 1 } }], 'quarantine_if')).state).toBe('in-force');
  });
});

describe('link read-back', () => {
  const show = (flags: string[]) =>
    JSON.stringify([{ ifindex: 3, ifname: 'eth1', flags, operstate: flags.includes('UP') ? 'UP' : 'DOWN' }]);
  it('down is in force, up is not (the administrative flag, not the carrier), absent is gone', () => {
    expect(readBackFromLinkShow('eth1', show(['BROADCAST', 'MULTICAST']))).toEqual({
      state: 'in-force',
      observed: 'interface eth1 is down (operstate DOWN)',
    });
    expect(readBackFromLinkShow('eth1', show(['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP']))).toEqual({
      state: 'not-in-force',
      observed: 'interface eth1 is up (operstate UP)',
    });
    expect(readBackFromLinkShow('eth1', null)).toEqual({ state: 'target-gone', observed: 'interface eth1 does not exist' });
  });
});
