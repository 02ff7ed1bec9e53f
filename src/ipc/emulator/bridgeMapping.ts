// The topic mapping of Greengrass's MQTT bridge (aws.greengrass.clientdevices.mqtt.Bridge): parsing its
// `mqttTopicMapping` configuration and routing a message to its targets. Pure: no I/O, no clock.
//
// Format (Greengrass developer guide, mqtt-bridge-component.md "Configuration"; bridge source
// TopicMapping.java): an object keyed by a mapping name, each entry
//   { topic: <topic or MQTT filter>, source: LocalMqtt|Pubsub|IotCore, target: LocalMqtt|Pubsub|IotCore,
//     targetTopicPrefix?: string (bridge ≥ 2.2.0) }
// source and target must differ. The bridge keeps the topic name when forwarding, with the optional
// prefix in front (MessageBridge.java: targetTopic = targetTopicPrefix + sourceTopic).
import { filterProblem, topicMatchesFilter } from './mqttTopic.ts';

export const BROKER_KINDS = ['LocalMqtt', 'Pubsub', 'IotCore'] as const;
export type BrokerKind = (typeof BROKER_KINDS)[number];

export interface TopicMappingEntry {
  name: string;
  topic: string;
  source: BrokerKind;
  target: BrokerKind;
  targetTopicPrefix: string;
}

export type TopicMapping = readonly TopicMappingEntry[];

export interface Route {
  target: BrokerKind;
  /** Topic on the target: targetTopicPrefix + the source topic. */
  topic: string;
  /** Name of the first mapping entry that produced this route. */
  mapping: string;
}

export class BridgeConfigError extends Error {
  override name = 'BridgeConfigError';
  readonly errors: string[];
  constructor(errors: string[]) {
    super(errors.join('; '));
    this.errors = errors;
  }
}

export type MappingParse = { ok: true; mapping: TopicMapping } | { ok: false; errors: string[] };

/**
 * Our default when no mapping is configured (a choice, not a Greengrass default: the real bridge maps
 * nothing until configured). Downstream devices publish Device Defender reports on the same topics they
 * would use towards IoT Core (`$aws/things/<device>/defender/metrics/json|cbor`, docs/reports.md) and
 * free-form data under `devices/#`; both reach local pub/sub where the component listens. The component's
 * answers (`…/accepted|rejected`) and anything it publishes under `devices/#` go back to local MQTT, so a
 * device gets its reply where it published. Loops are impossible: see MqttBridge (no re-bridging of
 * the bridge's own messages).
 */
export const DEFAULT_TOPIC_MAPPING: TopicMapping = [
  entry('DeviceDefenderReportsToPubsub', '$aws/things/+/defender/metrics/+', 'LocalMqtt', 'Pubsub'),
  entry('DevicesToPubsub', 'devices/#', 'LocalMqtt', 'Pubsub'),
  entry('DeviceDefenderAcceptedToLocalMqtt', '$aws/things/+/defender/metrics/+/accepted', 'Pubsub', 'LocalMqtt'),
  entry('DeviceDefenderRejectedToLocalMqtt', '$aws/things/+/defender/metrics/+/rejected', 'Pubsub', 'LocalMqtt'),
  entry('DevicesToLocalMqtt', 'devices/#', 'Pubsub', 'LocalMqtt'),
];

function entry(name: string, topic: string, source: BrokerKind, target: BrokerKind): TopicMappingEntry {
  return { name, topic, source, target, targetTopicPrefix: '' };
}

const ENTRY_KEYS = new Set(['topic', 'source', 'target', 'targetTopicPrefix']);
/** Other keys of the bridge's configuration: accepted in a bridge file and ignored by the emulator. */
const IGNORED_CONFIG_KEYS = new Set(['brokerUri', 'brokerServerUri', 'clientId', 'mqtt5RouteOptions', 'mqtt', 'startupTimeoutSeconds']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isBrokerKind(v: unknown): v is BrokerKind {
  return typeof v === 'string' && (BROKER_KINDS as readonly string[]).includes(v);
}

/** Parse a `mqttTopicMapping` object; errors as `path: message` (docs/architecture.md#conventions). */
export function parseTopicMapping(raw: unknown, path = 'mqttTopicMapping'): MappingParse {
  if (!isObject(raw)) return { ok: false, errors: [`${path}: must be an object of named mappings`] };
  const errors: string[] = [];
  const mapping: TopicMappingEntry[] = [];
  for (const [name, value] of Object.entries(raw)) {
    const p = `${path}.${name}`;
    if (!isObject(value)) {
      errors.push(`${p}: must be an object {topic, source, target}`);
      continue;
    }
    const before = errors.length;
    for (const key of Object.keys(value)) if (!ENTRY_KEYS.has(key)) errors.push(`${p}.${key}: unknown key`);
    const { topic, source, target, targetTopicPrefix } = value;
    if (typeof topic !== 'string') errors.push(`${p}.topic: must be a string`);
    else {
      const problem = filterProblem(topic);
      if (problem) errors.push(`${p}.topic: ${problem}`);
    }
    if (!isBrokerKind(source)) errors.push(`${p}.source: must be one of ${BROKER_KINDS.join(', ')}`);
    if (!isBrokerKind(target)) errors.push(`${p}.target: must be one of ${BROKER_KINDS.join(', ')}`);
    else if (target === source) errors.push(`${p}.target: must differ from source`);
    if (targetTopicPrefix !== undefined) {
      if (typeof targetTopicPrefix !== 'string') errors.push(`${p}.targetTopicPrefix: must be a string`);
      else if (/[+#]/.test(targetTopicPrefix)) errors.push(`${p}.targetTopicPrefix: must not contain wildcards`);
    }
    if (errors.length === before) {
      mapping.push({
        name,
        topic: topic as string,
        source: source as BrokerKind,
        target: target as BrokerKind,
        targetTopicPrefix: (targetTopicPrefix as string | undefined) ?? '',
      });
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, mapping };
}

/**
 * Parse a bridge configuration file: the bridge component's configuration object, of which the
 * emulator uses `mqttTopicMapping` (required) and ignores the bridge's connection keys.
 */
export function parseBridgeConfig(raw: unknown): MappingParse {
  if (!isObject(raw)) return { ok: false, errors: ['bridge: must be an object with mqttTopicMapping'] };
  const errors: string[] = [];
  for (const key of Object.keys(raw)) {
    if (key !== 'mqttTopicMapping' && !IGNORED_CONFIG_KEYS.has(key)) errors.push(`bridge.${key}: unknown key`);
  }
  if (raw.mqttTopicMapping === undefined) errors.push('bridge.mqttTopicMapping: required');
  else {
    const parsed = parseTopicMapping(raw.mqttTopicMapping, 'bridge.mqttTopicMapping');
    if (!parsed.ok) errors.push(...parsed.errors);
    else if (errors.length === 0) return parsed;
  }
  return { ok: false, errors };
}

/** The distinct filters to subscribe to on one source, in mapping order. */
export function sourceFilters(mapping: TopicMapping, source: BrokerKind): string[] {
  return [...new Set(mapping.filter((m) => m.source === source).map((m) => m.topic))];
}

/**
 * Where a message seen on `source` with topic `topic` goes. One route per distinct (target, topic):
 * overlapping entries (e.g. `devices/#` and `devices/+/x` to the same target) forward a message once,
 * where the Java bridge would forward it once per matching entry; a duplicate helps no one.
 */
export function routesFor(mapping: TopicMapping, source: BrokerKind, topic: string): Route[] {
  const routes: Route[] = [];
  const seen = new Set<string>();
  for (const m of mapping) {
    if (m.source !== source || !topicMatchesFilter(m.topic, topic)) continue;
    const targetTopic = m.targetTopicPrefix + topic;
    const key = `${m.target}\u0000${targetTopic}`;
    if (seen.has(key)) continue;
    seen.add(key);
    routes.push({ target: m.target, topic: targetTopic, mapping: m.name });
  }
  return routes;
}
