import { describe, expect, it } from 'vitest';
import {
  decodeProcAddress,
  parseProcNetSockets,
  TCP_ESTABLISHED,
  TCP_LISTEN,
  UDP_UNCONNECTED,
} from '../../src/collector/procNetSockets.ts';

// Real lines (x86_64, little-endian) captured from /proc/net/tcp and tcp6, plus damaged ones.
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 16732 1 0000000000000000 100 0 0 10 0
   1: 0100007F:8746 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 17437 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:8748 0100007F:1F90 06 00000000:00000000 03:00000F3B 00000000     0        0 0 3 0000000000000000
   3: garbage
   4: ZZ00007F:1F90 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000
`;
// A tcp6 line is longer than a source line: each is split after its local address.
const TCP6 = [
  '  sl  local_address                         ' +
    'remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 00000000000000000000000001000000:1F91 ' +
    '00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 38890 1 0000000000000000 100 0 0 10 0',
  '   1: 00000000000000000000000001000000:D244 ' +
    '00000000000000000000000001000000:1F91 01 00000000:00000000 00:00000000 00000000     0        0 38893 1 0000000000000000 20 4 30 10 -1',
  '   2: 0000000000000000FFFF00000100007F:1F92 ' +
    '0000000000000000FFFF00000500A8C0:C350 01 00000000:00000000 00:00000000 00000000     0        0 38895 1 0000000000000000 20 4 30 10 -1',
  '   3: 000080FE00000000FF0F02AB3412FEFF:0016 ' +
    '00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 38899 1 0000000000000000 100 0 0 10 0',
  '',
].join('\n');
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 20001 2 0000000000000000 0
  124: 0100007F:A000 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 20002 2 0000000000000000 0
`;

describe('parseProcNetSockets', () => {
  it('decodes IPv4 listening and established sockets and skips bad lines with a reason', () => {
    const r = parseProcNetSockets(TCP, 'tcp', 'LE');
    expect(r.entries).toHaveLength(3);
    expect(r.entries[0]).toEqual({
      protocol: 'tcp',
      localAddress: '127.0.0.1',
      localPort: 8080,
      remoteAddress: '0.0.0.0',
      remotePort: 0,
      state: TCP_LISTEN,
      uid: 0,
      inode: 16732,
    });
    expect(r.entries[1]).toMatchObject({
      localPort: 34630,
      remoteAddress: '127.0.0.1',
      remotePort: 8080,
      state: TCP_ESTABLISHED,
      uid: 1000,
      inode: 17437,
    });
    expect(r.entries[2]).toMatchObject({ state: 6, inode: 0 }); // TIME_WAIT: no owner
    expect(r.badLines).toEqual(['line 5: expected at least 10 columns, got 2', 'line 6: unparsable socket line']);
  });

  it('decodes IPv6 (loopback, IPv4-mapped as plain IPv4, link-local) in RFC 5952 form', () => {
    const r = parseProcNetSockets(TCP6, 'tcp', 'LE');
    expect(r.badLines).toEqual([]);
    expect(r.entries.map((e) => [e.localAddress, e.localPort, e.remoteAddress, e.remotePort])).toEqual([
      ['::1', 8081, '::', 0],
      ['::1', 53828, '::1', 8081],
      ['127.0.0.1', 8082, '192.168.0.5', 50000],
      ['fe80::ab02:fff:fffe:1234', 22, '::', 0],
    ]);
  });

  it('keeps UDP states so bound (unconnected) sockets can be told from connected ones', () => {
    const r = parseProcNetSockets(UDP, 'udp', 'LE');
    expect(r.entries.map((e) => [e.localPort, e.state, e.uid])).toEqual([
      [5353, UDP_UNCONNECTED, 101],
      [40960, 1, 0],
    ]);
  });

  it('honours big-endian hosts and rejects malformed hex', () => {
    expect(decodeProcAddress('7F000001', 'BE')).toBe('127.0.0.1');
    expect(decodeProcAddress('0100007F', 'LE')).toBe('127.0.0.1');
    expect(decodeProcAddress('00000000000000000000000000000001', 'BE')).toBe('::1');
    expect(decodeProcAddress('0100007', 'LE')).toBeUndefined();
    expect(decodeProcAddress('0100007G', 'LE')).toBeUndefined();
  });

  it('returns nothing for a header-only or empty file', () => {
    expect(parseProcNetSockets('', 'tcp', 'LE')).toEqual({ entries: [], badLines: [] });
    expect(parseProcNetSockets(TCP.split('\n')[0]!, 'tcp', 'LE').entries).toEqual([]);
  });
});
