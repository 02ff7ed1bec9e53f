// Child process for integration tests: an MQTT client with a known message count (the rogue agent of
// docs/demo.md#the-scenario, made deterministic).
//   node mqttPublisher.ts <mqtt-url> <topic> <count> [payloadBytes]
// Connects, prints {"connected": <local port>, "pid": P}, waits for a line on stdin, publishes <count>
// QoS 1 messages one after the other (each waits for its PUBACK, so each PUBLISH is its own TCP segment),
// prints {"published": <count>}, and stays connected until stdin ends.
import { writeFileSync } from 'node:fs';
import readline from 'node:readline';
import mqtt from 'mqtt';

const [url, topic = 'dedge/test', countArg = '10', sizeArg = '100'] = process.argv.slice(2);
const count = Number(countArg);
const payload = Buffer.alloc(Number(sizeArg), 0x41);
if (!url || !Number.isInteger(count) || count < 0) {
  process.stderr.write('usage: mqttPublisher.ts <mqtt-url> <topic> <count> [payloadBytes]\n');
  process.exit(2);
}
if (process.env.COMM) writeFileSync('/proc/self/comm', process.env.COMM);
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

const client = mqtt.connect(url, { clientId: `dedge-pub-${process.pid}`, clean: true, reconnectPeriod: 0, keepalive: 600 });
client.on('error', (e) => {
  process.stderr.write(`mqttPublisher: ${e.message}\n`);
  process.exit(1);
});
client.once('connect', () => {
  const stream = (client as unknown as { stream: { localPort?: number } }).stream;
  out({ connected: stream.localPort, pid: process.pid });
  const rl = readline.createInterface({ input: process.stdin });
  rl.once('line', async () => {
    for (let i = 0; i < count; i++) await client.publishAsync(topic, payload, { qos: 1 });
    out({ published: count });
  });
  rl.once('close', () => client.end(true, () => process.exit(0)));
});
