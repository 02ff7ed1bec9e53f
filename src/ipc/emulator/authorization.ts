// accessControl policies and the nucleus authorization check
// (docs/greengrass-ipc.md#authorization-accesscontrol). Pure.
//
//   accessControl:
//     <service id>:                 e.g. aws.greengrass.ipc.mqttproxy
//       <policy id>:
//         policyDescription: …
//         operations: [aws.greengrass#PublishToIoTCore, …] | ["*"]
//         resources: [topic patterns]

export const MQTTPROXY = 'aws.greengrass.ipc.mqttproxy';
export const PUBSUB = 'aws.greengrass.ipc.pubsub';

export interface Policy {
  id: string;
  service: string;
  operations: string[];
  /** Compiled resource patterns. */
  resources: RegExp[];
}

export interface PolicyProblem {
  path: string;
  message: string;
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Replace `${*}`, `${?}`, `${$}` by placeholders, glob the rest (IPC guide, "Special characters"). */
function globToRegex(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const rest = text.slice(i);
    const escaped = /^\$\{([*?$])\}/.exec(rest);
    if (escaped) {
      out += escapeRegex(escaped[1]!);
      i += 3;
    } else if (text[i] === '*') {
      out += '.*';
    } else {
      out += escapeRegex(text[i]!);
    }
  }
  return out;
}

/**
 * Compile one policy resource. STANDARD (pubsub): only `*` is a wildcard. MQTT_STYLE (mqttproxy):
 * also `+` as a whole level and `#` as the last level, each matching the requested resource string as
 * sent — a request for filter `a/+` is allowed by policy `a/+`, `a/#` or `*` (nucleus WildcardTrie.java).
 */
export function compileResource(resource: string, mqttStyle: boolean): RegExp {
  if (!mqttStyle) return new RegExp(`^${globToRegex(resource)}$`, 's');
  if (resource === '#') return /^.*$/s;
  const levels = resource.split('/');
  let pattern = '';
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    const last = i === levels.length - 1;
    if (level === '#' && last) {
      // `a/#` also matches `a` itself (MQTT 3.1.1 §4.7.1.2).
      pattern += '(?:/.*)?';
      continue;
    }
    if (i > 0) pattern += '/';
    pattern += level === '+' ? '[^/]*' : globToRegex(level);
  }
  return new RegExp(`^${pattern}$`, 's');
}

/**
 * Parse a component's `accessControl` object. Invalid policies are skipped and reported, like the
 * nucleus which logs and ignores them (AuthorizationPolicyParser).
 */
export function parseAccessControl(accessControl: unknown): { policies: Policy[]; problems: PolicyProblem[] } {
  const policies: Policy[] = [];
  const problems: PolicyProblem[] = [];
  if (accessControl === undefined || accessControl === null) return { policies, problems };
  if (typeof accessControl !== 'object' || Array.isArray(accessControl)) {
    return { policies, problems: [{ path: 'accessControl', message: 'must be an object' }] };
  }
  for (const [service, byId] of Object.entries(accessControl as Record<string, unknown>)) {
    if (typeof byId !== 'object' || byId === null || Array.isArray(byId)) {
      problems.push({ path: `accessControl.${service}`, message: 'must be an object of policies' });
      continue;
    }
    for (const [id, raw] of Object.entries(byId as Record<string, unknown>)) {
      const path = `accessControl.${service}.${id}`;
      const p = raw as Record<string, unknown> | null;
      if (typeof p !== 'object' || p === null) {
        problems.push({ path, message: 'must be an object' });
        continue;
      }
      const ops = p.operations;
      const res = p.resources;
      if (!Array.isArray(ops) || !ops.every((o) => typeof o === 'string')) {
        problems.push({ path: `${path}.operations`, message: 'must be a list of strings' });
        continue;
      }
      if (!Array.isArray(res) || !res.every((r) => typeof r === 'string')) {
        problems.push({ path: `${path}.resources`, message: 'must be a list of strings' });
        continue;
      }
      const resources: RegExp[] = [];
      for (const r of res as string[]) {
        // A bare `?` is not supported by the nucleus: the resource is skipped with an error (docs/greengrass-ipc.md).
        if (r.replace(/\$\{[*?$]\}/g, '').includes('?')) {
          problems.push({ path: `${path}.resources`, message: `'${r}' contains a bare '?' (use \${?})` });
          continue;
        }
        resources.push(compileResource(r, service === MQTTPROXY));
      }
      policies.push({ id, service, operations: ops as string[], resources });
    }
  }
  return { policies, problems };
}

/** May the owner of `policies` perform `operation` of `service` on `resource`? */
export function isAuthorized(policies: readonly Policy[], service: string, operation: string, resource: string): boolean {
  return policies.some(
    (p) =>
      p.service === service &&
      (p.operations.includes(operation) || p.operations.includes('*')) &&
      p.resources.some((r) => r.test(resource)),
  );
}
