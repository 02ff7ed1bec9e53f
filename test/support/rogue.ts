// Child process for tests and benchmarks: a rogue that tries not to be seen, keeping its own clock.
//   node rogue.ts <style> <host> <tcpPort> <udpPort> [bytes=2048] [intervalMs=100]
// styles:
//   stream     one TCP connection, `bytes` written every interval
//   reconnect  a new TCP connection for every `bytes` (connect, write, close; the next after the close)
//   udp        one datagram of `bytes` every interval
//   fork       a new child process for every send; the child opens its own TCP connection, writes
//              `bytes`, and exits (the parent itself never sends)
//   innocent   a datagram of `bytes` every interval (run it slowly: it must stay under any threshold)
// Every send prints one JSON line {"t": ms since the epoch after the send returned, "sent": bytes, "pid"},
// from whichever process sent (a fork child prints its own): cumulative bytes over time, by the rogue's
// own clock, from which the test computes when it crossed a threshold. SIGTERM prints {"t", "signal"} and
// exits. process.title names the process (its comm) `rogue-<style>` or `innocent`.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';

const [style = '', host = '127.0.0.1', tcpPortArg = '0', udpPortArg = '0', bytesArg = '2048', intervalArg = '100'] = process.argv.slice(2);
const tcpPort = Number(tcpPortArg);
const udpPort = Number(udpPortArg);
const bytes = Number(bytesArg);
const intervalMs = Number(intervalArg);
const payload = Buffer.alloc(bytes, 0x72);
const out = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ...o, pid: process.pid })}\n`);

if (style === 'child') {
  // a fork child: one connection, one write, gone. The line goes out right after the write (a pipe write
  // is synchronous): the family may be stopped any moment after the send that crosses the threshold.
  const s = net.connect({ host, port: tcpPort }, () => {
    s.write(payload);
    out({ t: Date.now(), sent: bytes });
    s.end();
  });
  s.on('error', () => process.exit(1));
  s.on('close', () => process.exit(0));
} else {
  process.title = style === 'innocent' ? 'innocent' : `rogue-${style}`;
  process.on('SIGTERM', () => {
    out({ t: Date.now(), signal: 'SIGTERM' });
    process.exit(0);
  });
  const tick = (fn: (next: () => void) => void) => {
    const next = () => setTimeout(() => fn(next), intervalMs);
    fn(next);
  };
  if (style === 'stream') {
    const s = net.connect({ host, port: tcpPort, noDelay: true }, () =>
      tick((next) => {
        s.write(payload);
        out({ t: Date.now(), sent: bytes });
        next();
      }),
    );
    s.on('error', () => process.exit(1));
  } else if (style === 'reconnect') {
    tick((next) => {
      const s = net.connect({ host, port: tcpPort }, () => s.end(payload, () => out({ t: Date.now(), sent: bytes })));
      s.on('error', () => next());
      s.on('close', () => next());
    });
  } else if (style === 'udp' || style === 'innocent') {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    tick((next) =>
      s.send(payload, udpPort, host, () => {
        out({ t: Date.now(), sent: bytes });
        next();
      }),
    );
  } else if (style === 'fork') {
    tick((next) => {
      const c = spawn(process.execPath, [process.argv[1]!, 'child', host, tcpPortArg, udpPortArg, bytesArg], {
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      c.on('exit', () => next());
      c.on('error', () => next());
    });
  } else {
    process.stderr.write(`rogue: unknown style '${style}'\n`);
    process.exit(2);
  }
}
