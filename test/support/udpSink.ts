// Child process for tests: a UDP sink. `node udpSink.ts <host>` binds an ephemeral port on host, prints
// {"port": P}, and drops whatever arrives until its stdin ends.
import dgram from 'node:dgram';

const host = process.argv[2] ?? '127.0.0.1';
const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
s.on('message', () => {});
s.bind(0, host, () => process.stdout.write(`${JSON.stringify({ port: s.address().port })}\n`));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
