// The demo's cast, each run as its own process so that enforcement acts on a real, separate pid:
//  - rogue-agent: the walkthrough's rogue agent (rogue-agent.md) — its own MQTT client, subscribes QoS 1 to
//    a topic and publishes {"message": <100 random A-Z0-9>} to it in a loop, so it sends and receives.
//  - tcp-streamer: a second rogue that just streams bytes to a TCP sink.
//  - innocent: a well-behaved neighbour that must never be touched.
import { connect as mqttConnect } from 'mqtt';
import { connect as tcpConnect } from 'node:net';
import { randomInt } from 'node:crypto';
import { parseCommandArgs } from '../cli/args.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export function rogueMessage(): string {
  let s = '';
  for (let i = 0; i < 100; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return JSON.stringify({ message: s });
}

function announce(what: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ pid: process.pid, ...what }) + '\n');
}

function stopOn(signalHandler: () => void): void {
  process.on('SIGTERM', signalHandler);
  process.on('SIGINT', signalHandler);
}

/** `_rogue-agent --url mqtt://127.0.0.1:PORT [--topic /rogue/agent] [--interval-ms 1000] [--client-id ID]` */
export async function rogueAgentCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    url: { type: 'string' },
    topic: { type: 'string', default: '/rogue/agent' },
    'interval-ms': { type: 'string', default: '1000' },
    'client-id': { type: 'string', default: `rogue-${process.pid}` },
  }, false);
  if (!values.url) throw new Error('--url is required');
  const intervalMs = Math.max(1, Number(values['interval-ms']));
  const client = mqttConnect(values.url, { clientId: values['client-id'], clean: true, reconnectPeriod: 500 });
  let sent = 0;
  let received = 0;
  client.on('message', () => { received++; });
  client.on('connect', () => {
    client.subscribe(values.topic!, { qos: 1 });
    announce({ role: 'rogue-agent', connected: true });
  });
  const timer = setInterval(() => {
    if (!client.connected) return;
    client.publish(values.topic!, rogueMessage(), { qos: 1 });
    sent++;
  }, intervalMs);
  return new Promise<number>((resolve) => {
    stopOn(() => {
      clearInterval(timer);
      client.end(true, () => resolve(0));
      announce({ role: 'rogue-agent', sent, received });
    });
  });
}

/** `_tcp-streamer --port PORT [--host 127.0.0.1] [--chunk 1024] [--interval-ms 50]` */
export async function tcpStreamerCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    chunk: { type: 'string', default: '1024' },
    'interval-ms': { type: 'string', default: '50' },
  }, false);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('--port must be a TCP port');
  const chunk = Buffer.alloc(Math.max(1, Number(values.chunk)), 0x61);
  const socket = tcpConnect({ host: values.host!, port, noDelay: true });
  let sent = 0;
  socket.on('connect', () => announce({ role: 'tcp-streamer', connected: true }));
  socket.on('error', () => { /* the sink going away ends the stream; nothing to do */ });
  const timer = setInterval(() => {
    if (socket.writable) {
      socket.write(chunk);
      sent += chunk.length;
    }
  }, Math.max(1, Number(values['interval-ms'])));
  return new Promise<number>((resolve) => {
    stopOn(() => {
      clearInterval(timer);
      socket.destroy();
      announce({ role: 'tcp-streamer', sent });
      resolve(0);
    });
  });
}

/** `_innocent`: a quiet neighbour; ticks every few seconds and stays well inside every behavior. */
export async function innocentCommand(_argv: string[]): Promise<number> {
  announce({ role: 'innocent', started: true });
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 5000);
  return new Promise<number>((resolve) => {
    stopOn(() => {
      clearInterval(timer);
      announce({ role: 'innocent', ticks });
      resolve(0);
    });
  });
}
