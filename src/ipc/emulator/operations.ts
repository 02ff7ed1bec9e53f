// The IPC operations of the Java nucleus the emulator serves, with its argument checks, authorization,
// replies and error texts (aws-greengrass-nucleus builtin/services: mqttproxy/MqttProxyIPCAgent.java,
// pubsub/PubSubIPCEventStreamAgent.java, configstore/ConfigStoreIPCEventStreamAgent.java,
// lifecycle/LifecycleIPCEventStreamAgent.java; authorization/AuthorizationModule.java). Nucleus lite's
// operations are in liteOperations.ts; dispatchOperation picks by flavor.
import type { Logger } from '../../log.ts';
import { isPlainObject } from '../../plainObject.ts';
import { MQTTPROXY, PUBSUB } from './authorization.ts';
import { getAtPath, mergeAtPath } from './componentConfig.ts';
import type { ComponentStore } from './componentStore.ts';
import type { ServerStream } from './connection.ts';
import type { NucleusFlavor } from './flavor.ts';
import { type CloudMessage, IoTCorePublishError, type SimulatedIoTCore } from './iotCore.ts';
import { liteHandlers } from './liteOperations.ts';
import { type LocalMessage, type LocalPubSub, type ReceiveMode, subscriptionEvent } from './localPubSub.ts';
import { filterProblem, publishTopicProblem } from './mqttTopic.ts';

export interface OperationDeps {
  flavor: NucleusFlavor;
  components: ComponentStore;
  iotCore: SimulatedIoTCore;
  pubsub: LocalPubSub;
  log: Logger;
  now: () => number;
  onStateChange: (component: string, state: string) => void;
}

export type Handler = (stream: ServerStream, req: Record<string, unknown>, deps: OperationDeps) => void;

export const op = (name: string): string => `aws.greengrass#${name}`;

/** Every operation name of the GreengrassCoreIPC model (JS model_utils.ts operation map). */
const MODEL_OPERATIONS = new Set(
  [
    'AuthorizeClientDeviceAction',
    'CancelLocalDeployment',
    'CreateDebugPassword',
    'CreateLocalDeployment',
    'DeferComponentUpdate',
    'DeleteThingShadow',
    'GetClientDeviceAuthToken',
    'GetComponentDetails',
    'GetConfiguration',
    'GetLocalDeploymentStatus',
    'GetSecretValue',
    'GetThingShadow',
    'ListComponents',
    'ListLocalDeployments',
    'ListNamedShadowsForThing',
    'PauseComponent',
    'PublishToIoTCore',
    'PublishToTopic',
    'PutComponentMetric',
    'RestartComponent',
    'ResumeComponent',
    'SendConfigurationValidityReport',
    'StopComponent',
    'SubscribeToCertificateUpdates',
    'SubscribeToComponentUpdates',
    'SubscribeToConfigurationUpdate',
    'SubscribeToIoTCore',
    'SubscribeToTopic',
    'SubscribeToValidateConfigurationUpdates',
    'UpdateConfiguration',
    'UpdateState',
    'UpdateThingShadow',
    'ValidateAuthorizationToken',
    'VerifyClientDeviceIdentity',
  ].map(op),
);

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const b64 = (v: unknown): Buffer | undefined => (typeof v === 'string' ? Buffer.from(v, 'base64') : undefined);

/** QoS check shared by publish and subscribe (MqttProxyIPCAgent). */
function qosOf(stream: ServerStream, raw: unknown): 0 | 1 | null {
  if (raw === undefined || raw === null) {
    stream.fail('InvalidArgumentsError', 'QoS is required');
    return null;
  }
  if (raw !== '0' && raw !== '1') {
    stream.fail('InvalidArgumentsError', `Invalid QoS value: ${String(raw)}`);
    return null;
  }
  return raw === '1' ? 1 : 0;
}

const publishToIoTCore: Handler = (stream, req, { components, iotCore }) => {
  // Order: topic → authorization → payload → QoS → publish (nucleus MqttProxyIPCAgent.java).
  const topic = str(req.topicName);
  if (topic === undefined) return stream.fail('InvalidArgumentsError', 'Topic is required');
  if (!components.authorized(stream.component, MQTTPROXY, stream.operation, topic))
    return stream.fail('UnauthorizedError', 'Not Authorized');
  const payload = b64(req.payload);
  if (payload === undefined) return stream.fail('InvalidArgumentsError', 'Payload is required');
  const qos = qosOf(stream, req.qos);
  if (qos === null) return;
  const topicProblem = publishTopicProblem(topic);
  if (topicProblem) return stream.fail('ServiceError', `Publish to topic ${topic} failed: ${topicProblem}`);
  const msg: CloudMessage = { topic, qos, payload };
  if (typeof req.retain === 'boolean') msg.retain = req.retain;
  if (Array.isArray(req.userProperties)) msg.userProperties = req.userProperties as { key: string; value: string }[];
  if (typeof req.messageExpiryIntervalSeconds === 'number') msg.messageExpiryIntervalSeconds = req.messageExpiryIntervalSeconds;
  const correlation = b64(req.correlationData);
  if (correlation) msg.correlationData = correlation;
  if (str(req.responseTopic)) msg.responseTopic = str(req.responseTopic)!;
  if (req.payloadFormat === '0' || req.payloadFormat === '1') msg.payloadFormat = req.payloadFormat;
  if (str(req.contentType)) msg.contentType = str(req.contentType)!;
  try {
    iotCore.publish(msg);
  } catch (err) {
    if (err instanceof IoTCorePublishError) return stream.fail('ServiceError', `Publish to topic ${topic} failed: ${err.message}`);
    throw err;
  }
  stream.respond({});
};

const subscribeToIoTCore: Handler = (stream, req, { components, iotCore }) => {
  const topic = str(req.topicName);
  if (topic === undefined) return stream.fail('InvalidArgumentsError', 'Topic is required');
  if (!components.authorized(stream.component, MQTTPROXY, stream.operation, topic))
    return stream.fail('UnauthorizedError', 'Not Authorized');
  if (qosOf(stream, req.qos) === null) return;
  const problem = filterProblem(topic);
  if (problem) return stream.fail('ServiceError', `Subscribe to topic ${topic} failed with error ${problem}`);
  // The answer comes once the core's MQTT client has subscribed, which waits for the connection: while
  // offline the call just waits (MqttClient.subscribe chains on connect).
  const cancel = iotCore.whenOnline(() => {
    if (stream.isOpen()) subscribeNow(stream, topic, iotCore);
  });
  stream.onClose(cancel);
};

function subscribeNow(stream: ServerStream, topic: string, iotCore: SimulatedIoTCore): void {
  // Messages are forwarded only after the response was sent (subscriptionResponseSent).
  stream.accept();
  const unsubscribe = iotCore.subscribe(topic, (m) => {
    const message: Record<string, unknown> = {
      topicName: m.topic,
      payload: m.payload.toString('base64'),
      retain: m.retain ?? false,
      payloadFormat: m.payloadFormat ?? '0',
    };
    if (m.userProperties) message.userProperties = m.userProperties;
    if (m.messageExpiryIntervalSeconds !== undefined) message.messageExpiryIntervalSeconds = m.messageExpiryIntervalSeconds;
    if (m.correlationData) message.correlationData = m.correlationData.toString('base64');
    if (m.responseTopic) message.responseTopic = m.responseTopic;
    if (m.contentType) message.contentType = m.contentType;
    stream.event('IoTCoreMessage', { message });
  });
  stream.onClose(unsubscribe);
}

/** 'bad-json' when jsonMessage.message is not an object: the Java model types it Map<String, Object>. */
function localMessageOf(raw: unknown): LocalMessage | null | 'bad-json' {
  if (!isPlainObject(raw)) return null;
  const json = raw.jsonMessage;
  const binary = raw.binaryMessage;
  if (isPlainObject(json) && binary === undefined) {
    if (json.message !== undefined && json.message !== null && !isPlainObject(json.message)) return 'bad-json';
    return { kind: 'json', value: json.message };
  }
  if (isPlainObject(binary) && json === undefined && typeof binary.message === 'string') {
    return { kind: 'binary', value: Buffer.from(binary.message, 'base64') };
  }
  return null;
}

/**
 * Pub/sub authorization as PubSubIPCEventStreamAgent does it, before any other check: an empty topic is
 * refused by the authorization module itself ("Resource cannot be empty").
 */
function pubsubUnauthorized(stream: ServerStream, components: ComponentStore, topic: string): boolean {
  if (topic.length === 0) {
    stream.fail('UnauthorizedError', 'Resource cannot be empty');
    return true;
  }
  if (components.authorized(stream.component, PUBSUB, stream.operation, topic)) return false;
  stream.fail(
    'UnauthorizedError',
    `Principal ${stream.component} is not authorized to perform ${PUBSUB}:${stream.operation} on resource ${topic}`,
  );
  return true;
}

const publishToTopic: Handler = (stream, req, { components, pubsub }) => {
  const topic = str(req.topic);
  if (topic === undefined) return stream.fail('InvalidArgumentsError', 'Publish topic must not be null');
  // Order: authorization → wildcards → message (PubSubIPCEventStreamAgent).
  if (pubsubUnauthorized(stream, components, topic)) return;
  if (/[+#*]/.test(topic)) return stream.fail('InvalidArgumentsError', 'Publish topic must not contain a wildcard.');
  const message = localMessageOf(req.publishMessage);
  // A jsonMessage that is not an object cannot be read into the request: an unmodeled error.
  if (message === 'bad-json') return stream.failUnmodeled('InternalServerError');
  if (!message) return stream.fail('InvalidArgumentsError', 'Publish message must contain exactly one of jsonMessage or binaryMessage');
  stream.respond({});
  pubsub.publish(topic, message, stream.component);
};

const subscribeToTopic: Handler = (stream, req, { components, pubsub }) => {
  const topic = str(req.topic);
  if (topic === undefined) return stream.fail('InvalidArgumentsError', 'Subscribe topic must not be empty');
  if (pubsubUnauthorized(stream, components, topic)) return;
  const mode =
    req.receiveMode === 'RECEIVE_ALL_MESSAGES' || req.receiveMode === 'RECEIVE_MESSAGES_FROM_OTHERS'
      ? (req.receiveMode as ReceiveMode)
      : undefined;
  stream.accept();
  const unsubscribe = pubsub.subscribe(topic, stream.component, mode, (t, m) => {
    stream.event('SubscriptionResponseMessage', subscriptionEvent(t, m));
  });
  stream.onClose(unsubscribe);
};

function keyPathOf(raw: unknown): string[] | null {
  if (raw === undefined) return [];
  return Array.isArray(raw) && raw.every((k) => typeof k === 'string') ? (raw as string[]) : null;
}

const getConfiguration: Handler = (stream, req, { components }) => {
  // No authorization: any component may read any component's configuration (nucleus ConfigStoreIPCEventStreamAgent.java).
  const name = str(req.componentName) ?? stream.component;
  const keyPath = keyPathOf(req.keyPath);
  const c = components.get(name);
  // The nucleus's "Key not found" carries no resourceType/resourceName.
  if (!c || keyPath === null) return stream.fail('ResourceNotFoundError', 'Key not found');
  const found = getAtPath(c.config, keyPath);
  if (!found.found) return stream.fail('ResourceNotFoundError', 'Key not found');
  // A key path ending at a leaf returns {"<leaf>": value}, not the bare value (same file).
  const value = keyPath.length > 0 && !isPlainObject(found.value) ? { [keyPath[keyPath.length - 1]!]: found.value } : found.value;
  stream.respond({ componentName: name, value });
};

const updateConfiguration: Handler = (stream, req, { components, now }) => {
  const keyPath = keyPathOf(req.keyPath);
  if (keyPath === null) return stream.fail('InvalidArgumentsError', 'keyPath must be a list of strings');
  if (typeof req.timestamp !== 'number') return stream.fail('InvalidArgumentsError', 'Timestamp is required');
  if (!('valueToMerge' in req)) return stream.fail('InvalidArgumentsError', 'valueToMerge is required');
  const touchesAccessControl =
    keyPath.length > 0 ? keyPath[0] === 'accessControl' : isPlainObject(req.valueToMerge) && 'accessControl' in req.valueToMerge;
  if (touchesAccessControl)
    return stream.fail('InvalidArgumentsError', 'Config update is not allowed for following fields [accessControl]');
  const c = components.get(stream.component)!;
  const stampMs = req.timestamp * 1000;
  if (stampMs < c.lastModifiedMs) {
    return stream.fail('FailedUpdateConditionCheckError', "Proposed timestamp is older than the config's latest modified timestamp");
  }
  // An IPC update is not validated: the nucleus asks validators only during a deployment.
  const candidate = mergeAtPath(c.config, keyPath, req.valueToMerge);
  if (!isPlainObject(candidate)) return stream.fail('InvalidArgumentsError', 'the configuration must stay an object');
  components.commit(stream.component, candidate, Math.max(now(), stampMs));
  stream.respond({});
};

const subscribeToConfigurationUpdate: Handler = (stream, req, { components }) => {
  const name = str(req.componentName) ?? stream.component;
  const keyPath = keyPathOf(req.keyPath);
  const c = components.get(name);
  // The subscribed path must exist (nucleus ConfigStoreIPCEventStreamAgent.java).
  if (!c || keyPath === null || !getAtPath(c.config, keyPath).found) return stream.fail('ResourceNotFoundError', 'Key not found');
  stream.accept();
  stream.onClose(
    components.subscribeConfig(name, keyPath, (e) => stream.event('ConfigurationUpdateEvents', { configurationUpdateEvent: e })),
  );
};

const subscribeToValidateConfigurationUpdates: Handler = (stream, _req, { components }) => {
  stream.accept();
  stream.onClose(
    components.subscribeValidation(stream.component, (e) =>
      stream.event('ValidateConfigurationUpdateEvents', { validateConfigurationUpdateEvent: e }),
    ),
  );
};

const sendConfigurationValidityReport: Handler = (stream, req, { components }) => {
  const report = req.configurationValidityReport;
  if (!isPlainObject(report)) return stream.fail('InvalidArgumentsError', 'Configuration validity report is required');
  const id = str(report.deploymentId);
  if (id === undefined) {
    return stream.fail('InvalidArgumentsError', 'Cannot accept configuration validity report, the deployment ID provided was null');
  }
  // Only REJECTED refuses (DynamicComponentConfigurationValidator); the status is not checked here.
  if (!components.report(stream.component, id, str(report.status), str(report.message))) {
    return stream.fail('InvalidArgumentsError', 'Validation request either timed out or was never made');
  }
  stream.respond({});
};

const updateState: Handler = (stream, req, { components, onStateChange }) => {
  const state = str(req.state);
  if (state !== 'RUNNING' && state !== 'ERRORED') return stream.fail('ServiceError', `Invalid state: ${String(req.state)}`);
  if (!components.setState(stream.component, state)) {
    return stream.fail('ResourceNotFoundError', 'Component with given name not found', {
      resourceType: 'Component',
      resourceName: stream.component,
    });
  }
  onStateChange(stream.component, state);
  stream.respond({});
};

const classicHandlers = new Map<string, Handler>([
  [op('PublishToIoTCore'), publishToIoTCore],
  [op('SubscribeToIoTCore'), subscribeToIoTCore],
  [op('PublishToTopic'), publishToTopic],
  [op('SubscribeToTopic'), subscribeToTopic],
  [op('GetConfiguration'), getConfiguration],
  [op('UpdateConfiguration'), updateConfiguration],
  [op('SubscribeToConfigurationUpdate'), subscribeToConfigurationUpdate],
  [op('SubscribeToValidateConfigurationUpdates'), subscribeToValidateConfigurationUpdates],
  [op('SendConfigurationValidityReport'), sendConfigurationValidityReport],
  [op('UpdateState'), updateState],
]);

export function dispatchOperation(operation: string, request: unknown, stream: ServerStream, deps: OperationDeps): void {
  if (deps.flavor === 'lite') {
    const liteHandler = liteHandlers.get(operation);
    if (liteHandler) {
      liteHandler(stream, isPlainObject(request) ? request : {}, deps);
      return;
    }
    // ggipcd: "Unhandled operation requested", answered with a ServiceError whose message is empty.
    deps.log.warn({ operation }, 'lite: Unhandled operation requested');
    stream.fail('ServiceError', '');
    return;
  }
  const handler = classicHandlers.get(operation);
  if (handler) {
    handler(stream, isPlainObject(request) ? request : {}, deps);
    return;
  }
  if (MODEL_OPERATIONS.has(operation)) {
    // In the model but without a handler here (nucleus ipc/common/DefaultOperationHandler.java).
    stream.fail('ServiceError', `Operation ${operation} is not supported by Greengrass`);
    return;
  }
  stream.failUnsupported({ error: 'Unsupported Operation', message: `${operation} is an unsupported operation.` });
}
