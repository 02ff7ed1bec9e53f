import { describe, expect, it } from 'vitest';
import { buildDownstreamScript, parseDownstreamJson, planDevices } from '../../src/collector/downstreamTable.ts';

describe('downstream nft table', () => {
  const plans = planDevices([
    { thingName: 'a', addresses: ['10.0.0.2', '2001:DB8:0::2'] },
    { thingName: 'b', addresses: [], mac: 'AA:BB:CC:00:11:22' },
  ]);

  it('plans counters per device with canonical addresses; MAC only for address-less devices', () => {
    expect(plans).toEqual([
      { thingName: 'a', counterOut: 'd0_out', counterIn: 'd0_in', v4: ['10.0.0.2'], v6: ['2001:db8::2'] },
      { thingName: 'b', counterOut: 'd1_out', counterIn: 'd1_in', v4: [], v6: [], mac: 'aa:bb:cc:00:11:22' },
    ]);
    expect(() => planDevices([{ thingName: 'x', addresses: ['10.0.0.0/24'] }])).toThrow(
      "downstream.devices[0].addresses: '10.0.0.0/24' is not an IP address",
    );
  });

  it('builds one atomic script: replace table, maps to named counters, dynamic destination sets', () => {
    const s = buildDownstreamScript('dedge_t', plans);
    expect(s.split('\n').slice(0, 3)).toEqual(['table inet dedge_t {}', 'delete table inet dedge_t', 'table inet dedge_t {']);
    expect(s).toContain('map out4 { type ipv4_addr : counter; elements = { 10.0.0.2 : "d0_out" }; }');
    expect(s).toContain('map in6 { type ipv6_addr : counter; elements = { 2001:db8::2 : "d0_in" }; }');
    expect(s).toContain('map outmac { type ether_addr : counter; elements = { aa:bb:cc:00:11:22 : "d1_out" }; }');
    expect(s).toContain('set dst6 { type ipv6_addr . ipv6_addr; flags dynamic,timeout; timeout 600s; size 65536; counter; }');
    for (const hook of ['forward', 'input', 'output']) expect(s).toContain(`type filter hook ${hook} priority -300; policy accept;`);
    // ether saddr only where a link-layer header exists (not on locally generated output)
    expect(s.match(/ether saddr/g)).toHaveLength(2);
    expect(() => buildDownstreamScript('bad name; flush ruleset', plans)).toThrow(/table name/);
  });

  it('parses counters and destination elements from nft -j output, tolerating extra objects', () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: '1.0.6' } },
        { counter: { family: 'inet', name: 'd0_out', table: 't', packets: 3, bytes: 300 } },
        { counter: { family: 'inet', name: 'd0_in', table: 't', packets: 2, bytes: 120 } },
        {
          set: {
            name: 'dst4',
            type: ['ipv4_addr', 'ipv4_addr'],
            elem: [
              { elem: { val: { concat: ['10.0.0.2', '1.1.1.1'] }, expires: 599, counter: { packets: 3, bytes: 300 } } },
              { elem: { val: 'odd' } },
            ],
          },
        },
        { set: { name: 'dst6', elem: [{ elem: { val: { concat: ['2001:db8::2', '2001:db8:1::1'] } } }] } },
        { rule: { chain: 'count_forward' } },
      ],
    });
    const r = parseDownstreamJson(json);
    expect(r.counters.get('d0_out')).toEqual({ packets: 3, bytes: 300 });
    expect([...r.destinations]).toEqual([
      ['10.0.0.2 1.1.1.1', { packets: 3, bytes: 300 }],
      ['2001:db8::2 2001:db8:1::1', { packets: 0, bytes: 0 }],
    ]);
    expect(() => parseDownstreamJson('{"x":1}')).toThrow('nft -j: no nftables array');
    expect(() => parseDownstreamJson('not json')).toThrow();
  });
});
