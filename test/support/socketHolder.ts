// Child process for tests and benchmarks: holds N loopback TCP sockets open (N/2 connections, both ends
// in this process) until stdin closes or it gets SIGTERM. Prints one JSON line when ready:
// {"port": <listening port>, "sockets": <open sockets>}. Run: node socketHolder.ts <sockets> [host]
import net from 'node:net';

const wanted = Number(process.argv[2] ?? '100');
const host = process.argv[3] ?? '127.0.0.1';
if (!Number.isInteger(wanted) || wanted < 2 || wanted > 50_000) {
  process.stderr.write('socketHolder: sockets must be an integer 2..50000\n');
  process.exit(2);
}
const pairs = Math.floor(wanted / 2);
const accepted: net.Socket[] = [];
const clients: net.Socket[] = [];
const server = net.createServer((s) => {
  accepted.push(s);
  s.on('error', () => {});
});
server.maxConnections = pairs + 10;
server.listen({ host, port: 0, backlog: 4096 }, async () => {
  const { port } = server.address() as net.AddressInfo;
  // Connect in bounded batches so the listen backlog never overflows.
  const batch = 200;
  for (let i = 0; i < pairs; i += batch) {
    const n = Math.min(batch, pairs - i);
    await Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<void>((resolve, reject) => {
            const c = net.connect({ host, port }, () => resolve());
            c.on('error', reject);
            clients.push(c);
          }),
      ),
    );
  }
  while (accepted.length < pairs) await new Promise((r) => setTimeout(r, 5));
  process.stdout.write(`${JSON.stringify({ port, sockets: accepted.length + clients.length })}\n`);
});
const stop = () => {
  for (const s of [...clients, ...accepted]) s.destroy();
  server.close();
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
