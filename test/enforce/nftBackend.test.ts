import { describe, expect, it } from 'vitest';
import { applyBatch, parseTableJson, revertBatch, tableBatch } from '../../src/enforce/nftBackend.ts';

describe('nft batches (pure)', () => {
  it('re-sets each element with a fresh kernel timeout in one transaction, per family', () => {
    const b = applyBatch('dedge_t', {
      type: 'address-block',
      target: { kind: 'addresses', addresses: ['10.0.0.2', 'fd00::2'] },
      ttlMs: 2500,
    });
    expect(b.split('\n').filter(Boolean)).toEqual([
      'add element inet dedge_t block4 { 10.0.0.2 }',
      'delete element inet dedge_t block4 { 10.0.0.2 }',
      'add element inet dedge_t block4 { 10.0.0.2 timeout 2500ms }',
      'add element inet dedge_t block6 { fd00::2 }',
      'delete element inet dedge_t block6 { fd00::2 }',
      'add element inet dedge_t block6 { fd00::2 timeout 2500ms }',
    ]);
  });

  it('quotes interface names and removes elements whether or not they expired', () => {
    const r = revertBatch('t', { type: 'interface-quarantine', target: { kind: 'interface', ifname: 'eth1' }, ttlMs: 1 });
    expect(r).toBe('add element inet t quarantine_if { "eth1" }\ndelete element inet t quarantine_if { "eth1" }\n');
  });

  it('refuses unvalidated values before they reach nft', () => {
    expect(() =>
      applyBatch('t', { type: 'address-block', target: { kind: 'addresses', addresses: ['10.0.0.1 }; flush ruleset; {'] }, ttlMs: 1 }),
    ).toThrow(/target\.addresses\[0\]: /);
    expect(() => applyBatch('t', { type: 'interface-quarantine', target: { kind: 'interface', ifname: 'x" }' }, ttlMs: 1 })).toThrow(
      /target\.ifname: /,
    );
    expect(() => applyBatch('t', { type: 'interface-down', target: { kind: 'interface', ifname: 'x' }, ttlMs: 1 })).toThrow(
      /cannot handle/,
    );
  });

  it('builds drop rules for input, forward and output from the three sets', () => {
    const t = tableBatch('dedge_t');
    expect(t).toContain('add set inet dedge_t block4 { type ipv4_addr; flags timeout; }');
    expect(t).toContain('add rule inet dedge_t input ip saddr @block4 drop');
    expect(t).toContain('add rule inet dedge_t forward oifname @quarantine_if drop');
    expect(t).toContain('add rule inet dedge_t output ip6 daddr @block6 drop');
    // chains are flushed before their rules are re-added, so init can run again without duplicates
    expect(t.indexOf('flush chain inet dedge_t input')).toBeLessThan(t.indexOf('add rule inet dedge_t input'));
  });

  it('parses nft -j output, with and without timeouts', () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: '1.0.6' } },
        {
          set: {
            family: 'inet',
            name: 'block4',
            table: 't',
            type: 'ipv4_addr',
            elem: [{ elem: { val: '10.0.0.2', timeout: 10, expires: 7 } }, '10.0.0.3'],
          },
        },
        {
          set: {
            family: 'inet',
            name: 'quarantine_if',
            table: 't',
            type: 'ifname',
            elem: [{ elem: { val: 'eth1', timeout: 5, expires: 5 } }],
          },
        },
        { chain: { name: 'input' } },
      ],
    });
    expect(parseTableJson(json)).toEqual([
      { type: 'address-block', target: { kind: 'addresses', addresses: ['10.0.0.2'] }, expiresInMs: 7000 },
      { type: 'address-block', target: { kind: 'addresses', addresses: ['10.0.0.3'] } },
      { type: 'interface-quarantine', target: { kind: 'interface', ifname: 'eth1' }, expiresInMs: 5000 },
    ]);
    expect(() => parseTableJson('{}')).toThrow(/no nftables array/);
  });
});
