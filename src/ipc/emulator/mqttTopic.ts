// MQTT topic rules used by the simulated IoT Core and local pub/sub. Pure functions.

/** MQTT 3.1.1 §4.7 matching of a topic name against a subscription filter (`+` one level, `#` the rest). */
export function topicMatchesFilter(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  // MQTT 3.1.1 §4.7.2: filters starting with a wildcard do not match topics starting with `$`.
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** A valid MQTT subscription filter: `#` only as the last whole level, `+` only as a whole level. */
export function filterProblem(filter: string): string | null {
  if (filter.length === 0) return 'topic filter is empty';
  if (filter.length > 512) return `topic filter of ${filter.length} characters exceeds 512`;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return `'#' must be the last level on its own in '${filter}'`;
    if (level.includes('+') && level !== '+') return `'+' must occupy a whole level in '${filter}'`;
  }
  return null;
}

const RULES_PREFIX = /^\$aws\/rules\/[^/]+\//;

/**
 * Topic checks of the nucleus before publishing to IoT Core (nucleus IotCoreTopicValidator.java):
 * non-empty, no wildcards; normal topics ≤ 7 slashes and ≤ 256 characters; unknown `$` topics only
 * ≤ 512 characters (MQTT5 default); the `$aws/rules/<rule>/` prefix is not counted.
 */
export function publishTopicProblem(topic: string): string | null {
  if (topic.length === 0) return 'topic is empty';
  if (topic.includes('#') || topic.includes('+')) return 'topic must not contain wildcards';
  const counted = topic.replace(RULES_PREFIX, '');
  if (counted.startsWith('$') && !RULES_PREFIX.test(topic)) {
    return counted.length > 512 ? `topic of ${counted.length} characters exceeds the limit of 512` : null;
  }
  if (counted.length > 256) return `topic of ${counted.length} characters exceeds the limit of 256`;
  const slashes = counted.split('/').length - 1;
  if (slashes > 7) return `topic has ${slashes} forward slashes, more than the limit of 7`;
  return null;
}

export function hasMqttWildcard(topic: string): boolean {
  return topic.includes('+') || topic.includes('#');
}

/** Java's String.split("/"): trailing empty levels are dropped ("a/" → ["a"]). */
function javaSplitLevels(text: string): string[] {
  const levels = text.split('/');
  while (levels.length > 1 && levels[levels.length - 1] === '') levels.pop();
  return levels;
}

/**
 * Local pub/sub matching of the Java nucleus (aws-greengrass-nucleus builtin/services/pubsub
 * SubscriptionTrie.java `get`): level by level, `+` any one level, `#` every remaining level (and it
 * matches wherever it stands in the filter). Unlike MQTT, wildcards also match topics starting with `$`,
 * and `a/#` does not match `a`.
 */
export function classicPubsubMatches(filter: string, topic: string): boolean {
  const f = javaSplitLevels(filter);
  const t = javaSplitLevels(topic);
  // States: how many filter levels are matched so far (a trie node per filter prefix).
  let states = new Set<number>([0]);
  for (const level of t) {
    const next = new Set<number>();
    for (const j of states) {
      if (j >= f.length) continue;
      const fl = f[j]!;
      if (fl === level || fl === '+') next.add(j + 1);
      if (fl === '#') {
        if (j + 1 === f.length) return true; // the `#` node's own subscribers match here
        next.add(j + 1);
      }
    }
    states = next;
    if (states.size === 0) return false;
  }
  return states.has(f.length);
}

/**
 * Nucleus lite's MQTT-style policy match of a requested topic or filter against a policy filter
 * (aws-greengrass-lite ggipcd services/mqttproxy/mqttproxy.c `match_topic_filter`), character by
 * character: `+` in the policy swallows the request up to the next `/`, `#` accepts whatever follows.
 * So `a/+/b` and `a/x/b` match `a/#`, but `a` does not.
 */
export function liteMqttFilterMatches(resource: string, filter: string): boolean {
  let j = 0;
  for (let i = 0; i < filter.length; i++) {
    const c = filter[i];
    if (c === '#') return true;
    if (c === '+') {
      while (j < resource.length && resource[j] !== '/') j++;
      continue;
    }
    if (j >= resource.length || resource[j] !== c) return false;
    j++;
  }
  return j === resource.length;
}
