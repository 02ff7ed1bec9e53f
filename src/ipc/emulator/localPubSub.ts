// The nucleus's local publish/subscribe (docs/greengrass-ipc.md): synchronous fan-out, per-subscriber
// order, MQTT-style filters on subscribe, and the receiveMode rule for a component's own messages. The
// filter matching is the core's: the Java nucleus's SubscriptionTrie (classicPubsubMatches) or, for nucleus
// lite's ggpubsubd, coreMQTT's MQTT_MatchTopic (topicMatchesFilter).
import { hasMqttWildcard, topicMatchesFilter } from './mqttTopic.ts';

export type TopicMatcher = (filter: string, topic: string) => boolean;

export type LocalMessage = { kind: 'json'; value: unknown } | { kind: 'binary'; value: Buffer };
export type ReceiveMode = 'RECEIVE_ALL_MESSAGES' | 'RECEIVE_MESSAGES_FROM_OTHERS';
export type LocalListener = (topic: string, message: LocalMessage, fromComponent: string | undefined) => void;

/** The SubscribeToTopic event body for a message, as both cores send it (binary payloads base64 on the wire). */
export function subscriptionEvent(topic: string, m: LocalMessage): object {
  const context = { topic };
  return m.kind === 'json'
    ? { jsonMessage: { message: m.value, context } }
    : { binaryMessage: { message: m.value.toString('base64'), context } };
}

interface Subscription {
  filter: string;
  component: string | undefined;
  mode: ReceiveMode;
  listener: LocalListener;
}

/** Default receiveMode: from others when the filter has a wildcard, else all (nucleus PubSubIPCEventStreamAgent.java). */
export function defaultReceiveMode(filter: string): ReceiveMode {
  return hasMqttWildcard(filter) ? 'RECEIVE_MESSAGES_FROM_OTHERS' : 'RECEIVE_ALL_MESSAGES';
}

export class LocalPubSub {
  private readonly subs = new Set<Subscription>();
  private readonly matches: TopicMatcher;

  constructor(matches: TopicMatcher = topicMatchesFilter) {
    this.matches = matches;
  }

  get size(): number {
    return this.subs.size;
  }

  subscribe(filter: string, component: string | undefined, mode: ReceiveMode | undefined, listener: LocalListener): () => void {
    const s: Subscription = { filter, component, mode: mode ?? defaultReceiveMode(filter), listener };
    this.subs.add(s);
    return () => {
      this.subs.delete(s);
    };
  }

  /** Returns the number of subscriptions reached. */
  publish(topic: string, message: LocalMessage, fromComponent?: string): number {
    let n = 0;
    for (const s of [...this.subs]) {
      if (!this.matches(s.filter, topic)) continue;
      if (s.mode === 'RECEIVE_MESSAGES_FROM_OTHERS' && fromComponent !== undefined && s.component === fromComponent) continue;
      n++;
      s.listener(topic, message, fromComponent);
    }
    return n;
  }
}
