// The IPC operations the emulator serves, with the nucleus's argument checks, authorization, replies
// and error texts (docs/greengrass-ipc.md; the nucleus's builtin/services/*IPC*Agent.java).
import type { Logger } from '../../log.ts';
import { MQTTPROXY, PUBSUB } from './authorization.ts';
import { getAtPath, isJsonObject } from './componentConfig.ts';
import type { ComponentStore } from './componentStore.ts';
import type { ServerStream } from './connection.ts';
import { type CloudMessage, IoTCorePublishError, type SimulatedIoTCore } from './iotCore.ts';
import type { LocalMessage, LocalPubSub, ReceiveMode } from './localPubSub.ts';
import { filterProblem, publishTopicProblem } from './mqttTopic.ts';

export interface OperationDeps {
  components: ComponentStore;
  iotCore: SimulatedIoTCore;
  pubsub: LocalPubSub;
  log: Logger;
  now: () => number;
  onStateChange: (component: string, state: string) => void;
}

type Handler = (stream: ServerStream, req: Record<string, unknown>, deps: OperationDeps) => void;

const op = (name: string): string => `aws.greengrass#${name}`;

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
};

function localMessageOf(raw: unknown): LocalMessage | null {
  if (!isJsonObject(raw)) return null;
  const json = raw.jsonMessage;
  const binary = raw.binaryMessage;
  if (isJsonObject(json) && binary === undefined) return { kind: 'json', value: json.message };
  if (isJsonObject(binary) && json === undefined && typeof binary.message === 'string') {
    return { kind: 'binary', value: Buffer.from(binary.message, 'base64') };
  }
  return null;
}

const publishToTopic: Handler = (stream, req, { components, pubsub }) => {
  const topic = str(req.topic);
  if (topic === undefined || topic.length === 0) return stream.fail('InvalidArgumentsError', 'Publish topic must not be empty');
  if (/[+#*]/.test(topic)) return stream.fail('InvalidArgumentsError', 'Publish topic must not contain a wildcard.');
  if (!components.authorized(stream.component, PUBSUB, stream.operation, topic)) {
    return stream.fail(
      'UnauthorizedError',
      `Principal ${stream.component} is not authorized to perform ${PUBSUB}:${stream.operation} on resource ${topic}`,
    );
  }
  const message = localMessageOf(req.publishMessage);
  if (!message) return stream.fail('InvalidArgumentsError', 'Publish message must contain exactly one of jsonMessage or binaryMessage');
  stream.respond({});
  pubsub.publish(topic, message, stream.component);
};

const subscribeToTopic: Handler = (stream, req, { components, pubsub }) => {
  const topic = str(req.topic);
  if (topic === undefined || topic.length === 0) return stream.fail('InvalidArgumentsError', 'Subscribe topic must not be empty');
  if (!components.authorized(stream.component, PUBSUB, stream.operation, topic)) {
    return stream.fail(
      'UnauthorizedError',
      `Principal ${stream.component} is not authorized to perform ${PUBSUB}:${stream.operation} on resource ${topic}`,
    );
  }
  const mode =
    req.receiveMode === 'RECEIVE_ALL_MESSAGES' || req.receiveMode === 'RECEIVE_MESSAGES_FROM_OTHERS'
      ? (req.receiveMode as ReceiveMode)
      : undefined;
  stream.accept();
  const unsubscribe = pubsub.subscribe(topic, stream.component, mode, (t, m) => {
    const context = { topic: t };
    stream.event(
      'SubscriptionResponseMessage',
      m.kind === 'json'
        ? { jsonMessage: { message: m.value, context } }
        : { binaryMessage: { message: m.value.toString('base64'), context } },
    );
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
  if (!c || keyPath === null)
    return stream.fail('ResourceNotFoundError', 'Key not found', { resourceType: 'Configuration', resourceName: name });
  const found = getAtPath(c.config, keyPath);
  if (!found.found) return stream.fail('ResourceNotFoundError', 'Key not found', { resourceType: 'Configuration', resourceName: name });
  // A key path ending at a leaf returns {"<leaf>": value}, not the bare value (same file).
  const value = keyPath.length > 0 && !isJsonObject(found.value) ? { [keyPath[keyPath.length - 1]!]: found.value } : found.value;
  stream.respond({ componentName: name, value });
};

const updateConfiguration: Handler = (stream, req, { components, now }) => {
  const keyPath = keyPathOf(req.keyPath);
  if (keyPath === null) return stream.fail('InvalidArgumentsError', 'keyPath must be a list of strings');
  if (typeof req.timestamp !== 'number') return stream.fail('InvalidArgumentsError', 'Timestamp is required');
  if (!('valueToMerge' in req)) return stream.fail('InvalidArgumentsError', 'valueToMerge is required');
  const touchesAccessControl =
    keyPath.length > 0 ? keyPath[0] === 'accessControl' : isJsonObject(req.valueToMerge) && 'accessControl' in req.valueToMerge;
  if (touchesAccessControl)
    return stream.fail('InvalidArgumentsError', 'Config update is not allowed for following fields [accessControl]');
  const c = components.get(stream.component)!;
  const stampMs = req.timestamp * 1000;
  if (stampMs < c.lastModifiedMs) {
    return stream.fail('FailedUpdateConditionCheckError', "Proposed timestamp is older than the config's latest modified timestamp");
  }
  // Our extension, not the nucleus's: validators see an IPC update too, like a deployment's.
  components.change(stream.component, keyPath, req.valueToMerge, Math.max(now(), stampMs)).then(
    (r) => (r.applied ? stream.respond({}) : stream.fail('FailedUpdateConditionCheckError', `Configuration update rejected: ${r.reason}`)),
    (err: unknown) => stream.fail('ServiceError', (err as Error).message),
  );
};

const subscribeToConfigurationUpdate: Handler = (stream, req, { components }) => {
  const name = str(req.componentName) ?? stream.component;
  const keyPath = keyPathOf(req.keyPath);
  const c = components.get(name);
  // The subscribed path must exist (nucleus ConfigStoreIPCEventStreamAgent.java).
  if (!c || keyPath === null || !getAtPath(c.config, keyPath).found) {
    return stream.fail('ResourceNotFoundError', 'Key not found', { resourceType: 'Configuration', resourceName: name });
  }
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
  if (!isJsonObject(report)) return stream.fail('InvalidArgumentsError', 'Configuration validity report is required');
  const status = report.status;
  const id = str(report.deploymentId);
  if ((status !== 'ACCEPTED' && status !== 'REJECTED') || id === undefined) {
    return stream.fail('InvalidArgumentsError', 'Validation request either timed out or was never made');
  }
  if (!components.report(stream.component, id, status, str(report.message))) {
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

const handlers = new Map<string, Handler>([
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
  const handler = handlers.get(operation);
  if (handler) return handler(stream, isJsonObject(request) ? request : {}, deps);
  if (MODEL_OPERATIONS.has(operation)) {
    // In the model but without a handler here (nucleus ipc/common/DefaultOperationHandler.java).
    return stream.fail('ServiceError', `Operation ${operation} is not supported by Greengrass`);
  }
  stream.failUnsupported({ error: 'Unsupported Operation', message: `${operation} is an unsupported operation.` });
}
