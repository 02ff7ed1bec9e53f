// The one error type of the IPC client layer: callers branch on `kind`, log `errorCode`.
import * as eventstream_rpc from 'aws-iot-device-sdk-v2/dist/eventstream_rpc.js';

export type IpcErrorKind =
  | 'not-connected' // no connection to the nucleus right now (the client is reconnecting)
  | 'service' // the nucleus answered with a modeled error (errorCode says which)
  | 'timeout' // no answer within callTimeoutMs
  | 'transport' // the connection broke during the call
  | 'client' // refused by the SDK before sending (validation, serialization) or unexpected reply
  | 'stopped'; // the client was stopped

export class IpcError extends Error {
  override name = 'IpcError';
  readonly operation: string;
  readonly kind: IpcErrorKind;
  /** `_errorCode` of a modeled error, e.g. `UnauthorizedError`, `ServiceError`. */
  readonly errorCode: string | undefined;

  constructor(operation: string, kind: IpcErrorKind, message: string, errorCode?: string) {
    super(`${operation}: ${message}`);
    this.operation = operation;
    this.kind = kind;
    this.errorCode = errorCode;
  }
}

/** Translate whatever the SDK rejected with into an IpcError. */
export function toIpcError(operation: string, err: unknown): IpcError {
  if (err instanceof IpcError) return err;
  if (err instanceof eventstream_rpc.RpcError) {
    const T = eventstream_rpc.RpcErrorType;
    if (err.type === T.ServiceError) {
      const se = (err.serviceError ?? {}) as { message?: unknown; _message?: unknown; _errorCode?: unknown };
      const msg = typeof se.message === 'string' ? se.message : typeof se._message === 'string' ? se._message : err.description;
      return new IpcError(operation, 'service', msg, typeof se._errorCode === 'string' ? se._errorCode : undefined);
    }
    if (err.type === T.NetworkError || err.type === T.InterruptionError || err.type === T.ClientStateError) {
      return new IpcError(operation, 'transport', err.description);
    }
    return new IpcError(operation, 'client', err.description);
  }
  return new IpcError(operation, 'client', err instanceof Error ? err.message : String(err));
}
