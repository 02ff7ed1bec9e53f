// GreengrassEmulator: a local stand-in for the Greengrass nucleus's IPC server. The real
// aws-iot-device-sdk-v2 client connects to it unchanged over a Unix socket (docs/greengrass-ipc.md).
// Library class for tests (in-process) and for the `defender-edge emulator` CLI.
import { EventEmitter } from 'node:events';
import { lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { type Logger, silentLogger } from '../../log.ts';
import { BridgeConfigError, DEFAULT_TOPIC_MAPPING, parseBridgeConfig, type TopicMapping } from './bridgeMapping.ts';
import { BrokerStartError, ClientDeviceBroker, type ClientDeviceBrokerStatus } from './clientDeviceBroker.ts';
import { isJsonObject, type JsonObject, mergeConfig } from './componentConfig.ts';
import { type ChangeResult, ComponentStore } from './componentStore.ts';
import { IpcConnection, type ServerStream } from './connection.ts';
import type { ReportValidator } from './defenderEndpoint.ts';
import { type MqttProperties, SimulatedIoTCore } from './iotCore.ts';
import { type LocalListener, type LocalMessage, LocalPubSub } from './localPubSub.ts';
import { type BridgeStatus, MqttBridge } from './mqttBridge.ts';
import { dispatchOperation, type OperationDeps } from './operations.ts';
import { embeddedRecipe, loadRecipeFile, type RecipeIdentity } from './recipe.ts';

export interface GreengrassEmulatorOptions {
  /** Unix socket path; keep it under 108 bytes (sun_path). */
  socketPath: string;
  /** A recipe file path or an already parsed identity; default: the embedded minimal identity. */
  recipe?: string | RecipeIdentity;
  /** Merged over the recipe's DefaultConfiguration (a deployment's configuration merge). */
  overrides?: JsonObject;
  thingName?: string;
  /** Fixed SVCUID for the recipe's component (default: random, as the nucleus issues them). */
  token?: string;
  /** JSON-lines record of every message that reaches the simulated cloud. */
  recordFile?: string;
  /** Start with IoT Core disconnected (QoS 1 spooled). */
  offline?: boolean;
  maxMessageSizeBytes?: number;
  spoolMaxBytes?: number;
  keepQos0WhenOffline?: boolean;
  /** The Device Defender endpoint's report check; default accepts well-formed JSON/CBOR. */
  reportValidator?: ReportValidator;
  /** How long a configuration change waits for validity reports (default 10 s). */
  validationTimeoutMs?: number;
  /**
   * Start the client-device MQTT broker (downstream devices) on 127.0.0.1:<mqttPort>; 0 = a free port.
   * Absent: no broker, no bridge.
   */
  mqttPort?: number;
  /**
   * The MQTT bridge's configuration, `{ mqttTopicMapping: {...} }` as for aws.greengrass.clientdevices.mqtt.Bridge
   * (bridgeMapping.ts); default DEFAULT_TOPIC_MAPPING. Invalid → BridgeConfigError from the constructor.
   */
  bridge?: unknown;
  /** Client ids allowed on the broker (default: every client on loopback). */
  mqttAllowedClientIds?: readonly string[];
  logger?: Logger;
}

export interface EmulatorMqttStatus extends ClientDeviceBrokerStatus {
  bridge: BridgeStatus;
}

export interface EmulatorStatus {
  online: boolean;
  clients: number;
  spoolDepth: number;
  spoolBytes: number;
  recordsWritten: number;
  protocolErrors: number;
  connectionsAccepted: number;
  openStreams: number;
  /** Present when the client-device broker runs. */
  mqtt?: EmulatorMqttStatus;
}

export interface EmulatorEvents {
  state: [component: string, state: string];
  protocolError: [reason: string];
}

export const DEFAULT_THING_NAME = 'defender-edge-emulated-core';

export class EmulatorStartError extends Error {
  override name = 'EmulatorStartError';
}

export class GreengrassEmulator extends EventEmitter<EmulatorEvents> {
  readonly socketPath: string;
  readonly thingName: string;
  readonly componentName: string;
  private readonly log: Logger;
  private readonly components: ComponentStore;
  private readonly iotCore: SimulatedIoTCore;
  private readonly pubsub = new LocalPubSub();
  private readonly deps: OperationDeps;
  private readonly connections = new Set<IpcConnection>();
  private readonly streamingOps = new Set<ServerStream>();
  private server: Server | null = null;
  private readonly broker: ClientDeviceBroker | null = null;
  private readonly bridge: MqttBridge | null = null;
  private stopped = false;
  private protocolErrors = 0;
  private accepted = 0;

  constructor(options: GreengrassEmulatorOptions) {
    super();
    this.socketPath = options.socketPath;
    this.thingName = options.thingName ?? DEFAULT_THING_NAME;
    this.log = (options.logger ?? silentLogger()).child({ module: 'ipc-emulator' });
    const recipe = typeof options.recipe === 'string' ? loadRecipeFile(options.recipe) : (options.recipe ?? embeddedRecipe());
    this.componentName = recipe.componentName;
    this.components = new ComponentStore(options.validationTimeoutMs ?? 10_000, (component, p) =>
      this.log.error({ component, path: p.path, reason: p.message }, 'accessControl policy skipped'),
    );
    const config = mergeConfig(recipe.defaultConfiguration, options.overrides ?? {});
    this.components.add(recipe.componentName, isJsonObject(config) ? config : {}, options.token);
    this.iotCore = new SimulatedIoTCore({
      online: !options.offline,
      recordFile: options.recordFile,
      maxMessageSizeBytes: options.maxMessageSizeBytes,
      spoolMaxBytes: options.spoolMaxBytes,
      keepQos0WhenOffline: options.keepQos0WhenOffline,
      reportValidator: options.reportValidator,
    });
    if (options.bridge !== undefined && options.mqttPort === undefined) {
      throw new BridgeConfigError(['bridge: needs mqttPort (the bridge connects the client-device broker)']);
    }
    if (options.mqttPort !== undefined) {
      let mapping: TopicMapping = DEFAULT_TOPIC_MAPPING;
      if (options.bridge !== undefined) {
        const parsed = parseBridgeConfig(options.bridge);
        if (!parsed.ok) throw new BridgeConfigError(parsed.errors);
        mapping = parsed.mapping;
      }
      const broker = new ClientDeviceBroker({
        port: options.mqttPort,
        allowedClientIds: options.mqttAllowedClientIds,
        logger: this.log,
        onDevicePublish: (m) => bridge.fromLocalMqtt(m),
      });
      const bridge = new MqttBridge(mapping, { broker, pubsub: this.pubsub, iotCore: this.iotCore }, this.log);
      this.broker = broker;
      this.bridge = bridge;
    }
    this.deps = {
      components: this.components,
      iotCore: this.iotCore,
      pubsub: this.pubsub,
      log: this.log,
      now: Date.now,
      onStateChange: (component, state) => {
        this.log.info({ component, state }, 'component state');
        this.emit('state', component, state);
      },
    };
  }

  /** Listen on the socket. An instance runs once: after stop(), make a new one (the record file appends). */
  async start(): Promise<void> {
    if (this.stopped) throw new EmulatorStartError('this emulator was stopped; create a new instance');
    if (this.server) return;
    await removeStaleSocket(this.socketPath);
    const server = createServer((socket) => this.onSocket(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new EmulatorStartError(`${this.socketPath}: ${err.message}`)));
      server.listen(this.socketPath, () => resolve());
    });
    server.on('error', (err) => this.log.error({ err }, 'server error'));
    this.server = server;
    if (this.broker && this.bridge) {
      try {
        await this.broker.start();
      } catch (err) {
        await this.stop();
        throw err instanceof BrokerStartError ? new EmulatorStartError(err.message) : err;
      }
      this.bridge.start();
    }
    this.log.info({ socket: this.socketPath, component: this.componentName, mqtt: this.mqttUrl }, 'emulator listening');
  }

  /** Stops listening, drops every client, removes the socket file. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const server = this.server;
    this.server = null;
    this.bridge?.stop();
    await this.broker?.stop();
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    if (server) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // Only our own socket: an instance that never listened must not remove another server's file.
      try {
        unlinkSync(this.socketPath);
      } catch {
        // already gone (server.close removes it on most platforms)
      }
    }
    this.iotCore.close();
  }

  get listening(): boolean {
    return this.server !== null;
  }

  /** `mqtt://127.0.0.1:<port>` of the client-device broker once started; undefined without one. */
  get mqttUrl(): string | undefined {
    return this.broker && this.broker.port !== 0 ? this.broker.url : undefined;
  }

  /** Component name → SVCUID of every identity. */
  tokens(): Record<string, string> {
    return this.components.tokens();
  }

  tokenOf(component: string = this.componentName): string {
    const c = this.components.get(component);
    if (!c) throw new Error(`unknown component ${component}`);
    return c.token;
  }

  /** Add (or replace) an identity with its own accessControl; returns its token. */
  addComponent(name: string, accessControl: unknown, token?: string): string {
    const config: JsonObject = accessControl === undefined ? {} : { accessControl };
    return this.components.add(name, config, token).token;
  }

  configOf(component: string = this.componentName): JsonObject | undefined {
    const c = this.components.get(component);
    return c ? structuredClone(c.config) : undefined;
  }

  componentState(component: string = this.componentName): string | undefined {
    return this.components.get(component)?.state;
  }

  /** A configuration merge from outside (control channel, tests): validators first, then notifications. */
  changeConfig(patch: unknown, component: string = this.componentName, keyPath: string[] = []): Promise<ChangeResult> {
    return this.components.change(component, keyPath, patch, Date.now());
  }

  setOnline(online: boolean): void {
    this.iotCore.setOnline(online);
    this.log.info({ online }, 'simulated IoT Core connection');
  }

  /** Cloud → device message to SubscribeToIoTCore subscribers; returns how many it reached. */
  cloudPublish(topic: string, payload: Buffer | string, props?: MqttProperties): number {
    return this.iotCore.cloudPublish(topic, Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8'), props);
  }

  /**
   * Inject a local pub/sub message (e.g. from an MQTT bridge for downstream devices). A Buffer is sent as
   * binaryMessage, anything else as jsonMessage. Returns how many subscriptions it reached.
   */
  publishLocal(topic: string, message: unknown, fromComponent?: string): number {
    const m: LocalMessage = Buffer.isBuffer(message) ? { kind: 'binary', value: message } : { kind: 'json', value: message };
    return this.pubsub.publish(topic, m, fromComponent);
  }

  /** Observe local pub/sub from outside (bridges, tests); returns the unsubscribe function. */
  subscribeLocal(filter: string, listener: LocalListener): () => void {
    return this.pubsub.subscribe(filter, undefined, 'RECEIVE_ALL_MESSAGES', listener);
  }

  /**
   * Close open subscription streams from the server side (the nucleus's empty TerminateStream message),
   * optionally only one component's or one operation's. Returns how many were closed.
   */
  closeStreams(filter: { component?: string; operation?: string } = {}): number {
    let n = 0;
    for (const s of [...this.streamingOps]) {
      if (filter.component !== undefined && s.component !== filter.component) continue;
      if (filter.operation !== undefined && s.operation !== filter.operation && s.operation !== `aws.greengrass#${filter.operation}`)
        continue;
      s.close();
      n++;
    }
    return n;
  }

  status(): EmulatorStatus {
    const cloud = this.iotCore.status();
    return {
      online: cloud.online,
      clients: this.connections.size,
      spoolDepth: cloud.spoolDepth,
      spoolBytes: cloud.spoolBytes,
      recordsWritten: cloud.recordsWritten,
      protocolErrors: this.protocolErrors,
      connectionsAccepted: this.accepted,
      openStreams: this.streamingOps.size,
      ...(this.broker && this.bridge ? { mqtt: { ...this.broker.status(), bridge: this.bridge.status() } } : {}),
    };
  }

  private onSocket(socket: Socket): void {
    this.accepted++;
    const conn = new IpcConnection(
      socket,
      {
        authenticate: (token) => this.components.nameForToken(token),
        dispatch: (operation, request, stream) => {
          if (/#Subscribe/.test(operation)) {
            this.streamingOps.add(stream);
            stream.onClose(() => this.streamingOps.delete(stream));
          }
          dispatchOperation(operation, request, stream, this.deps);
        },
        onProtocolError: (reason) => {
          this.protocolErrors++;
          this.emit('protocolError', reason);
        },
      },
      this.log,
    );
    this.connections.add(conn);
    socket.on('close', () => this.connections.delete(conn));
  }
}

/** A leftover socket file nobody listens on is removed; a live one is an error (never steal it). */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket = false;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw new EmulatorStartError(`${path}: exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw new EmulatorStartError(`${path}: another server is listening`);
  unlinkSync(path);
}
