// The demo's cast, each run as its own process so that enforcement acts on a real, separate pid:
//  - rogue-agent: the scenario's rogue agent (docs/demo.md#the-scenario) — its own MQTT client, subscribes QoS 1 to
//    a topic and publishes {"message": <100 random A-Z0-9>} to it in a loop, so it sends and receives.
//  - tcp-streamer: a second rogue that just streams bytes to a TCP sink.
//  - innocent: a well-behaved neighbour that must never be touched.
//  - device: a downstream device (on a real gateway: another machine) publishing its own Defender reports.
// Each sets its process title, so /proc/PID/comm — what a violation names — says who it is.
// The MQTT actors talk to the core's client-device broker as client devices do: over TLS with a
// certificate (--ca/--cert/--key) and their thing name as client id.

import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { type IClientOptions, connect as mqttConnect } from 'mqtt';
import { parseCommandArgs, UsageError } from '../cli/args.ts';

/** The TLS options of an MQTT actor, in every command that connects. */
const TLS_OPTIONS = {
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
} as const;

/** mqtt.js options from --ca/--cert/--key (all three, or none for a plain-TCP broker). */
function tlsOptions(values: { ca?: string; cert?: string; key?: string }): IClientOptions {
  const given = [values.ca, values.cert, values.key].filter((v) => v !== undefined).length;
  if (given === 0) return {};
  if (given !== 3) throw new UsageError('--ca, --cert and --key go together');
  const read = (option: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new UsageError(`${option}: ${path}: ${(err as Error).message}`);
    }
  };
  return { ca: read('--ca', values.ca!), cert: read('--cert', values.cert!), key: read('--key', values.key!), rejectUnauthorized: true };
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export function rogueMessage(): string {
  let s = '';
  for (let i = 0; i < 100; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return JSON.stringify({ message: s });
}

function positiveInt(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 3_600_000)
    throw new UsageError(`${name}: must be an integer from 1 to 3600000, got ${JSON.stringify(text)}`);
  return n;
}

function announce(what: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ pid: process.pid, ...what })}\n`);
}

/**
 * Stop on SIGTERM/SIGINT — and when the demo that started us is gone (our parent pid changes: it was
 * killed without a chance to clean up), so an actor never outlives its demo flooding a dead broker.
 */
function stopOn(signalHandler: () => void): void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    signalHandler();
  };
  process.on('SIGTERM', once);
  process.on('SIGINT', once);
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) once();
  }, 1000).unref();
}

/** `_rogue-agent --url mqtts://127.0.0.1:PORT [--topic /rogue/agent] [--interval-ms 1000] [--client-id ID] [--ca F --cert F --key F]` */
export async function rogueAgentCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      url: { type: 'string' },
      topic: { type: 'string', default: '/rogue/agent' },
      'interval-ms': { type: 'string', default: '1000' },
      'client-id': { type: 'string', default: `rogue-${process.pid}` },
      ...TLS_OPTIONS,
    },
    false,
  );
  if (!values.url) throw new UsageError('--url is required');
  const intervalMs = positiveInt(values['interval-ms']!, '--interval-ms');
  process.title = 'rogue-agent';
  const client = mqttConnect(values.url, { clientId: values['client-id'], clean: true, reconnectPeriod: 500, ...tlsOptions(values) });
  let sent = 0;
  let received = 0;
  client.on('message', () => {
    received++;
  });
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
  const { values } = parseCommandArgs(
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      chunk: { type: 'string', default: '1024' },
      'interval-ms': { type: 'string', default: '50' },
    },
    false,
  );
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError('--port: must be a TCP port');
  const chunk = Buffer.alloc(positiveInt(values.chunk!, '--chunk'), 0x61);
  const intervalMs = positiveInt(values['interval-ms']!, '--interval-ms');
  process.title = 'tcp-streamer';
  const socket = tcpConnect({ host: values.host!, port, noDelay: true });
  let sent = 0;
  socket.on('connect', () => announce({ role: 'tcp-streamer', connected: true }));
  socket.on('error', () => {
    /* the sink going away ends the stream; nothing to do */
  });
  const timer = setInterval(() => {
    if (socket.writable) {
      socket.write(chunk);
      sent += chunk.length;
    }
  }, intervalMs);
  return new Promise<number>((resolve) => {
    stopOn(() => {
      clearInterval(timer);
      socket.destroy();
      announce({ role: 'tcp-streamer', sent });
      resolve(0);
    });
  });
}

/**
 * `_innocent [--url mqtts://… [--client-id ID] [--ca F --cert F --key F]] [--interval-ms 5000]`: a quiet neighbour. With --url it publishes a small
 * status message every interval (≈ 40 bytes / 5 s ≈ 2.4 KB and 60 messages per 300 s: well inside the seed
 * profile's 10000 bytes and 100 messages), so it is measured like the rogues and must still be left alone.
 */
export async function innocentCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      url: { type: 'string' },
      'interval-ms': { type: 'string', default: '5000' },
      'client-id': { type: 'string', default: `innocent-${process.pid}` },
      ...TLS_OPTIONS,
    },
    false,
  );
  const intervalMs = positiveInt(values['interval-ms']!, '--interval-ms');
  process.title = 'innocent';
  const client =
    values.url === undefined
      ? undefined
      : mqttConnect(values.url, { clientId: values['client-id'], clean: true, reconnectPeriod: 500, ...tlsOptions(values) });
  let ticks = 0;
  if (client) client.on('connect', () => announce({ role: 'innocent', connected: true }));
  const timer = setInterval(() => {
    ticks++;
    if (client?.connected) client.publish('innocent/status', JSON.stringify({ ok: true, tick: ticks }), { qos: 0 });
  }, intervalMs);
  return new Promise<number>((resolve) => {
    stopOn(() => {
      clearInterval(timer);
      announce({ role: 'innocent', ticks });
      if (client) client.end(true, () => resolve(0));
      else resolve(0);
    });
    // Only once SIGTERM is handled: whoever reads "started" may stop us at once (stdout to a pipe is
    // synchronous, so the line can be read before the next statement here runs).
    if (!client) announce({ role: 'innocent', started: true });
  });
}

/**
 * `_device --url mqtts://… --thing NAME [--interval-ms 2000] [--ca F --cert F --key F]`: a downstream device that runs its own Device
 * Defender agent: publishes a report (docs/reports.md) with its MQTT connection's byte deltas to
 * `$aws/things/NAME/defender/metrics/json` and prints each accepted/rejected answer it gets back.
 */
export async function deviceCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      url: { type: 'string' },
      thing: { type: 'string' },
      'interval-ms': { type: 'string', default: '2000' },
      ...TLS_OPTIONS,
    },
    false,
  );
  if (!values.url) throw new UsageError('--url is required');
  if (!values.thing || !/^[a-zA-Z0-9:_-]{1,128}$/.test(values.thing))
    throw new UsageError('--thing: must be a thing name ([a-zA-Z0-9:_-]{1,128})');
  const intervalMs = positiveInt(values['interval-ms']!, '--interval-ms');
  process.title = 'device-sim';
  const topic = `$aws/things/${values.thing}/defender/metrics/json`;
  const client = mqttConnect(values.url, { clientId: values.thing, clean: true, reconnectPeriod: 500, ...tlsOptions(values) });
  let reportId = Date.now();
  let lastOut = 0;
  let lastIn = 0;
  client.on('connect', () => {
    client.subscribe([`${topic}/accepted`, `${topic}/rejected`], { qos: 1 });
    announce({ role: 'device', connected: true });
  });
  client.on('message', (t, payload) => {
    let body: unknown;
    try {
      body = JSON.parse(payload.toString());
    } catch {
      body = payload.toString();
    }
    announce({ role: 'device', answer: t.endsWith('/accepted') ? 'accepted' : 'rejected', body });
  });
  const timer = setInterval(() => {
    if (!client.connected) return;
    const stream = client.stream as unknown as { bytesWritten?: number; bytesRead?: number };
    const out = stream.bytesWritten ?? 0;
    const inn = stream.bytesRead ?? 0;
    const report = {
      header: { report_id: ++reportId, version: '1.0' },
      metrics: {
        network_stats: { bytes_in: Math.max(0, inn - lastIn), bytes_out: Math.max(0, out - lastOut), packets_in: 0, packets_out: 0 },
      },
    };
    lastOut = out;
    lastIn = inn;
    client.publish(topic, JSON.stringify(report), { qos: 1 });
  }, intervalMs);
  return new Promise<number>((resolve) => {
    stopOn(() => {
      clearInterval(timer);
      client.end(true, () => resolve(0));
    });
  });
}
