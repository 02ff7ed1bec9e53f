// The nucleus's accessControl decision for one (operation, resource), as docs/greengrass-ipc.md describes it
// (AuthorizationHandler `isAuthorized`, WildcardTrie `matchesMQTT` / `matchesStandard`), so the recipe's
// policies can be checked against the topics the component really uses — and against ones it must not get.

type Policy = { operations: string[]; resources: string[] };
export type AccessControl = Record<string, Record<string, Policy>>;

/** STANDARD (pubsub): `*` matches any characters including `/`; `+` and `#` are literal. */
function globMatches(pattern: string, resource: string): boolean {
  const parts = pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`, 's').test(resource);
}

/** MQTT level matching of a topic (or a filter, matched level by level) against a policy filter. */
function mqttFilterMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#' && i === f.length - 1) return true;
    if (i >= t.length) return false;
    if (f[i] === '+') continue;
    if (f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** MQTT_STYLE (mqttproxy): exact, `*` glob, or `+`/`#` as MQTT wildcards. */
function mqttStyleMatches(pattern: string, resource: string): boolean {
  return pattern === resource || (pattern.includes('*') && globMatches(pattern, resource)) || mqttFilterMatches(pattern, resource);
}

export function isAuthorized(accessControl: AccessControl, service: string, operation: string, resource: string): boolean {
  const policies = Object.values(accessControl[service] ?? {});
  const match = service === 'aws.greengrass.ipc.mqttproxy' ? mqttStyleMatches : globMatches;
  return policies.some(
    (p) => (p.operations.includes(operation) || p.operations.includes('*')) && p.resources.some((r) => match(r, resource)),
  );
}
