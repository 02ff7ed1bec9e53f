// Raw frames over a real Unix socket (net + @smithy/eventstream-codec, not our own encoder): every kind
// of bad input gets a ProtocolError on stream 0 and closes only that connection, while a real SDK
// client connected beforehand keeps working (docs/greengrass-ipc.md, wire protocol: stream-id rules, limits).

import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { EventStreamCodec, type Message, type MessageHeaders } from '@smithy/eventstream-codec';
import type { greengrasscoreipc } from 'aws-iot-device-sdk-v2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GreengrassEmulator } from '../../src/ipc/emulator/emulator.ts';
import { closeAll, QOS1, sdkClient, tempDir } from '../support/ipc.ts';
import { until } from '../support/until.ts';

const codec = new EventStreamCodec(
  (b) => new TextDecoder().decode(b),
  (s) => new TextEncoder().encode(s),
);

let tmp: ReturnType<typeof tempDir>;
let emu: GreengrassEmulator;
let good: greengrasscoreipc.Client;
const sdkClients: greengrasscoreipc.Client[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  tmp = tempDir();
  emu = new GreengrassEmulator({ socketPath: join(tmp.dir, 'ipc.sock'), token: 'GOODTOKEN0000001' });
  await emu.start();
  good = sdkClient(emu.socketPath, 'GOODTOKEN0000001');
  sdkClients.push(good);
  await good.connect();
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  // The good client is unaffected by whatever the previous test sent.
  await good.publishToIoTCore({ topicName: 'defender-edge/still-alive', qos: QOS1, payload: 'ok' });
});

afterAll(async () => {
  await closeAll(sdkClients);
  await emu.stop();
  tmp.cleanup();
});

type Headers = Record<string, { type: 'integer'; value: number } | { type: 'string'; value: string }>;

function rpc(type: number, flags: number, streamId: number, extra: Record<string, string> = {}, body = ''): Buffer {
  const headers: Headers = {
    ':message-type': { type: 'integer', value: type },
    ':message-flags': { type: 'integer', value: flags },
    ':stream-id': { type: 'integer', value: streamId },
  };
  for (const [k, v] of Object.entries(extra)) headers[k] = { type: 'string', value: v };
  return Buffer.from(codec.encode({ headers: headers as MessageHeaders, body: new TextEncoder().encode(body) }));
}

const CONNECT = (): Buffer => rpc(4, 0, 0, { ':version': '0.1.0' }, JSON.stringify({ authToken: 'GOODTOKEN0000001' }));

interface RawConn {
  socket: Socket;
  messages: Message[];
  closed: Promise<void>;
}

/** A raw client that splits and decodes what the server sends. */
async function raw(): Promise<RawConn> {
  const socket = createConnection(emu.socketPath);
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const messages: Message[] = [];
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 4 && buf.length >= buf.readUInt32BE(0)) {
      const n = buf.readUInt32BE(0);
      messages.push(codec.decode(buf.subarray(0, n)));
      buf = buf.subarray(n);
    }
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, messages, closed };
}

async function connected(): Promise<RawConn> {
  const c = await raw();
  c.socket.write(CONNECT());
  await until(() => c.messages.length === 1, 5000, 'ConnectAck');
  expect(c.messages[0]!.headers[':message-type']!.value).toBe(5);
  expect(c.messages[0]!.headers[':message-flags']!.value).toBe(1);
  return c;
}

/** The connection got exactly one ProtocolError on stream 0 (JSON message) and was closed. */
async function expectProtocolError(c: RawConn, pattern: RegExp): Promise<void> {
  await c.closed;
  const last = c.messages[c.messages.length - 1]!;
  expect(last.headers[':message-type']!.value).toBe(6);
  expect(last.headers[':stream-id']!.value).toBe(0);
  expect(last.headers[':content-type']!.value).toBe('application/json');
  expect(JSON.parse(new TextDecoder().decode(last.body)).message).toMatch(pattern);
}

describe('bad frames', () => {
  it('garbage bytes', async () => {
    const before = emu.status().protocolErrors;
    const c = await raw();
    c.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await expectProtocolError(c, /outside/);
    expect(emu.status().protocolErrors).toBe(before + 1);
  });

  it('garbage with a plausible length (CRC mismatch)', async () => {
    const c = await raw();
    const junk = Buffer.alloc(40, 0x41);
    junk.writeUInt32BE(40, 0);
    c.socket.write(junk);
    await expectProtocolError(c, /undecodable/);
  });

  it('bad prelude CRC and bad message CRC', async () => {
    for (const offset of [8, -1]) {
      const c = await raw();
      const f = CONNECT();
      const at = offset < 0 ? f.length + offset : offset;
      f[at] = f[at]! ^ 0xff;
      c.socket.write(f);
      await expectProtocolError(c, /undecodable/);
    }
  });

  it('oversized frame (length above 24 MiB) is refused from its prelude', async () => {
    const c = await connected();
    const head = Buffer.alloc(12);
    head.writeUInt32BE(24 * 1024 * 1024 + 1, 0);
    c.socket.write(head);
    await expectProtocolError(c, /outside/);
  });

  it('truncated frame: headers longer than the message', async () => {
    const c = await raw();
    const f = CONNECT();
    f.writeUInt32BE(f.length + 100, 4); // headers length beyond the end
    c.socket.write(f);
    await expectProtocolError(c, /undecodable/);
  });

  it('truncated frame then the peer goes away: connection dropped, nothing else affected', async () => {
    const c = await connected();
    c.socket.end(CONNECT().subarray(0, 10));
    await c.closed;
    expect(c.messages).toHaveLength(1);
  });

  it('request before Connect, and a second Connect', async () => {
    const c = await raw();
    c.socket.write(rpc(0, 0, 1, { operation: 'aws.greengrass#UpdateState' }, '{"state":"RUNNING"}'));
    await expectProtocolError(c, /CONNECT message must be received/);
    const d = await connected();
    d.socket.write(CONNECT());
    await expectProtocolError(d, /CONNECT message must be received/);
  });

  it('missing or mistyped RPC headers', async () => {
    const c = await connected();
    c.socket.write(Buffer.from(codec.encode({ headers: { ':message-type': { type: 'integer', value: 0 } }, body: new Uint8Array() })));
    await expectProtocolError(c, /:message-flags/);
    const d = await connected();
    const h: MessageHeaders = {
      ':message-type': { type: 'integer', value: 0 },
      ':message-flags': { type: 'integer', value: 0 },
      ':stream-id': { type: 'string', value: '1' },
    };
    d.socket.write(Buffer.from(codec.encode({ headers: h, body: new Uint8Array() })));
    await expectProtocolError(d, /:stream-id/);
  });

  it('wrong stream ids: skipped id, application message on 0, negative, no operation, closed id', async () => {
    const cases: [Buffer[], RegExp][] = [
      [[rpc(0, 0, 2, { operation: 'aws.greengrass#UpdateState' }, '{}')], /monotonically/],
      [[rpc(0, 0, 0, { operation: 'aws.greengrass#UpdateState' }, '{}')], /not allowed on stream-id 0/],
      [[rpc(0, 0, -1, { operation: 'aws.greengrass#UpdateState' }, '{}')], /invalid stream-id/],
      [[rpc(0, 0, 1, {}, '{}')], /operation header/],
      [[rpc(4, 0, 1, {}, '{}')], /only allowed on stream-id 0/],
      [[rpc(0, 0, 1, { operation: 'aws.greengrass#UpdateState' }, '{"state":"RUNNING"}'), rpc(0, 0, 1, {}, '{}')], /already closed/],
    ];
    for (const [frames, pattern] of cases) {
      const c = await connected();
      for (const f of frames) c.socket.write(f);
      await expectProtocolError(c, pattern);
    }
  });

  it('a late terminate for a closed stream is ignored; Ping is echoed; unknown operations are answered', async () => {
    const c = await connected();
    c.socket.write(rpc(0, 0, 1, { operation: 'aws.greengrass#UpdateState' }, '{"state":"RUNNING"}'));
    c.socket.write(rpc(0, 2, 1));
    c.socket.write(rpc(2, 0, 0, { 'x-echo': 'yes', ':skip': 'no' }, 'ping!'));
    c.socket.write(rpc(0, 0, 2, { operation: 'aws.greengrass#Bogus' }, '{}'));
    await until(() => c.messages.length === 4, 5000, 'three replies');
    const [, resp, pong, unsupported] = c.messages;
    expect(resp!.headers['service-model-type']!.value).toBe('aws.greengrass#UpdateStateResponse');
    expect(resp!.headers[':message-flags']!.value).toBe(2);
    expect(pong!.headers[':message-type']!.value).toBe(3);
    expect(pong!.headers['x-echo']!.value).toBe('yes');
    expect(pong!.headers[':skip']).toBeUndefined();
    expect(new TextDecoder().decode(pong!.body)).toBe('ping!');
    expect(unsupported!.headers[':message-type']!.value).toBe(1);
    expect(unsupported!.headers['service-model-type']).toBeUndefined();
    expect(JSON.parse(new TextDecoder().decode(unsupported!.body))).toEqual({
      error: 'Unsupported Operation',
      message: 'aws.greengrass#Bogus is an unsupported operation.',
    });
    expect(c.socket.destroyed).toBe(false);
  });

  it('a wrong :version is refused with ConnectAck flags 0 and a close', async () => {
    const c = await raw();
    c.socket.write(rpc(4, 0, 0, { ':version': '9.9.9' }, JSON.stringify({ authToken: 'GOODTOKEN0000001' })));
    await c.closed;
    expect(c.messages.map((m) => [m.headers[':message-type']!.value, m.headers[':message-flags']!.value])).toEqual([[5, 0]]);
  });

  it('a request body that is not JSON gets an unmodeled text/plain error, connection kept', async () => {
    const c = await connected();
    c.socket.write(rpc(0, 0, 1, { operation: 'aws.greengrass#UpdateState' }, '{nope'));
    await until(() => c.messages.length === 2);
    expect(c.messages[1]!.headers[':message-type']!.value).toBe(1);
    expect(c.messages[1]!.headers[':content-type']!.value).toBe('text/plain');
    expect(c.socket.destroyed).toBe(false);
  });
});
