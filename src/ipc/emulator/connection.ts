// One client connection of the emulator: stream splitting, the Connect handshake, stream-id rules and
// per-stream replies exactly as the nucleus / aws-c-event-stream server does them (docs/greengrass-ipc.md).
// Anything malformed gets a ProtocolError on stream 0 and closes only this connection.
//
// Nucleus lite's ggipcd (aws-greengrass-lite modules/ggipcd/src/ipc_server.c) differs, and the `lite`
// flavor follows it: a refused or malformed connect, or any malformed message, just closes the socket (no
// ConnectAck, no ProtocolError); an authToken must be a registered 16-character SVCUID; a message longer
// than 10,000 bytes after its prelude closes the connection; a request that is not a JSON object, or holds
// more than 255 sub-objects, gets a ServiceError with an empty message; responses carry no TerminateStream
// flag; errors are only `{"_message", "_errorCode"}`; an event too large for its 10,000-byte buffer is
// dropped.
import type { Socket } from 'node:net';
import { LITE_MAX_IPC_MESSAGE_BYTES } from '../../config/liteLimits.ts';
import type { Logger } from '../../log.ts';
import type { NucleusFlavor } from './flavor.ts';
import { FrameError, FrameSplitter, MAX_MESSAGE_BYTES } from './frameSplitter.ts';
import { EVENTSTREAM_PRELUDE_BYTES, objectLimitProblem } from './liteLimits.ts';
import {
  connectionError,
  decodeFrame,
  encodeFrame,
  MessageFlags,
  MessageType,
  RpcDecodeError,
  type RpcFrame,
  SERVICE,
  stringHeader,
} from './wire.ts';

/** What a connection needs from the emulator. */
export interface ConnectionHost {
  /** Component name for a valid token, else null (docs/greengrass-ipc.md, "Connect"). */
  authenticate(authToken: string): string | null;
  dispatch(operation: string, request: unknown, stream: ServerStream): void;
  onProtocolError(reason: string): void;
  readonly flavor: NucleusFlavor;
}

/** A lite SVCUID: 16 characters of base64 (GG_IPC_SVCUID_STR_LEN, 12 bytes). */
const LITE_SVCUID = /^[A-Za-z0-9+/]{16}$/;

export type ModeledErrorCode =
  | 'ServiceError'
  | 'UnauthorizedError'
  | 'InvalidArgumentsError'
  | 'ResourceNotFoundError'
  | 'FailedUpdateConditionCheckError'
  | 'ConflictError';

/** One operation's stream, as seen by an operation handler. */
export interface ServerStream {
  readonly component: string;
  readonly operation: string;
  isOpen(): boolean;
  /** Response of a request/response operation (terminates the stream). */
  respond(body: object): void;
  /** First response of a streaming operation (stream stays open). */
  accept(): void;
  /** An event on an open streaming operation. */
  event(shape: string, body: object): void;
  /** Modeled error: terminates the stream (docs/greengrass-ipc.md, "Responses"). */
  fail(code: ModeledErrorCode, message: string, extra?: Record<string, unknown>): void;
  /** Unmodeled error: text/plain, terminates. */
  failUnmodeled(text: string): void;
  /** Raw ApplicationError with only a JSON content type (the Unsupported Operation reply). */
  failUnsupported(body: object): void;
  /** Server-side close: ApplicationMessage, TerminateStream, no headers, empty payload. */
  close(): void;
  /** Runs once when the stream closes for any reason (client close, server close, connection end). */
  onClose(fn: () => void): void;
}

const CONNECT_FIRST =
  'A CONNECT message must be received, and the CONNECT_ACK must be sent in response, before any other message can be sent on this connection.';

export class IpcConnection {
  private readonly splitter: FrameSplitter;
  private state: 'awaiting-connect' | 'connected' | 'closed' = 'awaiting-connect';
  private component = '';
  private lastStreamId = 0;
  private readonly streams = new Map<number, StreamImpl>();
  private corked = false;

  private readonly socket: Socket;
  private readonly host: ConnectionHost;
  private readonly log: Logger;

  constructor(socket: Socket, host: ConnectionHost, log: Logger) {
    this.socket = socket;
    this.host = host;
    this.log = log;
    this.splitter = new FrameSplitter(host.flavor === 'lite' ? EVENTSTREAM_PRELUDE_BYTES + LITE_MAX_IPC_MESSAGE_BYTES : MAX_MESSAGE_BYTES);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.log.debug({ err }, 'socket error'));
    socket.on('close', () => this.teardown());
  }

  get componentName(): string {
    return this.component;
  }

  get flavor(): NucleusFlavor {
    return this.host.flavor;
  }

  get openStreams(): number {
    return this.streams.size;
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  destroy(): void {
    this.socket.destroy();
    this.teardown();
  }

  write(frame: Buffer): void {
    if (this.state === 'closed' || this.socket.destroyed) return;
    // Frames written in one turn of the event loop leave in one writev, as the nucleus's Netty flushes
    // per read batch: a write syscall per frame was the emulator's largest cost under a report flood.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(frame);
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    let frames: Buffer[];
    try {
      frames = this.splitter.push(chunk);
    } catch (err) {
      this.protocolError(err instanceof FrameError ? err.message : String(err));
      return;
    }
    for (const f of frames) {
      // A frame earlier in this chunk may have closed the connection.
      if (this.isClosed()) return;
      let frame: RpcFrame;
      try {
        frame = decodeFrame(f);
      } catch (err) {
        this.protocolError(err instanceof RpcDecodeError ? err.message : String(err));
        return;
      }
      this.onFrame(frame);
    }
  }

  private onFrame(frame: RpcFrame): void {
    if (this.state === 'awaiting-connect') {
      if (frame.type !== MessageType.Connect || frame.streamId !== 0) {
        this.protocolError(CONNECT_FIRST);
        return;
      }
      this.onConnect(frame);
      return;
    }
    if (frame.streamId === 0) {
      switch (frame.type) {
        case MessageType.Ping: {
          // Echo the payload and the non-`:` headers (nucleus ServiceOperationMappingContinuationHandler.onProtocolMessage).
          const headers: Record<string, string> = {};
          for (const [k, v] of frame.headers) if (!k.startsWith(':') && v.type === 'string') headers[k] = v.value;
          this.write(encodeFrame({ type: MessageType.PingResponse, flags: 0, streamId: 0, headers, payload: frame.payload }));
          return;
        }
        case MessageType.PingResponse:
          return;
        case MessageType.Connect: {
          this.protocolError(CONNECT_FIRST);
          return;
        }
        default: {
          this.protocolError(`message type ${frame.type} is not allowed on stream-id 0`);
          return;
        }
      }
    }
    if (frame.streamId < 0) {
      this.protocolError(`invalid stream-id ${frame.streamId}`);
      return;
    }
    if (frame.type !== MessageType.ApplicationMessage && frame.type !== MessageType.ApplicationError) {
      this.protocolError(`message type ${frame.type} is only allowed on stream-id 0`);
      return;
    }
    const terminate = (frame.flags & MessageFlags.TerminateStream) !== 0;
    const open = this.streams.get(frame.streamId);
    if (open) {
      // The client closes a stream with an empty TerminateStream message (aws-iot-device-sdk-v2 eventstream_rpc.ts).
      if (terminate) open.closedByPeer();
      return;
    }
    if (frame.streamId <= this.lastStreamId) {
      // Late terminate for a stream already closed: silently ignored; anything else is an error.
      if (terminate) return;
      this.protocolError(`stream-id ${frame.streamId} is already closed`);
      return;
    }
    if (frame.streamId !== this.lastStreamId + 1) {
      this.protocolError(
        'stream-id values must be monotonically incrementing. A stream-id arrived that was lower than the last seen stream-id.',
      );
      return;
    }
    const operation = stringHeader(frame, 'operation');
    if (!operation) {
      this.protocolError('The first message for on a non-zero :stream-id must contain an operation header value.');
      return;
    }
    this.lastStreamId = frame.streamId;
    const stream = new StreamImpl(this, frame.streamId, this.component, operation, this.flavor, this.log, () =>
      this.streams.delete(frame.streamId),
    );
    this.streams.set(frame.streamId, stream);
    let request: unknown;
    try {
      request = frame.payload.length === 0 ? {} : JSON.parse(frame.payload.toString('utf8'));
    } catch {
      this.flavor === 'lite' ? stream.fail('ServiceError', '') : stream.failUnmodeled('InternalServerError');
      return;
    }
    if (this.flavor === 'lite') {
      // ggipcd decodes the request into room for 255 objects, and only a JSON object is a request.
      if (typeof request !== 'object' || request === null || Array.isArray(request) || objectLimitProblem(request) !== null) {
        this.log.warn({ operation }, 'lite: request is not a JSON object or exceeds 255 sub-objects');
        stream.fail('ServiceError', '');
        return;
      }
    }
    try {
      this.host.dispatch(operation, request, stream);
    } catch (err) {
      this.log.error({ err, operation }, 'operation handler threw');
      if (stream.isOpen()) stream.failUnmodeled('InternalServerError');
    }
  }

  private onConnect(frame: RpcFrame): void {
    if (this.flavor === 'lite') {
      this.onLiteConnect(frame);
      return;
    }
    // Version must be exactly 0.1.0, payload {"authToken": registered token} (docs/greengrass-ipc.md).
    const version = stringHeader(frame, ':version');
    let component: string | null = null;
    if (version === '0.1.0') {
      try {
        const body = JSON.parse(frame.payload.toString('utf8')) as { authToken?: unknown };
        if (typeof body.authToken === 'string' && body.authToken.length > 0) component = this.host.authenticate(body.authToken);
      } catch {
        component = null;
      }
    }
    if (component === null) {
      this.log.info({ version }, 'connect refused');
      this.write(encodeFrame({ type: MessageType.ConnectAck, flags: 0, streamId: 0 }));
      this.endSoon();
      return;
    }
    this.component = component;
    this.state = 'connected';
    this.write(encodeFrame({ type: MessageType.ConnectAck, flags: MessageFlags.ConnectionAccepted, streamId: 0 }));
    this.log.debug({ component }, 'client connected');
  }

  /**
   * ggipcd handle_conn_init: flags must be 0, `:version` (when present) "0.1.0", the payload a JSON object
   * with a registered `authToken` (and, if also given, the matching `componentName`). `componentName`
   * alone is checked against the caller's systemd unit there, which the emulator cannot do: refused.
   * A refusal closes the socket without an answer.
   */
  private onLiteConnect(frame: RpcFrame): void {
    const refuse = (why: string): void => {
      this.log.info({ why }, 'lite: connect refused, closing');
      this.endSoon();
    };
    if (frame.flags !== 0) {
      refuse('Connect message has flags set.');
      return;
    }
    const version = frame.headers.get(':version');
    if (version !== undefined && !(version.type === 'string' && version.value === '0.1.0')) {
      refuse('Client protocol version not 0.1.0.');
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(frame.payload.toString('utf8'));
    } catch {
      refuse('Connect payload is not valid json.');
      return;
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      refuse('Connect payload is not valid json.');
      return;
    }
    const { authToken, componentName } = body as { authToken?: unknown; componentName?: unknown };
    if ((authToken !== undefined && typeof authToken !== 'string') || (componentName !== undefined && typeof componentName !== 'string')) {
      refuse('Connect payload key has unexpected non-string value.');
      return;
    }
    if (authToken === undefined) {
      refuse(
        componentName === undefined
          ? 'did not provide authToken or componentName'
          : 'componentName authentication (systemd unit) is not emulated',
      );
      return;
    }
    const component = LITE_SVCUID.test(authToken) ? this.host.authenticate(authToken) : null;
    if (component === null) {
      refuse('failed authentication: invalid svcuid.');
      return;
    }
    if (componentName !== undefined && componentName !== component) {
      refuse('componentName does not match svcuid.');
      return;
    }
    this.component = component;
    this.state = 'connected';
    this.write(encodeFrame({ type: MessageType.ConnectAck, flags: MessageFlags.ConnectionAccepted, streamId: 0 }));
    this.log.debug({ component }, 'client connected');
  }

  private protocolError(reason: string): void {
    this.log.warn({ reason, component: this.component || undefined }, 'protocol error, closing connection');
    this.host.onProtocolError(reason);
    // Lite answers nothing: it closes the socket.
    if (this.flavor !== 'lite') this.write(connectionError(MessageType.ProtocolError, reason));
    this.endSoon();
  }

  /** Flush what was written, then close; destroy if the peer does not close its side. */
  private endSoon(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.teardown();
  }

  private teardown(): void {
    this.state = 'closed';
    for (const s of [...this.streams.values()]) s.connectionEnded();
    this.streams.clear();
  }
}

class StreamImpl implements ServerStream {
  private open = true;
  private closeHandlers: (() => void)[] = [];

  private readonly conn: IpcConnection;
  private readonly id: number;
  readonly component: string;
  readonly operation: string;
  private readonly flavor: NucleusFlavor;
  private readonly log: Logger;
  private readonly forget: () => void;

  constructor(
    conn: IpcConnection,
    id: number,
    component: string,
    operation: string,
    flavor: NucleusFlavor,
    log: Logger,
    forget: () => void,
  ) {
    this.conn = conn;
    this.id = id;
    this.component = component;
    this.operation = operation;
    this.flavor = flavor;
    this.log = log;
    this.forget = forget;
  }

  isOpen(): boolean {
    return this.open;
  }

  private shapeOf(name: string): string {
    return `aws.greengrass#${name}`;
  }

  /** Returns false when lite could not send it (over its 10,000-byte buffer). */
  private send(type: 0 | 1, terminate: boolean, headers: Record<string, string> | undefined, payload: string, finish = terminate): boolean {
    if (!this.open) return false;
    const frame = encodeFrame({ type, flags: terminate ? MessageFlags.TerminateStream : 0, streamId: this.id, headers, payload });
    if (this.flavor === 'lite' && frame.length > LITE_MAX_IPC_MESSAGE_BYTES) {
      this.log.warn({ operation: this.operation, bytes: frame.length }, 'lite: message does not fit the 10,000-byte IPC buffer; not sent');
      return false;
    }
    this.conn.write(frame);
    if (finish) this.finish();
    return true;
  }

  respond(body: object): void {
    const op = this.operation.replace(/^aws\.greengrass#/, '');
    const headers = { ':content-type': 'application/json', 'service-model-type': this.shapeOf(`${op}Response`) };
    if (this.flavor !== 'lite') {
      this.send(0, true, headers, JSON.stringify(body));
      return;
    }
    // Lite answers without TerminateStream; the client then closes the stream itself.
    if (!this.send(0, false, headers, JSON.stringify(body), true)) this.fail('ServiceError', '');
  }

  accept(): void {
    const op = this.operation.replace(/^aws\.greengrass#/, '');
    this.send(0, false, { ':content-type': 'application/json', 'service-model-type': this.shapeOf(`${op}Response`) }, '{}');
  }

  event(shape: string, body: object): void {
    this.send(0, false, { ':content-type': 'application/json', 'service-model-type': this.shapeOf(shape) }, JSON.stringify(body));
  }

  fail(code: ModeledErrorCode, message: string, extra: Record<string, unknown> = {}): void {
    // The Java form: `message` (+ modeled fields) and the EventStreamOperationError fields; lite sends only
    // `_message` and `_errorCode` (ipc_server.c send_stream_error).
    const body =
      this.flavor === 'lite'
        ? { _message: message, _errorCode: code }
        : { message, ...extra, _service: SERVICE, _message: message, _errorCode: code };
    this.send(1, true, { ':content-type': 'application/json', 'service-model-type': this.shapeOf(code) }, JSON.stringify(body));
  }

  failUnmodeled(text: string): void {
    if (this.flavor === 'lite') {
      this.fail('ServiceError', '');
      return;
    }
    this.send(1, true, { ':content-type': 'text/plain' }, text);
  }

  failUnsupported(body: object): void {
    this.send(1, true, { ':content-type': 'application/json' }, JSON.stringify(body));
  }

  close(): void {
    this.send(0, true, undefined, '');
  }

  onClose(fn: () => void): void {
    if (this.open) this.closeHandlers.push(fn);
    else fn();
  }

  closedByPeer(): void {
    this.finish();
  }

  connectionEnded(): void {
    this.finish();
  }

  private finish(): void {
    if (!this.open) return;
    this.open = false;
    this.forget();
    const handlers = this.closeHandlers;
    this.closeHandlers = [];
    for (const h of handlers) {
      try {
        h();
      } catch {
        // A close handler only unsubscribes; a failure there must not break the connection.
      }
    }
  }
}
