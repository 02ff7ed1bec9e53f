// The emulator's MQTT bridge: moves messages between the client-device broker (LocalMqtt), the nucleus's
// local pub/sub (Pubsub) and the simulated IoT Core (IotCore) per a topic mapping (bridgeMapping.ts),
// like aws.greengrass.clientdevices.mqtt.Bridge. It maps only what its configuration's mqttTopicMapping
// says (nothing until a deployment configures it); a new mapping replaces the old one at once. Routing
// is pure; this module only subscribes and sends.
import type { Logger } from '../../log.ts';
import { BRIDGE_COMPONENT_NAME, type BrokerKind, routesFor, sourceFilters, type TopicMapping } from './bridgeMapping.ts';
import type { ClientDeviceBroker, DeviceMessage } from './clientDeviceBroker.ts';
import type { SimulatedIoTCore } from './iotCore.ts';
import type { LocalMessage, LocalPubSub } from './localPubSub.ts';
import { publishTopicProblem, topicMatchesFilter } from './mqttTopic.ts';

/** The identity the bridge publishes and subscribes under on local pub/sub (bridge PubSubClient.java). */
export const BRIDGE_COMPONENT = BRIDGE_COMPONENT_NAME;

export interface BridgeEndpoints {
  broker: ClientDeviceBroker;
  pubsub: LocalPubSub;
  iotCore: SimulatedIoTCore;
}

export interface BridgeStatus {
  mappings: number;
  /** Messages handed to their target, keyed `Source->Target`. */
  forwarded: Record<string, number>;
  /** Device publishes that matched no LocalMqtt mapping. */
  unroutedFromLocalMqtt: number;
  errors: number;
  lastError: string | null;
}

export class MqttBridge {
  private mapping: TopicMapping;
  private readonly ends: BridgeEndpoints;
  private readonly log: Logger;
  private readonly unsubscribes: (() => void)[] = [];
  private readonly forwarded: Record<string, number> = {};
  private unrouted = 0;
  private errors = 0;
  private lastError: string | null = null;
  private running = false;

  constructor(mapping: TopicMapping, ends: BridgeEndpoints, logger: Logger) {
    this.mapping = mapping;
    this.ends = ends;
    this.log = logger.child({ module: 'mqtt-bridge' });
  }

  /** Replace the topic mapping (a deployment of the bridge's configuration). */
  setMapping(mapping: TopicMapping): void {
    const wasRunning = this.running;
    if (wasRunning) this.stop();
    this.mapping = mapping;
    if (wasRunning) this.start();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    // Loop guard on pub/sub: the bridge never receives what it published itself. The nucleus gives
    // internal subscribers RECEIVE_MESSAGES_FROM_OTHERS only for wildcard filters (docs/greengrass-ipc.md);
    // we use it for every filter so that no mapping, however written, can echo.
    const pubsubFilters = sourceFilters(this.mapping, 'Pubsub');
    for (const filter of pubsubFilters) {
      this.unsubscribes.push(
        this.ends.pubsub.subscribe(filter, BRIDGE_COMPONENT, 'RECEIVE_MESSAGES_FROM_OTHERS', (topic, m) => {
          if (firstMatch(pubsubFilters, topic) === filter) this.fromPubsub(topic, m);
        }),
      );
    }
    const iotFilters = sourceFilters(this.mapping, 'IotCore');
    for (const filter of iotFilters) {
      this.unsubscribes.push(
        this.ends.iotCore.subscribe(filter, (msg) => {
          if (firstMatch(iotFilters, msg.topic) === filter) this.forward('IotCore', msg.topic, msg.payload);
        }),
      );
    }
    this.log.info({ mappings: this.mapping.length }, 'mqtt bridge started');
  }

  stop(): void {
    this.running = false;
    for (const u of this.unsubscribes.splice(0)) u();
  }

  /**
   * A device's publish on the local broker. The broker calls this only for publishes from a connected
   * client; the bridge's own publishes there have no client and never come back here (the loop guard on
   * the LocalMqtt side, like MQTT 5 no-local).
   */
  fromLocalMqtt(msg: DeviceMessage): void {
    if (!this.running) return;
    if (this.forward('LocalMqtt', msg.topic, msg.payload) === 0) this.unrouted++;
  }

  status(): BridgeStatus {
    return {
      mappings: this.mapping.length,
      forwarded: { ...this.forwarded },
      unroutedFromLocalMqtt: this.unrouted,
      errors: this.errors,
      lastError: this.lastError,
    };
  }

  private fromPubsub(topic: string, m: LocalMessage): void {
    // The bridge forwards bytes: a jsonMessage becomes its JSON text, as the nucleus serialises it for
    // internal subscribers (PubSubIPCEventStreamAgent: PublishEvent payload = JSON bytes).
    const payload = m.kind === 'binary' ? m.value : Buffer.from(JSON.stringify(m.value), 'utf8');
    this.forward('Pubsub', topic, payload);
  }

  /** Send to every target the mapping names; returns how many routes were taken. */
  private forward(source: BrokerKind, topic: string, payload: Buffer): number {
    const routes = routesFor(this.mapping, source, topic);
    for (const r of routes) {
      const key = `${source}->${r.target}`;
      try {
        this.send(r.target, r.topic, payload, key);
      } catch (err) {
        this.fail(key, r.topic, err);
      }
    }
    return routes.length;
  }

  private send(target: BrokerKind, topic: string, payload: Buffer, key: string): void {
    switch (target) {
      case 'Pubsub':
        // Messages from LocalMqtt/IotCore reach pub/sub as binaryMessage: the bridge forwards bytes
        // (SubscriptionResponseMessage.binaryMessage) — a JSON report arrives base64-wrapped.
        this.ends.pubsub.publish(topic, { kind: 'binary', value: payload }, BRIDGE_COMPONENT);
        this.count(key);
        return;
      case 'IotCore': {
        // The bridge always uses QoS 1 towards IoT Core (MQTT bridge component guide,
        // https://docs.aws.amazon.com/greengrass/v2/developerguide/mqtt-bridge-component.html); the nucleus's
        // topic rules and spooler apply (docs/greengrass-ipc.md).
        const problem = publishTopicProblem(topic);
        if (problem) throw new Error(problem);
        this.ends.iotCore.publish({ topic, qos: 1, payload });
        this.count(key);
        return;
      }
      case 'LocalMqtt':
        // QoS 1 like the bridge's Paho client (MqttMessage default); subscribers get min(1, their QoS).
        // Counted when handed to the broker (a device may see the message before aedes completes the
        // publish); a failure later is counted in errors as well.
        this.count(key);
        this.ends.broker.publish(topic, payload, 1).catch((err: unknown) => this.fail(key, topic, err));
        return;
    }
  }

  private count(key: string): void {
    this.forwarded[key] = (this.forwarded[key] ?? 0) + 1;
  }

  private fail(key: string, topic: string, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.errors++;
    this.lastError = `${key} ${topic}: ${message}`;
    this.log.warn({ err, route: key, topic }, 'bridge could not forward a message');
  }
}

/**
 * One subscription per distinct filter means a topic matching two overlapping filters arrives twice;
 * only the subscription of the first matching filter acts on it, and routesFor covers every entry.
 */
function firstMatch(filters: readonly string[], topic: string): string | undefined {
  return filters.find((f) => topicMatchesFilter(f, topic));
}
