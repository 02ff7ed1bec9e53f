import { describe, expect, it } from 'vitest';
import { parseSsTcpInfo, ssTcpInfoArgs } from '../../src/collector/ssTcpInfo.ts';

const SS = [
  'ESTAB 0      0      127.0.0.1:34630    127.0.0.1:35881 ino:17437 sk:3 cgroup:/ <-> ts sack bbr wscale:10,10 rto:200 ' +
    'rtt:0.003/0.001 mss:32741 cwnd:10 bytes_sent:5000 bytes_acked:4001 bytes_received:1200 segs_out:12 segs_in:9 ' +
    'data_segs_out:10 bbr:(bw:0bps,mrtt:0.003) send 873093333333bps lastsnd:4424',
  'ESTAB 0      0      [::1]:33899 [::1]:53060 ino:38893 sk:1019 cgroup:/ <-> ts sack bbr wscale:10,10 rto:204 segs_in:2 ' +
    'bbr:(bw:0bps,mrtt:0.023) send 113975652174bps',
  'TIME-WAIT 0 0 127.0.0.1:1 127.0.0.1:2 ino:0 sk:9 <-> ',
  'ESTAB 0 0 10.0.0.1:22 10.0.0.9:5000 sk:4 <-> bytes_acked:7',
  '',
].join('\n');

describe('ss tcp_info parsing', () => {
  it('reads per-socket counters by inode; absent counters are 0; inode 0 is skipped', () => {
    const r = parseSsTcpInfo(SS);
    expect([...r.sockets.keys()]).toEqual([17437, 38893]);
    expect(r.sockets.get(17437)).toEqual({ bytesAcked: 4001, bytesReceived: 1200, segsOut: 12, segsIn: 9, dataSegsOut: 10, dataSegsIn: 0 });
    expect(r.sockets.get(38893)).toEqual({ bytesAcked: 0, bytesReceived: 0, segsOut: 0, segsIn: 2, dataSegsOut: 0, dataSegsIn: 0 });
    expect(r.badLines).toEqual(['line 4: no ino: field (was ss run with -e?)']);
  });

  it('builds a kernel-side filter that drops loopback and own destinations, IPv6 in brackets', () => {
    expect(ssTcpInfoArgs([])).toEqual(['-t', '-n', '-i', '-e', '-O', '-H', 'state', 'connected']);
    expect(ssTcpInfoArgs(['127.0.0.0/8', '::1', '10.0.0.1']).slice(8)).toEqual([
      '!',
      '(',
      'dst',
      '127.0.0.0/8',
      'or',
      'dst',
      '[::1]',
      'or',
      'dst',
      '10.0.0.1',
      ')',
    ]);
  });
});
