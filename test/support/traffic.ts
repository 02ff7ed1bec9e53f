// Child process for integration tests: real traffic with known byte counts.
//   node traffic.ts sink <host> [port]          TCP server; prints {"port":P} when listening, then
//                                               {"received":N} each time a connection closes
//   node traffic.ts send <host> <port> <bytes> [localAddress]
//                                               connects, waits for a line on stdin if WAIT=1 (so the
//                                               test can sample first), sends <bytes>, prints {"sent":N},
//                                               then closes and exits (with KEEP=1: when stdin ends)
//   node traffic.ts udp <host> <port> <bytes> [localAddress]   sends one datagram of <bytes>

import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';

const [mode, host = '127.0.0.1', portArg = '0', bytesArg = '0', localAddress] = process.argv.slice(2);
const port = Number(portArg);
const bytes = Number(bytesArg);
// Name the process as the test asks, so the test knows the comm the collector must report (Node itself
// names its main thread "MainThread").
if (process.env.COMM) writeFileSync('/proc/self/comm', process.env.COMM);
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

if (mode === 'sink') {
  const server = net.createServer((s) => {
    let n = 0;
    s.on('data', (d) => (n += d.length));
    s.on('close', () => out({ received: n }));
    s.on('error', () => {});
  });
  server.listen({ host, port }, () => out({ port: (server.address() as net.AddressInfo).port, pid: process.pid }));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
} else if (mode === 'send') {
  const sock = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) }, async () => {
    out({ connected: sock.localPort, pid: process.pid });
    if (process.env.WAIT === '1') {
      const rl = readline.createInterface({ input: process.stdin });
      await new Promise<void>((resolve) => rl.once('line', () => resolve()));
      rl.close();
    }
    const chunk = Buffer.alloc(16_384, 0x61);
    let left = bytes;
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!sock.write(chunk.subarray(0, n))) await new Promise((r) => sock.once('drain', r));
    }
    // Keep the connection open after sending (KEEP=1) so the test samples live sockets on both ends.
    if (process.env.KEEP === '1') {
      sock.write(Buffer.alloc(0), () => out({ sent: bytes }));
      process.stdin.on('end', () => sock.end());
      process.stdin.resume();
    } else {
      sock.end(() => out({ sent: bytes }));
    }
  });
  sock.on('close', () => process.exit(0));
  sock.on('error', (e) => {
    process.stderr.write(`send: ${e.message}\n`);
    process.exit(1);
  });
} else if (mode === 'udp') {
  const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  s.bind({ address: localAddress }, () =>
    s.send(Buffer.alloc(bytes, 0x62), port, host, (err) => {
      if (err) process.exit(1);
      out({ sent: bytes });
      s.close();
    }),
  );
} else {
  process.stderr.write(`traffic: unknown mode '${mode}'\n`);
  process.exit(2);
}
