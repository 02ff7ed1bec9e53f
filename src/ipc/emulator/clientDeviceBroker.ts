// The emulator's client-device broker: the stand-in for Greengrass's local MQTT broker
// (aws.greengrass.clientdevices.mqtt.Moquette) that downstream devices connect to. aedes (MQTT 3.1.1)
// over TLS on loopback, with client certificates required and client device auth on every packet, as the
// Moquette plugin does it (aws-greengrass-moquette-mqtt integration ClientDeviceAuthorizer.java,
// ClientDeviceTrustManager.java; broker moquette-0.17 MQTTConnection.java, PostOffice.java):
// - TLS: a device must present a certificate the core trusts (here: issued by the emulator's CA);
// - CONNECT: the client id must be the thing the certificate is attached to (CDA CreateIoTThingSession)
//   and the device must have `mqtt:connect` on `mqtt:clientId:<id>`; otherwise CONNACK 4 (bad user name
//   or password) and the connection closes;
// - PUBLISH: `mqtt:publish` on `mqtt:topic:<topic>`; a denied publish is dropped without an answer (no
//   PUBACK for QoS 1) and the connection stays up;
// - SUBSCRIBE: `mqtt:subscribe` on `mqtt:topicfilter:<filter>`; a denied filter gets the SUBACK failure
//   code 0x80.
// Every client id is recorded with its traffic counters.

import type { EventEmitter } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { type Logger, silentLogger } from '../../log.ts';
import { type DeviceGroups, isDeviceAuthorized } from './clientDeviceAuth.ts';
import { thingOfCertificate } from './coreDeviceCa.ts';

/** Loopback only: the emulator must never accept devices from another host. */
export const BROKER_HOST = '127.0.0.1';
/** Per-client stats kept at most (oldest disconnected entries go first). */
const MAX_TRACKED_CLIENTS = 1000;
/** CDA refuses thing names longer than AWS IoT allows. */
const MAX_THING_NAME_LENGTH = 128;
/**
 * Where a denied publish goes so that aedes neither acknowledges nor delivers it: no client can subscribe
 * to it (authorizeSubscribe) and nothing is forwarded from it (authorizeForward).
 */
const DENIED_TOPIC = '$defender-edge/denied';

export interface DeviceMessage {
  clientId: string;
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
}

export interface BrokerTls {
  /** PEM server certificate and key, and the CA that client certificates must chain to. */
  cert: string;
  key: string;
  ca: string;
}

export interface ClientDeviceBrokerOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  port: number;
  tls: BrokerTls;
  /** The Auth component's device groups as they are now (read on every check). */
  deviceGroups: () => DeviceGroups;
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
  /** PUBLISH / SUBSCRIBE filters refused by client device auth. */
  deniedPublishes: number;
  deniedSubscribes: number;
}

export interface ClientDeviceBrokerStatus {
  url: string;
  connectedClients: number;
  clients: MqttClientStats[];
  /** CONNECTs refused by client device auth, the ids they used (bounded) and the last reason. */
  refusedConnects: number;
  refusedClientIds: string[];
  lastRefusal: string | null;
  deniedPublishes: number;
  deniedSubscribes: number;
  /** TLS handshakes that failed (no or untrusted client certificate, …). */
  tlsFailures: number;
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
  private readonly tracked = new Map<string, Tracked>();
  private readonly sockets = new Set<Socket>();
  private readonly refusedIds = new Set<string>();
  private aedes: Aedes | null = null;
  private server: Server | null = null;
  private boundPort = 0;
  private refused = 0;
  private lastRefusal: string | null = null;
  private deniedPublishes = 0;
  private deniedSubscribes = 0;
  private tlsFailures = 0;
  private clientErrors = 0;

  constructor(options: ClientDeviceBrokerOptions) {
    if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
      throw new BrokerStartError(`mqttPort: must be an integer 0-65535, got ${String(options.port)}`);
    }
    this.options = options;
    this.log = (options.logger ?? silentLogger()).child({ module: 'mqtt-broker' });
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `mqtts://${BROKER_HOST}:${this.boundPort}`;
  }

  async start(): Promise<void> {
    if (this.aedes) return;
    const aedes = await Aedes.createBroker({
      authenticate: (client, _user, _pass, done) => this.authenticate(client, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => this.authorizeSubscribe(client, sub, done),
      authorizeForward: (client, packet) => this.forward(client, packet),
      published: (packet, client, done) => this.onPublished(packet, client, done),
      // Thing names are up to 128 characters; CDA refuses longer ones itself.
      maxClientsIdLength: 65535,
    });
    aedes.on('clientReady', (client) => this.onClientReady(client));
    aedes.on('clientDisconnect', (client) => this.onClientGone(client));
    aedes.on('clientError', (client, err) => this.onClientError(client.id, err));
    aedes.on('connectionError', (_client, err) => this.onClientError(undefined, err));
    // aedes emits 'error' for persistence failures; without a listener that would kill the emulator.
    const emitter: EventEmitter = aedes; // its typings list only client events
    emitter.on('error', (err: Error) => this.log.error({ err }, 'broker error'));
    const { cert, key, ca } = this.options.tls;
    const server = createServer({ cert, key, ca, requestCert: true, rejectUnauthorized: true }, (socket) => aedes.handle(socket));
    // The TCP connections, tracked from before the handshake: stop() must also close one still in it.
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('tlsClientError', (err) => {
      this.tlsFailures++;
      this.log.warn({ err }, 'client device TLS handshake failed');
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
    this.log.info({ url: this.url }, 'client-device broker listening (TLS, client certificates required)');
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
    // Connections that never sent CONNECT (or never finished the handshake) are not aedes clients; close them.
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
      lastRefusal: this.lastRefusal,
      deniedPublishes: this.deniedPublishes,
      deniedSubscribes: this.deniedSubscribes,
      tlsFailures: this.tlsFailures,
      clientErrors: this.clientErrors,
    };
  }

  private can(clientId: string, operation: string, resource: string): boolean {
    return isDeviceAuthorized(this.options.deviceGroups(), clientId, operation, resource);
  }

  private authenticate(client: Client, done: (err: AuthenticateError | null, ok: boolean | null) => void): void {
    const conn = client.conn as TLSSocket;
    const peer = typeof conn.getPeerCertificate === 'function' ? conn.getPeerCertificate() : undefined;
    const thing = conn.authorized && peer ? thingOfCertificate(peer.subject?.CN) : null;
    let reason: string | null = null;
    if (thing === null) reason = 'no trusted client certificate';
    else if (client.id.length > MAX_THING_NAME_LENGTH) reason = 'Thing name is too long';
    else if (client.id !== thing) {
      reason = `Failed to verify certificate attached to thing: the certificate is attached to ${thing}; connect with the thing name as client id`;
    } else if (!this.can(client.id, 'mqtt:connect', `mqtt:clientId:${client.id}`)) {
      reason = "Device isn't authorized to connect (no device group grants mqtt:connect on its client id)";
    }
    if (reason === null) {
      done(null, true);
      return;
    }
    this.refused++;
    this.lastRefusal = `${client.id}: ${reason}`;
    if (this.refusedIds.size < MAX_TRACKED_CLIENTS) this.refusedIds.add(client.id);
    this.log.warn({ clientId: client.id, reason }, 'client device CONNECT refused');
    // Moquette answers CONNECTION_REFUSED_BAD_USER_NAME_OR_PASSWORD (4) and closes.
    const err = Object.assign(new Error(`client ${client.id}: ${reason}`), { returnCode: 4 }) as AuthenticateError;
    done(err, false);
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    if (!client) {
      done(null);
      return;
    }
    if (this.can(client.id, 'mqtt:publish', `mqtt:topic:${packet.topic}`)) {
      done(null);
      return;
    }
    this.deniedPublishes++;
    const t = this.tracked.get(client.id);
    if (t) t.stats.deniedPublishes++;
    this.log.warn({ clientId: client.id, topic: packet.topic }, 'client device is not authorized to publish on topic; dropped');
    // Dropped like Moquette does it: no PUBACK, no delivery, the connection stays.
    packet.topic = DENIED_TOPIC;
    packet.qos = 0;
    packet.retain = false;
    done(null);
  }

  private authorizeSubscribe(client: Client | null, sub: Subscription, done: (err: Error | null, sub?: Subscription | null) => void): void {
    if (!client) {
      done(null, sub);
      return;
    }
    if (!sub.topic.startsWith(DENIED_TOPIC) && this.can(client.id, 'mqtt:subscribe', `mqtt:topicfilter:${sub.topic}`)) {
      done(null, sub);
      return;
    }
    this.deniedSubscribes++;
    const t = this.tracked.get(client.id);
    if (t) t.stats.deniedSubscribes++;
    this.log.warn({ clientId: client.id, filter: sub.topic }, 'client device is not authorized to subscribe; SUBACK failure');
    done(null, null);
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
          deniedPublishes: 0,
          deniedSubscribes: 0,
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
    const conn = client.conn as Socket;
    // With TLS, a client that failed right after CONNECT can be gone before 'clientReady' is emitted.
    if (conn.destroyed || (client as { closed?: boolean }).closed) return;
    const t = this.statsFor(client.id);
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

  private forward(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    if (packet.topic === DENIED_TOPIC) return null;
    const t = this.tracked.get(client.id);
    if (t) {
      t.stats.publishesOut++;
      t.stats.bytesOut += payloadLength(packet.payload);
    }
    return packet;
  }

  private onPublished(packet: AedesPublishPacket, client: Client | null, done: (err?: Error | null) => void): void {
    // client is null for the broker's own publishes ($SYS heartbeats, the bridge).
    if (client && packet.topic !== DENIED_TOPIC) {
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
