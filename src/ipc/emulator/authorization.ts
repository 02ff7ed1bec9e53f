// accessControl policies and the nucleus authorization check
// (docs/greengrass-ipc.md#authorization-accesscontrol). Pure.
//
//   accessControl:
//     <service id>:                 e.g. aws.greengrass.ipc.mqttproxy
//       <policy id>:
//         policyDescription: …
//         operations: [aws.greengrass#PublishToIoTCore, …] | ["*"]
//         resources: [topic patterns]

//
// Nucleus lite (aws-greengrass-lite ggipcd ipc_authz.c, services/mqttproxy/mqttproxy.c) matches the same
// policies differently: a policy resource of exactly `*` allows everything, other resources are `*` globs
// (with the same `${c}` escapes) and, for mqttproxy, also its character-level topic-filter match
// (liteMqttFilterMatches); it interpolates the recipe variable `{iot:thingName}` in resources (the Java
// nucleus only with interpolateComponentConfiguration); a requested resource with a bare `?` or a bad
// escape is refused (modules/ggl-policy-validation).
import type { NucleusFlavor } from './flavor.ts';
import { liteMqttFilterMatches } from './mqttTopic.ts';

export const MQTTPROXY = 'aws.greengrass.ipc.mqttproxy';
export const PUBSUB = 'aws.greengrass.ipc.pubsub';

export interface Policy {
  id: string;
  service: string;
  operations: string[];
  /** Compiled resource patterns. */
  resources: RegExp[];
  /** The resources as written (after lite's recipe-variable interpolation). */
  raw: string[];
  flavor: NucleusFlavor;
}

export interface AccessControlContext {
  flavor?: NucleusFlavor;
  /** For lite's `{iot:thingName}`. */
  thingName?: string;
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
export function parseAccessControl(
  accessControl: unknown,
  context: AccessControlContext = {},
): { policies: Policy[]; problems: PolicyProblem[] } {
  const flavor = context.flavor ?? 'classic';
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
    for (const [id, policy] of Object.entries(byId as Record<string, unknown>)) {
      const path = `accessControl.${service}.${id}`;
      const p = policy as Record<string, unknown> | null;
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
      const raw: string[] = [];
      for (const written of res as string[]) {
        let r = written;
        if (flavor === 'lite') {
          const interpolated = interpolateLite(r, context.thingName);
          if (interpolated === null) {
            problems.push({
              path: `${path}.resources`,
              message: `'${r}': recipe variable not supported by the emulator (only {iot:thingName}); skipped`,
            });
            continue;
          }
          r = interpolated;
        } else if (r.replace(/\$\{[*?$]\}/g, '').includes('?')) {
          // A bare `?` is not supported by the nucleus: the resource is skipped with an error
          // (authorization/AuthorizationModule.java validateResource).
          problems.push({ path: `${path}.resources`, message: `'${r}' contains a bare '?' (use \${?})` });
          continue;
        }
        raw.push(r);
        resources.push(compileResource(r, flavor === 'classic' && service === MQTTPROXY));
      }
      policies.push({ id, service, operations: ops as string[], resources, raw, flavor });
    }
  }
  return { policies, problems };
}

/** Lite's `{…}` recipe variables in a policy resource (`${…}` is an escape, not a variable). */
function interpolateLite(resource: string, thingName: string | undefined): string | null {
  let bad = false;
  const out = resource.replace(/(^|[^$])\{([^}]*)\}/g, (_m, before: string, variable: string) => {
    if (variable === 'iot:thingName' && thingName !== undefined) return `${before}${thingName}`;
    bad = true;
    return '';
  });
  return bad ? null : out;
}

/** Lite refuses a requested resource with a bare `?` or an escape other than ${*} ${?} ${$}. */
export function liteResourceProblem(resource: string): string | null {
  const stripped = resource.replace(/\$\{[*?$]\}/g, '');
  if (stripped.includes('?')) return 'bare ?';
  if (stripped.includes('${')) return 'bad escape sequence';
  return null;
}

function resourceMatches(p: Policy, i: number, resource: string): boolean {
  if (p.flavor === 'classic') return p.resources[i]!.test(resource);
  const written = p.raw[i]!;
  if (written === '*' || p.resources[i]!.test(resource)) return true;
  return p.service === MQTTPROXY && liteMqttFilterMatches(resource, written);
}

/** May the owner of `policies` perform `operation` of `service` on `resource`? */
export function isAuthorized(policies: readonly Policy[], service: string, operation: string, resource: string): boolean {
  if (policies.some((p) => p.flavor === 'lite') && liteResourceProblem(resource) !== null) return false;
  return policies.some(
    (p) =>
      p.service === service &&
      (p.operations.includes(operation) || p.operations.includes('*')) &&
      p.resources.some((_r, i) => resourceMatches(p, i, resource)),
  );
}
