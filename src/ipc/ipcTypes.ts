// What the IPC client layer hands to the rest of defender-edge: plain data, no SDK types.

export interface IoTCoreMessage {
  topic: string;
  payload: Buffer;
  retain: boolean;
  userProperties?: { key: string; value: string }[];
  correlationData?: Buffer;
  responseTopic?: string;
  contentType?: string;
}

export type LocalMessage = { topic: string; kind: 'json'; value: unknown } | { topic: string; kind: 'binary'; value: Buffer };

export interface ConfigurationUpdate {
  componentName: string;
  keyPath: string[];
}

export interface ValidationRequest {
  deploymentId: string;
  configuration: Record<string, unknown>;
}

/** What a configuration validator answers; the client sends it as SendConfigurationValidityReport. */
export type ValidationVerdict = { accepted: true } | { accepted: false; message: string };

export interface IpcCounters {
  connectAttempts: number;
  connects: number;
  connectFailures: number;
  disconnects: number;
  calls: number;
  callFailures: number;
  subscribes: number;
  subscribeFailures: number;
  streamsEnded: number;
  messagesReceived: number;
  handlerErrors: number;
  validationReports: number;
  /** subscriptions that stopped retrying after repeated failures */
  subscriptionsGivenUp: number;
}

export type IpcConnectionState = 'idle' | 'connecting' | 'connected' | 'waiting' | 'stopped';

/** A subscription the client keeps alive across reconnects until close(). */
export interface IpcSubscription {
  readonly description: string;
  /** 'active' once the nucleus accepted it on the current connection. */
  readonly status: 'pending' | 'active' | 'failed' | 'closed';
  readonly lastError: string | undefined;
  /** it failed repeatedly and stopped retrying until the next connection (or a re-arm by the client) */
  readonly gaveUp: boolean;
  close(): Promise<void>;
}
