// Eventstream-RPC message model on top of @smithy/eventstream-codec (docs/greengrass-ipc.md, wire protocol).
// The codec does the byte framing and CRCs; this module knows the RPC headers, types and flags.
import { EventStreamCodec, type Message, type MessageHeaders } from '@smithy/eventstream-codec';

// `:message-type` values (aws-c-event-stream event_stream_rpc.h).
export const MessageType = {
  ApplicationMessage: 0,
  ApplicationError: 1,
  Ping: 2,
  PingResponse: 3,
  Connect: 4,
  ConnectAck: 5,
  ProtocolError: 6,
  InternalError: 7,
} as const;
export type MessageTypeValue = (typeof MessageType)[keyof typeof MessageType];

// `:message-flags` bits (same header).
export const MessageFlags = { None: 0, ConnectionAccepted: 1, TerminateStream: 2 } as const;

export const SERVICE = 'aws.greengrass#GreengrassCoreIPC';

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();
const codec = new EventStreamCodec(
  (bytes: Uint8Array) => utf8Decoder.decode(bytes),
  (text: string) => utf8Encoder.encode(text),
);

/** One decoded RPC message with the three mandatory headers lifted out. */
export interface RpcFrame {
  type: number;
  flags: number;
  streamId: number;
  /** All headers, names lower-cased (aws-c-event-stream compares them case-insensitively). */
  headers: Map<string, Message['headers'][string]>;
  payload: Buffer;
}

export class RpcDecodeError extends Error {
  override name = 'RpcDecodeError';
}

/** Decode one whole frame; throws RpcDecodeError on a bad CRC, bad header or missing RPC header. */
export function decodeFrame(frame: Buffer): RpcFrame {
  let message: Message;
  try {
    message = codec.decode(frame);
  } catch (err) {
    throw new RpcDecodeError(`undecodable message: ${(err as Error).message}`);
  }
  const headers = new Map<string, Message['headers'][string]>();
  for (const [name, value] of Object.entries(message.headers)) headers.set(name.toLowerCase(), value);
  const int = (name: string): number => {
    const h = headers.get(name);
    if (h?.type !== 'integer') throw new RpcDecodeError(`${name}: required int32 header missing`);
    return h.value;
  };
  return {
    type: int(':message-type'),
    flags: int(':message-flags'),
    streamId: int(':stream-id'),
    headers,
    payload: Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength),
  };
}

export function stringHeader(frame: RpcFrame, name: string): string | undefined {
  const h = frame.headers.get(name.toLowerCase());
  return h && h.type === 'string' ? h.value : undefined;
}

export interface OutgoingMessage {
  type: MessageTypeValue;
  flags: number;
  streamId: number;
  /** Extra string headers (`:content-type`, `service-model-type`, …). */
  headers?: Record<string, string>;
  payload?: Uint8Array | string;
}

export function encodeFrame(msg: OutgoingMessage): Buffer {
  const headers: MessageHeaders = {
    ':message-type': { type: 'integer', value: msg.type },
    ':message-flags': { type: 'integer', value: msg.flags },
    ':stream-id': { type: 'integer', value: msg.streamId },
  };
  for (const [k, v] of Object.entries(msg.headers ?? {})) headers[k] = { type: 'string', value: v };
  const body = typeof msg.payload === 'string' ? utf8Encoder.encode(msg.payload) : (msg.payload ?? new Uint8Array(0));
  const bytes = codec.encode({ headers, body });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The JSON `{ "message": … }` connection-level error (aws-c-event-stream event_stream_rpc_server.c). */
export function connectionError(type: typeof MessageType.ProtocolError | typeof MessageType.InternalError, message: string): Buffer {
  return encodeFrame({
    type,
    flags: 0,
    streamId: 0,
    headers: { ':content-type': 'application/json' },
    payload: JSON.stringify({ message }),
  });
}
