// The simulated AWS IoT Core behind the nucleus's MQTT connection: online/offline, the nucleus spooler
// while offline, the 128 KiB payload limit, the record file of everything that reached "the cloud",
// cloud→device delivery to SubscribeToIoTCore streams and the Device Defender endpoint.
// Limits and messages: the nucleus's MqttClient.java and Spool.java
// (docs/greengrass-ipc.md#publishing-to-aws-iot-core-size-offline-spool).

import { isUtf8 } from 'node:buffer';
import { closeSync, openSync, writeSync } from 'node:fs';
import { type ReportValidator, replyToReport, serviceReportValidator } from './defenderEndpoint.ts';
import { topicMatchesFilter } from './mqttTopic.ts';

export interface MqttProperties {
  retain?: boolean;
  userProperties?: { key: string; value: string }[];
  messageExpiryIntervalSeconds?: number;
  correlationData?: Buffer;
  responseTopic?: string;
  payloadFormat?: '0' | '1';
  contentType?: string;
}

export interface CloudMessage extends MqttProperties {
  topic: string;
  qos: 0 | 1;
  payload: Buffer;
}

export interface IoTCoreOptions {
  online?: boolean;
  recordFile?: string;
  /** mqtt.maxMessageSizeInBytes, default 131072 (payload bytes only). */
  maxMessageSizeBytes?: number;
  /** mqtt.spooler.maxSizeInBytes, default 2621440 (payload bytes). */
  spoolMaxBytes?: number;
  /** mqtt.spooler.keepQos0WhenOffline, default false. */
  keepQos0WhenOffline?: boolean;
  reportValidator?: ReportValidator;
  now?: () => number;
}

export type DeviceListener = (msg: CloudMessage) => void;

export interface IoTCoreStatus {
  online: boolean;
  spoolDepth: number;
  spoolBytes: number;
  recordsWritten: number;
  subscriptions: number;
}

export class IoTCorePublishError extends Error {
  override name = 'IoTCorePublishError';
}

export class SimulatedIoTCore {
  private online: boolean;
  private readonly maxMessageSize: number;
  private readonly spoolMaxBytes: number;
  private readonly keepQos0: boolean;
  private readonly validator: ReportValidator;
  private readonly now: () => number;
  private readonly recordFd: number | null;
  private spool: CloudMessage[] = [];
  private spoolBytes = 0;
  private records = 0;
  private readonly subscriptions = new Set<{ filter: string; listener: DeviceListener }>();
  private readonly onlineWaiters = new Set<() => void>();

  constructor(options: IoTCoreOptions = {}) {
    this.online = options.online ?? true;
    this.maxMessageSize = options.maxMessageSizeBytes ?? 131_072;
    this.spoolMaxBytes = options.spoolMaxBytes ?? 2_621_440;
    this.keepQos0 = options.keepQos0WhenOffline ?? false;
    this.validator = options.reportValidator ?? serviceReportValidator;
    this.now = options.now ?? Date.now;
    this.recordFd = options.recordFile ? openSync(options.recordFile, 'a', 0o600) : null;
  }

  close(): void {
    if (this.recordFd !== null) closeSync(this.recordFd);
    this.subscriptions.clear();
    this.onlineWaiters.clear();
  }

  /**
   * Run `fn` once the connection is up (at once when it is). The Java nucleus answers SubscribeToIoTCore
   * only once its MQTT client subscribed, which waits for the connection (mqttclient/MqttClient.java).
   * Returns a cancel function.
   */
  whenOnline(fn: () => void): () => void {
    if (this.online) {
      fn();
      return () => undefined;
    }
    this.onlineWaiters.add(fn);
    return () => {
      this.onlineWaiters.delete(fn);
    };
  }

  status(): IoTCoreStatus {
    return {
      online: this.online,
      spoolDepth: this.spool.length,
      spoolBytes: this.spoolBytes,
      recordsWritten: this.records,
      subscriptions: this.subscriptions.size,
    };
  }

  isOnline(): boolean {
    return this.online;
  }

  /** Going online delivers the spool first, in publish order (the nucleus sends the spool when connected). */
  setOnline(online: boolean): void {
    if (online && !this.online) {
      const queued = this.spool;
      this.spool = [];
      this.spoolBytes = 0;
      this.online = true;
      // Waiting subscriptions complete first, so that they hear the answers to what the spool delivers.
      const waiters = [...this.onlineWaiters];
      this.onlineWaiters.clear();
      for (const w of waiters) w();
      for (const msg of queued) this.reachCloud(msg);
    }
    this.online = online;
  }

  /**
   * A publish from the device (PublishToIoTCore after its argument checks). Throws
   * IoTCorePublishError with the nucleus's reason; returns once the message is sent or spooled.
   */
  publish(msg: CloudMessage): void {
    const size = msg.payload.length;
    if (size > this.maxMessageSize) {
      throw new IoTCorePublishError(
        `The publishing message size ${size} bytes exceeds the configured limit of ${this.maxMessageSize} bytes`,
      );
    }
    if (this.online) {
      this.reachCloud(msg);
      return;
    }
    if (msg.qos === 0 && !this.keepQos0) throw new IoTCorePublishError('Device is offline. Dropping QoS 0 message.');
    if (size > this.spoolMaxBytes) throw new IoTCorePublishError('Message is larger than the size of message spool.');
    // When full, the spooler drops QoS 0 messages (oldest first) to make room; never QoS 1 (Spool.java).
    while (this.spoolBytes + size > this.spoolMaxBytes) {
      const i = this.spool.findIndex((m) => m.qos === 0);
      if (i < 0) throw new IoTCorePublishError('Message spool is full. Message could not be added.');
      this.spoolBytes -= this.spool[i]!.payload.length;
      this.spool.splice(i, 1);
    }
    this.spool.push(msg);
    this.spoolBytes += size;
  }

  /** A device-side subscription (SubscribeToIoTCore); returns the unsubscribe function. */
  subscribe(filter: string, listener: DeviceListener): () => void {
    const entry = { filter, listener };
    this.subscriptions.add(entry);
    return () => {
      this.subscriptions.delete(entry);
    };
  }

  /**
   * A message from the cloud side to the device. Delivered only while online (the simulated broker keeps
   * no session for an offline core); returns the number of subscriptions it reached.
   */
  cloudPublish(topic: string, payload: Buffer, props: MqttProperties = {}): number {
    if (!this.online) return 0;
    return this.deliverToDevice({ ...props, topic, qos: 1, payload });
  }

  private reachCloud(msg: CloudMessage): void {
    this.record(msg);
    // IoT Core echoes a message to every matching subscription of the core, its own included.
    this.deliverToDevice(msg);
    const reply = replyToReport(msg.topic, msg.payload, this.validator, this.now());
    if (reply) this.deliverToDevice({ topic: reply.topic, qos: 1, payload: reply.payload });
  }

  private deliverToDevice(msg: CloudMessage): number {
    let n = 0;
    for (const s of [...this.subscriptions]) {
      if (!topicMatchesFilter(s.filter, msg.topic)) continue;
      n++;
      s.listener(msg);
    }
    return n;
  }

  private record(msg: CloudMessage): void {
    this.records++;
    if (this.recordFd === null) return;
    const text = isUtf8(msg.payload);
    const line = {
      ts: this.now(),
      topic: msg.topic,
      qos: msg.qos,
      payload: text ? msg.payload.toString('utf8') : msg.payload.toString('base64'),
      payloadEncoding: text ? 'utf8' : 'base64',
    };
    writeSync(this.recordFd, `${JSON.stringify(line)}\n`);
  }
}
