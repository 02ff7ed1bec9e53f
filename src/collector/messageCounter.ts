// Messages per downstream device on local pub/sub: the local counterparts of aws:num-messages-sent,
// aws:num-messages-received and aws:message-byte-size (cloud-side metrics, docs/localrules.md). Pure: whoever subscribes
// to local pub/sub feeds it (topic, bytes, direction, time); the collector drains it once per sample.
//
// Pattern syntax (config `downstream.messageTopics`): an MQTT topic filter (levels split by '/') in which
// exactly one whole level is `{thingName}` — it matches one non-empty level and names the thing. `+`
// matches one level, `#` (last level only) matches any number of levels, including none. As in MQTT, a
// topic starting with '$' matches only a pattern whose first level is literal. Examples:
//   devices/{thingName}/#        {thingName}/telemetry        site/+/{thingName}/events/#

export interface TopicPattern {
  source: string;
  levels: string[];
  thingLevel: number;
}

const THING = '{thingName}';

/** Compile a pattern, or return why it is invalid (the message is used as `path: message`). */
export function compileTopicPattern(source: string): TopicPattern | string {
  if (source.length === 0 || source.length > 512) return 'must be 1–512 characters';
  if (source.includes('\u0000')) return 'must not contain NUL';
  const levels = source.split('/');
  let thingLevel = -1;
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l === THING) {
      if (thingLevel >= 0) return 'must contain {thingName} only once';
      thingLevel = i;
    } else if (l.includes('{') || l.includes('}')) {
      return `level ${i + 1} ('${l}'): {thingName} must be a whole topic level and is the only placeholder`;
    } else if (l === '#') {
      if (i !== levels.length - 1) return `level ${i + 1}: '#' must be the last level`;
    } else if (l.includes('#') || l.includes('+')) {
      if (l !== '+') return `level ${i + 1} ('${l}'): '+' and '#' must occupy a whole level`;
    }
  }
  if (thingLevel < 0) return 'must contain {thingName} as a whole topic level';
  return { source, levels, thingLevel };
}

/** The thing a topic belongs to under this pattern, or undefined. */
export function matchTopic(p: TopicPattern, topic: string): string | undefined {
  const t = topic.split('/');
  if (topic.startsWith('$') && (p.levels[0] === '+' || p.levels[0] === '#' || p.levels[0] === THING)) return undefined;
  let thing: string | undefined;
  for (let i = 0; i < p.levels.length; i++) {
    const l = p.levels[i]!;
    if (l === '#') return thing;
    const level = t[i];
    if (level === undefined) return undefined;
    if (l === THING) {
      if (level === '' || level.length > 128) return undefined;
      thing = level;
    } else if (l !== '+' && l !== level) return undefined;
  }
  return t.length === p.levels.length ? thing : undefined;
}

export type MessageDirection = 'sent' | 'received';

export interface MessageTotals {
  /** messages the device published (aws:num-messages-sent) */
  sent: number;
  /** messages delivered to the device (aws:num-messages-received) */
  received: number;
  /** payload bytes both ways */
  bytes: number;
  /** largest single payload (aws:message-byte-size is per message) */
  maxMessageBytes: number;
  /** time of the last message, ms since the epoch */
  lastT: number;
}

export interface MessageCounterOptions {
  /** only these things are counted (configured devices / thingNamePattern); default: any */
  isKnownThing?: (thingName: string) => boolean;
  /** bound on distinct things per interval; beyond it messages are dropped and counted */
  maxThings?: number;
}

export class MessageCounter {
  private readonly patterns: TopicPattern[];
  private readonly isKnown: (name: string) => boolean;
  private readonly maxThings: number;
  private totals = new Map<string, MessageTotals>();
  /** messages that matched no pattern or no known thing since the last drain */
  unmatched = 0;
  /** messages dropped because maxThings distinct things were already counted in this interval */
  dropped = 0;

  constructor(patterns: readonly string[], options: MessageCounterOptions = {}) {
    this.patterns = patterns.map((p, i) => {
      const c = compileTopicPattern(p);
      if (typeof c === 'string') throw new Error(`downstream.messageTopics[${i}]: ${c}`);
      return c;
    });
    this.isKnown = options.isKnownThing ?? (() => true);
    this.maxThings = options.maxThings ?? 10_000;
  }

  /** The thing a topic belongs to under the first matching pattern. */
  thingOf(topic: string): string | undefined {
    for (const p of this.patterns) {
      const thing = matchTopic(p, topic);
      if (thing !== undefined) return thing;
    }
    return undefined;
  }

  /** Count one message at time t; returns the thing it was counted for. A bad size throws, uncounted. */
  record(topic: string, bytes: number, direction: MessageDirection, t: number): string | undefined {
    if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`bytes: must be a finite number >= 0, got ${bytes}`);
    const thing = this.thingOf(topic);
    if (thing === undefined || !this.isKnown(thing)) {
      this.unmatched++;
      return undefined;
    }
    let tot = this.totals.get(thing);
    if (!tot) {
      if (this.totals.size >= this.maxThings) {
        this.dropped++;
        return undefined;
      }
      tot = { sent: 0, received: 0, bytes: 0, maxMessageBytes: 0, lastT: t };
      this.totals.set(thing, tot);
    }
    if (direction === 'sent') tot.sent++;
    else tot.received++;
    tot.bytes += bytes;
    if (bytes > tot.maxMessageBytes) tot.maxMessageBytes = bytes;
    if (t > tot.lastT) tot.lastT = t;
    return thing;
  }

  /** Totals since the previous drain (one sample interval), then start a new interval. */
  drain(): { totals: Map<string, MessageTotals>; unmatched: number; dropped: number } {
    const out = { totals: this.totals, unmatched: this.unmatched, dropped: this.dropped };
    this.totals = new Map();
    this.unmatched = 0;
    this.dropped = 0;
    return out;
  }
}
