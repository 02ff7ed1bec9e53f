// The topic mapping of Greengrass's MQTT bridge (aws.greengrass.clientdevices.mqtt.Bridge): parsing its
// `mqttTopicMapping` configuration and routing a message to its targets. Pure: no I/O, no clock.
//
// Format (Greengrass developer guide, mqtt-bridge-component.md "Configuration"; bridge source
// TopicMapping.java): an object keyed by a mapping name, each entry
//   { topic: <topic or MQTT filter>, source: LocalMqtt|Pubsub|IotCore, target: LocalMqtt|Pubsub|IotCore,
//     targetTopicPrefix?: string (bridge ≥ 2.2.0) }
// source and target must differ. The bridge keeps the topic name when forwarding, with the optional
// prefix in front (MessageBridge.java: targetTopic = targetTopicPrefix + sourceTopic).
import { isPlainObject } from '../../plainObject.ts';
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

export type MappingParse = { ok: true; mapping: TopicMapping; warnings: string[] } | { ok: false; errors: string[]; warnings: string[] };

export const BRIDGE_COMPONENT_NAME = 'aws.greengrass.clientdevices.mqtt.Bridge';

const ENTRY_KEYS = ['topic', 'source', 'target', 'targetTopicPrefix'] as const;
/** The bridge's other configuration keys (BridgeConfig.java): accepted, not used by the emulator. */
const CONFIG_KEYS = ['mqttTopicMapping', 'brokerUri', 'brokerServerUri', 'clientId', 'mqtt5RouteOptions', 'mqtt', 'startupTimeoutSeconds'];

/** Broker names are enum values the bridge reads case-insensitively (ACCEPT_CASE_INSENSITIVE_ENUMS). */
function brokerKind(v: unknown): BrokerKind | null {
  if (typeof v !== 'string') return null;
  return BROKER_KINDS.find((k) => k.toLowerCase() === v.toLowerCase()) ?? null;
}

/**
 * Parse a `mqttTopicMapping` object; errors as `path: message`. Keys of an entry are read
 * case-insensitively and unknown ones ignored with a warning, like the bridge's configuration mapper.
 */
export function parseTopicMapping(raw: unknown, path = 'mqttTopicMapping'): MappingParse {
  const warnings: string[] = [];
  if (!isPlainObject(raw)) return { ok: false, errors: [`${path}: must be an object of named mappings`], warnings };
  const errors: string[] = [];
  const mapping: TopicMappingEntry[] = [];
  for (const [name, value] of Object.entries(raw)) {
    const p = `${path}.${name}`;
    if (!isPlainObject(value)) {
      errors.push(`${p}: must be an object {topic, source, target}`);
      continue;
    }
    const before = errors.length;
    const fields: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const known = ENTRY_KEYS.find((k) => k.toLowerCase() === key.toLowerCase());
      if (known) fields[known] = v;
      else warnings.push(`${p}.${key}: unknown key, ignored`);
    }
    const { topic, targetTopicPrefix } = fields;
    const source = brokerKind(fields.source);
    const target = brokerKind(fields.target);
    if (typeof topic !== 'string') errors.push(`${p}.topic: required, a topic or MQTT topic filter`);
    else {
      const problem = filterProblem(topic);
      if (problem) errors.push(`${p}.topic: ${problem}`);
    }
    if (!source) errors.push(`${p}.source: required, one of ${BROKER_KINDS.join(', ')}${describe(fields.source)}`);
    if (!target) errors.push(`${p}.target: required, one of ${BROKER_KINDS.join(', ')}${describe(fields.target)}`);
    else if (target === source) errors.push(`${p}.target: must differ from source`);
    if (targetTopicPrefix !== undefined && targetTopicPrefix !== null) {
      if (typeof targetTopicPrefix !== 'string') errors.push(`${p}.targetTopicPrefix: must be a string`);
      else if (/[+#]/.test(targetTopicPrefix)) errors.push(`${p}.targetTopicPrefix: must not contain wildcards`);
    }
    if (errors.length === before) {
      mapping.push({
        name,
        topic: topic as string,
        source: source as BrokerKind,
        target: target as BrokerKind,
        targetTopicPrefix: (targetTopicPrefix as string | undefined | null) ?? '',
      });
    }
  }
  return errors.length > 0 ? { ok: false, errors, warnings } : { ok: true, mapping, warnings };
}

function describe(v: unknown): string {
  return v === undefined ? '' : `, not ${JSON.stringify(v)}`;
}

/**
 * Parse the bridge component's configuration, of which the emulator uses `mqttTopicMapping`. There is no
 * default mapping: without one the bridge maps nothing (a warning says so).
 */
export function parseBridgeConfig(raw: unknown, path: string = BRIDGE_COMPONENT_NAME): MappingParse {
  const nothing = `${path}.mqttTopicMapping: absent; the bridge maps nothing`;
  if (raw === undefined || raw === null) return { ok: true, mapping: [], warnings: [nothing] };
  if (!isPlainObject(raw)) return { ok: false, errors: [`${path}: configuration must be an object with mqttTopicMapping`], warnings: [] };
  const warnings: string[] = [];
  for (const key of Object.keys(raw)) {
    if (!CONFIG_KEYS.some((k) => k.toLowerCase() === key.toLowerCase())) warnings.push(`${path}.${key}: unknown key, ignored`);
  }
  const mappingKey = Object.keys(raw).find((k) => k.toLowerCase() === 'mqtttopicmapping');
  if (mappingKey === undefined || raw[mappingKey] === null) return { ok: true, mapping: [], warnings: [...warnings, nothing] };
  const parsed = parseTopicMapping(raw[mappingKey], `${path}.mqttTopicMapping`);
  return { ...parsed, warnings: [...warnings, ...parsed.warnings] };
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
