// Sockets the collector tests open on loopback, in their own process (never anything else's).
import dgram from 'node:dgram';
import type net from 'node:net';

/** Listen on `host` at a free port; resolves the port. */
export const listen = (server: net.Server, host: string): Promise<number> =>
  new Promise<number>((resolve) => server.listen({ host, port: 0 }, () => resolve((server.address() as net.AddressInfo).port)));

/** One UDP socket bound on 127.0.0.1 and one on ::1, added to `sockets` for the caller to close. */
export async function bindUdpLoopbacks(sockets: dgram.Socket[]): Promise<{ udp4: number; udp6: number }> {
  const ports = { udp4: 0, udp6: 0 };
  for (const type of ['udp4', 'udp6'] as const) {
    const s = dgram.createSocket(type);
    sockets.push(s);
    await new Promise<void>((r) => s.bind({ address: type === 'udp4' ? '127.0.0.1' : '::1', port: 0 }, () => r()));
    ports[type] = s.address().port;
  }
  return ports;
}
