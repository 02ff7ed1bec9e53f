// The IPC operations of Greengrass nucleus lite (aws-greengrass-lite modules/ggipcd/src/services/*: the
// handlers' argument schemas, authorization and error texts). Only these operations exist there; any other
// is answered with a ServiceError whose message is empty (ipc_dispatch.c, see dispatchOperation).
// Differences from the Java nucleus that a component meets:
// - GetConfiguration hands numbers back as strings, says "Key not found." and fails (ServiceError, empty
//   message) when the answer exceeds lite's object or message limits;
// - no validation operations, no spooler: PublishToIoTCore and SubscribeToIoTCore fail while offline;
// - every refusal by a policy is UnauthorizedError "IPC Operation not authorized.";
// - SubscribeToTopic ignores receiveMode (a component hears its own messages) and IoTCoreMessage events
//   carry only topicName and payload;
// - UpdateState needs no policy; ERRORED is accepted and has no effect (it only reaches systemd as status).
import { LITE_MAX_IPC_MESSAGE_BYTES } from '../../config/liteLimits.ts';
import { isPlainObject } from '../../plainObject.ts';
import { MQTTPROXY, PUBSUB } from './authorization.ts';
import { getAtPath, mergeAtPath } from './componentConfig.ts';
import type { ServerStream } from './connection.ts';
import { numbersAsStrings, objectLimitProblem } from './liteLimits.ts';
import { type LocalMessage, subscriptionEvent } from './localPubSub.ts';
import type { Handler } from './operations.ts';

const op = (name: string): string => `aws.greengrass#${name}`;
const INVALID = 'Received invalid parameters.';
const NOT_AUTHORIZED = 'IPC Operation not authorized.';
/** ggipcd builds a config path of services/<component>/configuration/<keyPath…> in GG_MAX_OBJECT_DEPTH (15). */
const MAX_KEY_PATH = 12;

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((k) => typeof k === 'string');
const isBase64 = (s: string): boolean => s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);

/** `qos` as lite reads it: absent → 0, a decimal string or an integer 0-2. Returns an error text or the value. */
function liteQos(raw: unknown): number | { error: string } {
  if (raw === undefined || raw === null) return 0;
  let qos: number;
  if (typeof raw === 'string') {
    if (!/^-?\d+$/.test(raw)) return { error: "Failed to parse 'qos' string value." };
    qos = Number(raw);
  } else if (typeof raw === 'number' && Number.isInteger(raw)) qos = raw;
  else return { error: 'Key qos of invalid type.' };
  if (qos < 0 || qos > 2) return { error: "'qos' not a valid value." };
  return qos;
}

function authorized(stream: ServerStream, deps: Parameters<Handler>[2], service: string, resource: string): boolean {
  if (deps.components.authorized(stream.component, service, stream.operation, resource)) return true;
  stream.fail('UnauthorizedError', NOT_AUTHORIZED);
  return false;
}

const publishToIoTCore: Handler = (stream, req, deps) => {
  const topic = req.topicName;
  if (typeof topic !== 'string' || (req.payload !== undefined && typeof req.payload !== 'string'))
    return stream.fail('ServiceError', INVALID);
  const qos = liteQos(req.qos);
  if (typeof qos !== 'number') return stream.fail('ServiceError', qos.error);
  const payloadText = (req.payload as string | undefined) ?? '';
  if (!isBase64(payloadText)) return stream.fail('ServiceError', "'payload' is not valid base64.");
  if (!authorized(stream, deps, MQTTPROXY, topic)) return;
  // No spooler: iotcored publishes on the live connection or fails (modules/iotcored/src/mqtt.c).
  if (!deps.iotCore.isOnline()) return stream.fail('ServiceError', 'Failed to publish the message.');
  try {
    deps.iotCore.publish({ topic, qos: qos === 0 ? 0 : 1, payload: Buffer.from(payloadText, 'base64') });
  } catch {
    return stream.fail('ServiceError', 'Failed to publish the message.');
  }
  stream.respond({});
};

const subscribeToIoTCore: Handler = (stream, req, deps) => {
  const topic = req.topicName;
  if (typeof topic !== 'string') return stream.fail('ServiceError', INVALID);
  const qos = liteQos(req.qos);
  if (typeof qos !== 'number') return stream.fail('ServiceError', qos.error);
  if (!authorized(stream, deps, MQTTPROXY, topic)) return;
  // iotcored subscribes on the live connection; offline the subscribe fails.
  if (!deps.iotCore.isOnline()) return stream.fail('ServiceError', 'Failed to bind the subscription.');
  stream.accept();
  const unsubscribe = deps.iotCore.subscribe(topic, (m) => {
    stream.event('IoTCoreMessage', { message: { topicName: m.topic, payload: m.payload.toString('base64') } });
  });
  stream.onClose(unsubscribe);
};

const publishToTopic: Handler = (stream, req, deps) => {
  const topic = req.topic;
  const pm = req.publishMessage;
  if (typeof topic !== 'string' || !isPlainObject(pm)) return stream.fail('ServiceError', INVALID);
  const json = pm.jsonMessage;
  const binary = pm.binaryMessage;
  if ((json !== undefined && !isPlainObject(json)) || (binary !== undefined && !isPlainObject(binary)))
    return stream.fail('ServiceError', INVALID);
  if ((json === undefined) === (binary === undefined)) return stream.fail('ServiceError', INVALID);
  let message: LocalMessage;
  if (json !== undefined) {
    if (!('message' in json)) return stream.fail('ServiceError', INVALID);
    message = { kind: 'json', value: json.message };
  } else {
    const text = (binary as Record<string, unknown>).message;
    if (typeof text !== 'string') return stream.fail('ServiceError', INVALID);
    message = { kind: 'binary', value: Buffer.from(text, 'base64') };
  }
  if (!authorized(stream, deps, PUBSUB, topic)) return;
  stream.respond({});
  // ggpubsubd delivers to every matching subscription, the publisher's own included.
  deps.pubsub.publish(topic, message, undefined);
};

const subscribeToTopic: Handler = (stream, req, deps) => {
  const topic = req.topic;
  if (typeof topic !== 'string') return stream.fail('ServiceError', INVALID);
  if (!authorized(stream, deps, PUBSUB, topic)) return;
  stream.accept();
  const unsubscribe = deps.pubsub.subscribe(topic, stream.component, 'RECEIVE_ALL_MESSAGES', (t, m) => {
    stream.event('SubscriptionResponseMessage', subscriptionEvent(t, m));
  });
  stream.onClose(unsubscribe);
};

const getConfiguration: Handler = (stream, req, { components }) => {
  if (
    (req.keyPath !== undefined && !isStringList(req.keyPath)) ||
    (req.componentName !== undefined && typeof req.componentName !== 'string')
  ) {
    return stream.fail('ServiceError', INVALID);
  }
  const keyPath = (req.keyPath as string[] | undefined) ?? [];
  const name = (req.componentName as string | undefined) ?? stream.component;
  if (keyPath.length > MAX_KEY_PATH) return stream.fail('ServiceError', 'Config path depth larger than supported.');
  const c = components.get(name);
  const found = c ? getAtPath(c.config, keyPath) : ({ found: false } as const);
  if (!found.found) return stream.fail('ResourceNotFoundError', 'Key not found.');
  let value = found.value;
  if (!isPlainObject(value)) {
    if (keyPath.length === 0) return stream.fail('InvalidArgumentsError', 'Key is not valid.');
    value = { [keyPath[keyPath.length - 1]!]: value };
  }
  // ggconfigd's read answer must fit a core-bus message: ≤ 255 sub-objects, ≤ 10,000 bytes.
  if (objectLimitProblem(value) !== null || Buffer.byteLength(JSON.stringify(value)) > LITE_MAX_IPC_MESSAGE_BYTES) {
    return stream.fail('ServiceError', '');
  }
  stream.respond({ componentName: name, value: numbersAsStrings(value) });
};

const updateConfiguration: Handler = (stream, req, { components, now }) => {
  // `timestamp` must decode as a float; a JSON integer (a whole second) is refused like a missing one.
  const ts = req.timestamp;
  if (
    (req.keyPath !== undefined && !isStringList(req.keyPath)) ||
    !('valueToMerge' in req) ||
    typeof ts !== 'number' ||
    Number.isInteger(ts)
  ) {
    return stream.fail('InvalidArgumentsError', INVALID);
  }
  const keyPath = (req.keyPath as string[] | undefined) ?? [];
  const touchesAccessControl =
    keyPath.length > 0 ? keyPath[0] === 'accessControl' : isPlainObject(req.valueToMerge) && 'accessControl' in req.valueToMerge;
  if (touchesAccessControl) return stream.fail('InvalidArgumentsError', 'Config update is not allowed for following field [accessControl]');
  if (keyPath.length > MAX_KEY_PATH) return stream.fail('ServiceError', 'Config path depth larger than supported.');
  const c = components.get(stream.component)!;
  const stampMs = Math.trunc(ts * 1000);
  // ggconfigd keeps a newer value and ignores an older write.
  if (stampMs < c.lastModifiedMs) return stream.respond({});
  const candidate = mergeAtPath(c.config, keyPath, req.valueToMerge);
  if (!isPlainObject(candidate) || objectLimitProblem(req.valueToMerge) !== null)
    return stream.fail('ServiceError', 'Failed to update the configuration.');
  components.commit(stream.component, candidate, Math.max(now(), stampMs));
  stream.respond({});
};

const subscribeToConfigurationUpdate: Handler = (stream, req, { components }) => {
  if (
    (req.keyPath !== undefined && !isStringList(req.keyPath)) ||
    (req.componentName !== undefined && typeof req.componentName !== 'string')
  ) {
    return stream.fail('ServiceError', 'Failed to validate the map.');
  }
  const keyPath = (req.keyPath as string[] | undefined) ?? [];
  const name = (req.componentName as string | undefined) ?? stream.component;
  if (keyPath.length > MAX_KEY_PATH) return stream.fail('ServiceError', 'Config path depth larger than supported.');
  const c = components.get(name);
  if (!c || !getAtPath(c.config, keyPath).found) return stream.fail('ResourceNotFoundError', 'Key not found');
  stream.accept();
  stream.onClose(
    components.subscribeConfig(name, keyPath, (e) => stream.event('ConfigurationUpdateEvents', { configurationUpdateEvent: e })),
  );
};

const updateState: Handler = (stream, req, { components, onStateChange, log }) => {
  const state = req.state;
  if (typeof state !== 'string') return stream.fail('ServiceError', INVALID);
  if (state !== 'RUNNING' && state !== 'ERRORED') return stream.fail('ServiceError', 'Failed to update the lifecycle state.');
  if (state === 'ERRORED') {
    // gg_health takes it, and it reaches systemd as a status line only.
    log.info({ component: stream.component }, 'lite: UpdateState ERRORED accepted and ignored');
    return stream.respond({});
  }
  components.setState(stream.component, state);
  onStateChange(stream.component, state);
  stream.respond({});
};

/** Operations lite has that the emulator does not carry out (the component does not use them). */
const notEmulated: Handler = (stream) => stream.fail('ServiceError', `${stream.operation} is not emulated by defender-edge`);

export const liteHandlers = new Map<string, Handler>([
  [op('PublishToTopic'), publishToTopic],
  [op('SubscribeToTopic'), subscribeToTopic],
  [op('PublishToIoTCore'), publishToIoTCore],
  [op('SubscribeToIoTCore'), subscribeToIoTCore],
  [op('GetConfiguration'), getConfiguration],
  [op('UpdateConfiguration'), updateConfiguration],
  [op('SubscribeToConfigurationUpdate'), subscribeToConfigurationUpdate],
  [op('UpdateState'), updateState],
  [op('CreateLocalDeployment'), notEmulated],
  [op('RestartComponent'), notEmulated],
  [op('ValidateAuthorizationToken'), notEmulated],
]);

/** The operation names lite implements (everything else: ServiceError with an empty message). */
export const LITE_OPERATIONS: readonly string[] = [...liteHandlers.keys()];
