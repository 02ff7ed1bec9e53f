// The configurations the Greengrass deployment gives each component, built from the fleet settings so
// that they agree with each other and with the agent: the broker port the agent counts MQTT on is the one
// Moquette listens on, the IP detector reports and the bridge connects to; the topics the bridge relays
// are the ones the agent subscribes to and answers on; the devices the client-device auth lets in are the
// ones the agent accepts reports from. Pure: no CDK, no I/O.
import { AGENT_TOPICS, type FleetSettings } from './fleetConfig.ts';

export const COMPONENT = 'com.defender-edge.DefenderEdge';
export const AUTH = 'aws.greengrass.clientdevices.Auth';
export const MOQUETTE = 'aws.greengrass.clientdevices.mqtt.Moquette';
export const IP_DETECTOR = 'aws.greengrass.clientdevices.IPDetector';
export const BRIDGE = 'aws.greengrass.clientdevices.mqtt.Bridge';

/** Client device auth's only policy variable (PolicyVariableResolver in aws-greengrass-client-device-auth). */
export const THING_VARIABLE = '${iot:Connection.Thing.ThingName}';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ComponentDeployment {
  version: string;
  /** The configuration merge (an object; the deployment carries it as a JSON string). */
  merge: Obj;
}

/**
 * A regular expression matching exactly the thing names that start with `prefix`. Thing-name characters
 * ([a-zA-Z0-9:_-]) mean themselves outside a character class, so the prefix needs no escaping.
 */
export function prefixPattern(prefix: string): string {
  return `${prefix}[a-zA-Z0-9:_-]*`;
}

/**
 * Our component's merge: the operator's configuration plus what the rest of the deployment implies —
 * downstream devices are the things named with the downstream prefix (unless the operator chose), and the
 * broker port is one of the ports the collector estimates MQTT messages on.
 */
export function agentMerge(s: FleetSettings): Obj {
  const merge: Obj = structuredClone(s.component.configuration);
  const downstream: Obj = isObj(merge.downstream) ? merge.downstream : {};
  if (downstream.thingNamePattern === undefined) {
    downstream.thingNamePattern = prefixPattern(s.downstream.thingNamePrefix);
    merge.downstream = downstream;
  }
  const collector: Obj = isObj(merge.collector) ? merge.collector : {};
  const ports = Array.isArray(collector.mqttPorts) ? (collector.mqttPorts as number[]) : [1883, 8883];
  if (!ports.includes(s.clientDevices.brokerPort)) {
    collector.mqttPorts = [...ports, s.clientDevices.brokerPort];
    merge.collector = collector;
  }
  return merge;
}

/** `downstream.messageTopics` of the merged configuration ({thingName} marks the device's level). */
function messageTopics(merge: Obj): string[] {
  const d = merge.downstream;
  return isObj(d) && Array.isArray(d.messageTopics) ? d.messageTopics.filter((t): t is string => typeof t === 'string') : [];
}

/** A topic filter of the agent as a client-device-auth resource: `*` is its only wildcard, `+`/`#` are literal. */
function authTopic(filter: string): string {
  return filter
    .replaceAll('{thingName}', THING_VARIABLE)
    .split('/')
    .map((level) => (level === '+' || level === '#' ? '*' : level))
    .join('/');
}

/**
 * aws.greengrass.clientdevices.Auth: the downstream devices (selected by thing-name prefix) may connect
 * with their thing name as client id, publish their own Defender reports (json and cbor, nothing else
 * under their reserved topic) and the messages the agent counts, and subscribe to their own answers.
 */
export function authMerge(s: FleetSettings, agent: Obj): Obj {
  const own = `$aws/things/${THING_VARIABLE}/defender/metrics`;
  const policy: Obj = {
    AllowConnect: {
      statementDescription: 'Connect with the thing name as client id',
      operations: ['mqtt:connect'],
      resources: [`mqtt:clientId:${THING_VARIABLE}`],
    },
    AllowDefenderReports: {
      statementDescription: "Publish the device's own Device Defender reports",
      operations: ['mqtt:publish'],
      resources: [`mqtt:topic:${own}/json`, `mqtt:topic:${own}/cbor`],
    },
    AllowDefenderAnswers: {
      statementDescription: "Subscribe to the answers to the device's own reports",
      operations: ['mqtt:subscribe'],
      resources: [`mqtt:topicfilter:${own}/*/accepted`, `mqtt:topicfilter:${own}/*/rejected`],
    },
  };
  const counted = messageTopics(agent);
  if (counted.length > 0) {
    policy.AllowCountedMessages = {
      statementDescription: 'Publish the messages defender-edge counts per device (downstream.messageTopics)',
      operations: ['mqtt:publish'],
      resources: counted.map((t) => `mqtt:topic:${authTopic(t)}`),
    };
  }
  return {
    deviceGroups: {
      formatVersion: '2021-03-05',
      definitions: {
        DefenderEdgeDownstreamDevices: {
          selectionRule: `thingName: ${s.downstream.thingNamePrefix}*`,
          policyName: 'DefenderEdgeDownstreamPolicy',
        },
      },
      policies: { DefenderEdgeDownstreamPolicy: policy },
    },
  };
}

export function moquetteMerge(s: FleetSettings): Obj {
  return { moquette: { ssl_port: s.clientDevices.brokerPort } };
}

export function ipDetectorMerge(s: FleetSettings): Obj {
  return { defaultPort: s.clientDevices.brokerPort };
}

/**
 * aws.greengrass.clientdevices.mqtt.Bridge: device reports from local MQTT to local pub/sub (where the
 * agent subscribes, downstream.reportTopic), the agent's answers back to local MQTT, and the counted
 * device topics to local pub/sub.
 */
export function bridgeMerge(s: FleetSettings, agent: Obj): Obj {
  const mapping: Obj = {
    DefenderReportsToPubsub: { topic: AGENT_TOPICS.downstreamReports, source: 'LocalMqtt', target: 'Pubsub' },
    DefenderAcceptedToLocalMqtt: { topic: `${AGENT_TOPICS.downstreamReports}/accepted`, source: 'Pubsub', target: 'LocalMqtt' },
    DefenderRejectedToLocalMqtt: { topic: `${AGENT_TOPICS.downstreamReports}/rejected`, source: 'Pubsub', target: 'LocalMqtt' },
  };
  messageTopics(agent).forEach((t, i) => {
    mapping[`CountedMessages${i + 1}ToPubsub`] = { topic: t.replaceAll('{thingName}', '+'), source: 'LocalMqtt', target: 'Pubsub' };
  });
  const merge: Obj = { mqttTopicMapping: mapping };
  if (s.clientDevices.brokerPort !== 8883) merge.brokerUri = `ssl://localhost:${s.clientDevices.brokerPort}`;
  return merge;
}

/** Every component of the deployment with its version and configuration merge. */
export function deploymentComponents(s: FleetSettings): Record<string, ComponentDeployment> {
  const agent = agentMerge(s);
  const v = s.clientDevices.versions;
  return {
    [COMPONENT]: { version: s.component.version, merge: agent },
    [AUTH]: { version: v.auth, merge: authMerge(s, agent) },
    [MOQUETTE]: { version: v.moquette, merge: moquetteMerge(s) },
    [IP_DETECTOR]: { version: v.ipDetector, merge: ipDetectorMerge(s) },
    [BRIDGE]: { version: v.bridge, merge: bridgeMerge(s, agent) },
  };
}

/** Heartbeat period the deployment gives the agent (schema default 60 s), for the heartbeat alarms. */
export function heartbeatSeconds(s: FleetSettings): { enabled: boolean; intervalSeconds: number } {
  const h = s.component.configuration.heartbeat;
  const enabled = isObj(h) && typeof h.enabled === 'boolean' ? h.enabled : true;
  const intervalSeconds = isObj(h) && typeof h.intervalSeconds === 'number' ? h.intervalSeconds : 60;
  return { enabled, intervalSeconds };
}
