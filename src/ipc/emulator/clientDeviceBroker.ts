// The emulator's client-device broker: the stand-in for Greengrass's local MQTT broker (Moquette/EMQX)
// that downstream devices connect to. aedes (MQTT 3.1.1) on node:net, loopback only. Client device auth
// (aws.greengrass.clientdevices.Auth, certificate based on a real gateway) is reduced to an optional
// allow-list of client ids; every client id is recorded with its traffic counters.

import type { EventEmitter } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client } from 'aedes';
import { type Logger, silentLogger } from '../../log.ts';

/** Loopback only: the emulator must never accept devices from another host. */
export const BROKER_HOST = '127.0.0.1';
/** Per-client stats kept at most (oldest disconnected entries go first). */
const MAX_TRACKED_CLIENTS = 1000;

export interface DeviceMessage {
  clientId: string;
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
}

export interface ClientDeviceBrokerOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** When set, only these client ids may connect (CONNACK 5 "not authorized" otherwise). */
  allowedClientIds?: readonly string[];
  /** A device's accepted publish; called before the broker completes that publish. */
  onDevicePublish?: (msg: DeviceMessage) => void;
  logger?: Logger;
}

export interface MqttClientStats {
  clientId: string;
  connected: boolean;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  connects: number;
  /** PUBLISH packets received from the client, and their payload bytes. */
  publishesIn: number;
  bytesIn: number;
  /** PUBLISH packets forwarded to the client, and their payload bytes. */
  publishesOut: number;
  bytesOut: number;
}

export interface ClientDeviceBrokerStatus {
  url: string;
  connectedClients: number;
  clients: MqttClientStats[];
  /** CONNECTs refused by the allow-list, and the ids they used (bounded). */
  refusedConnects: number;
  refusedClientIds: string[];
  /** Connections closed for a protocol error (malformed packet, timeout, …). */
  clientErrors: number;
}

export class BrokerStartError extends Error {
  override name = 'BrokerStartError';
}

interface Tracked {
  stats: MqttClientStats;
  /** The aedes client currently holding this id (a reconnect replaces it before the old one closes). */
  current: Client | null;
}

export class ClientDeviceBroker {
  private readonly options: ClientDeviceBrokerOptions;
  private readonly log: Logger;
  private readonly allowed: ReadonlySet<string> | null;
  private readonly tracked = new Map<string, Tracked>();
  private readonly sockets = new Set<Socket>();
  private readonly refusedIds = new Set<string>();
  private aedes: Aedes | null = null;
  private server: Server | null = null;
  private boundPort = 0;
  private refused = 0;
  private clientErrors = 0;

  constructor(options: ClientDeviceBrokerOptions) {
    if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
      throw new BrokerStartError(`mqttPort: must be an integer 0-65535, got ${String(options.port)}`);
    }
    this.options = options;
    this.log = (options.logger ?? silentLogger()).child({ module: 'mqtt-broker' });
    this.allowed = options.allowedClientIds ? new Set(options.allowedClientIds) : null;
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `mqtt://${BROKER_HOST}:${this.boundPort}`;
  }

  async start(): Promise<void> {
    if (this.aedes) return;
    const aedes = await Aedes.createBroker({
      authenticate: (client, _user, _pass, done) => this.authenticate(client, done),
      authorizeForward: (client, packet) => this.countForward(client, packet),
      published: (packet, client, done) => this.onPublished(packet, client, done),
    });
    aedes.on('clientReady', (client) => this.onClientReady(client));
    aedes.on('clientDisconnect', (client) => this.onClientGone(client));
    aedes.on('clientError', (client, err) => this.onClientError(client.id, err));
    aedes.on('connectionError', (_client, err) => this.onClientError(undefined, err));
    // aedes emits 'error' for persistence failures; without a listener that would kill the emulator.
    const emitter: EventEmitter = aedes; // its typings list only client events
    emitter.on('error', (err: Error) => this.log.error({ err }, 'broker error'));
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      aedes.handle(socket);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.options.port, BROKER_HOST, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      throw new BrokerStartError(`mqtt ${BROKER_HOST}:${this.options.port}: ${(err as Error).message}`);
    }
    server.on('error', (err) => this.log.error({ err }, 'mqtt server error'));
    this.aedes = aedes;
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    this.log.info({ url: this.url, allowList: this.allowed ? [...this.allowed] : null }, 'client-device broker listening');
  }

  /** Closes every client and the listener; resolves when the port is free. Safe to call twice. */
  async stop(): Promise<void> {
    const aedes = this.aedes;
    const server = this.server;
    this.aedes = null;
    this.server = null;
    if (!aedes || !server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    // Connections that never sent CONNECT are not aedes clients yet; close them ourselves.
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /**
   * Publish on the local broker as the broker itself (no client): what the bridge does. Such messages
   * carry no client id, which is how the bridge recognises, and does not re-bridge, its own publishes.
   */
  publish(topic: string, payload: Buffer, qos: 0 | 1): Promise<void> {
    const aedes = this.aedes;
    if (!aedes) return Promise.reject(new Error('client-device broker is not running'));
    return new Promise((resolve, reject) => {
      aedes.publish({ cmd: 'publish', topic, payload, qos, retain: false, dup: false }, (err) => (err ? reject(err) : resolve()));
    });
  }

  status(): ClientDeviceBrokerStatus {
    const clients = [...this.tracked.values()].map((t) => ({ ...t.stats }));
    return {
      url: this.url,
      connectedClients: clients.filter((c) => c.connected).length,
      clients,
      refusedConnects: this.refused,
      refusedClientIds: [...this.refusedIds],
      clientErrors: this.clientErrors,
    };
  }

  private authenticate(client: Client, done: (err: AuthenticateError | null, ok: boolean | null) => void): void {
    if (this.allowed === null || this.allowed.has(client.id)) return done(null, true);
    this.refused++;
    if (this.refusedIds.size < MAX_TRACKED_CLIENTS) this.refusedIds.add(client.id);
    this.log.warn({ clientId: client.id }, 'client id not in the allow-list; CONNECT refused');
    const err = Object.assign(new Error(`client id ${client.id} is not allowed`), { returnCode: 5 }) as AuthenticateError;
    done(err, false);
  }

  private statsFor(clientId: string): Tracked {
    let t = this.tracked.get(clientId);
    if (!t) {
      if (this.tracked.size >= MAX_TRACKED_CLIENTS) this.evictOne();
      t = {
        stats: {
          clientId,
          connected: false,
          remoteAddress: undefined,
          remotePort: undefined,
          connects: 0,
          publishesIn: 0,
          bytesIn: 0,
          publishesOut: 0,
          bytesOut: 0,
        },
        current: null,
      };
      this.tracked.set(clientId, t);
    }
    return t;
  }

  private evictOne(): void {
    for (const [id, t] of this.tracked) {
      if (!t.stats.connected) {
        this.tracked.delete(id);
        return;
      }
    }
  }

  private onClientReady(client: Client): void {
    const t = this.statsFor(client.id);
    const conn = client.conn as Socket;
    t.current = client;
    t.stats.connected = true;
    t.stats.connects++;
    t.stats.remoteAddress = conn.remoteAddress;
    t.stats.remotePort = conn.remotePort;
    this.log.info({ clientId: client.id, remotePort: conn.remotePort }, 'client device connected');
  }

  private onClientGone(client: Client): void {
    const t = this.tracked.get(client.id);
    if (!t || t.current !== client) return; // an older session of a reconnected id
    t.current = null;
    t.stats.connected = false;
    this.log.info({ clientId: client.id }, 'client device disconnected');
  }

  private onClientError(clientId: string | undefined, err: Error): void {
    this.clientErrors++;
    this.log.warn({ err, clientId }, 'client connection closed on error');
  }

  private countForward(client: Client, packet: AedesPublishPacket): AedesPublishPacket {
    const t = this.tracked.get(client.id);
    if (t) {
      t.stats.publishesOut++;
      t.stats.bytesOut += payloadLength(packet.payload);
    }
    return packet;
  }

  private onPublished(packet: AedesPublishPacket, client: Client | null, done: (err?: Error | null) => void): void {
    // client is null for the broker's own publishes ($SYS heartbeats, the bridge).
    if (client) {
      const t = this.statsFor(client.id);
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      t.stats.publishesIn++;
      t.stats.bytesIn += payload.length;
      try {
        this.options.onDevicePublish?.({ clientId: client.id, topic: packet.topic, payload, qos: packet.qos, retain: packet.retain });
      } catch (err) {
        // A failing consumer must not break the broker's publish path for the device.
        this.log.error({ err, clientId: client.id, topic: packet.topic }, 'device publish handler failed');
      }
    }
    done(null);
  }
}

function payloadLength(p: Buffer | string): number {
  return typeof p === 'string' ? Buffer.byteLength(p) : p.length;
}
