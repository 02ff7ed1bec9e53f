import { isPlainObject } from '../../plainObject.ts';
// Client device authorization as aws.greengrass.clientdevices.Auth does it, from its `deviceGroups`
// configuration. Pure: no I/O. Semantics read from aws-greengrass-client-device-auth:
// - configuration/GroupConfiguration.java, GroupDefinition.java, AuthorizationPolicyStatement.java:
//   { formatVersion?: "2021-03-05", definitions: { <group>: { selectionRule, policyName } },
//     policies: { <policy>: { <statement>: { statementDescription?, effect?: ALLOW, operations, resources } } } }
//   Keys are matched case-insensitively and unknown keys ignored (the nucleus's configuration
//   ObjectMapper); only the ALLOW effect exists; every definition's policy must exist; the only policy
//   variable is ${iot:Connection.Thing.ThingName}.
// - src/main/javacc/RuleExpression.jjt, ExpressionVisitor.java, WildcardSuffixAttribute.java: selection
//   rules `thingName: <name>` joined by AND / OR (AND binds tighter), a name may start and/or end with `*`.
// - PermissionEvaluationUtils.java: operation equal, `<service>:*` or `*`; resource equal or matched with
//   WildcardTrie.matchesStandard, where only `*` is a wildcard — `+` and `#` are literal characters, so a
//   policy resource `mqtt:topic:a/+` allows publishing to the topic `a/+` only.

export const AUTH_COMPONENT = 'aws.greengrass.clientdevices.Auth';
export const THING_NAME_VARIABLE = '${iot:Connection.Thing.ThingName}';

// ---- selection rules ----

export type RuleExpr =
  | { kind: 'thing'; pattern: string }
  | { kind: 'and'; left: RuleExpr; right: RuleExpr }
  | { kind: 'or'; left: RuleExpr; right: RuleExpr };

type Token = { kind: 'OR' | 'AND' | 'THING_KEY' | 'NAME'; text: string; column: number };

const NAME_BODY = /^(?:[A-Za-z0-9_-]|\\:)+/;

/** The longest THINGNAME token at `text[0..]`: ("*")?(alnum | - | _ | \:)+("*")? | "*". */
function nameTokenLength(text: string): number {
  let i = text.startsWith('*') ? 1 : 0;
  const body = NAME_BODY.exec(text.slice(i));
  if (!body) return text.startsWith('*') ? 1 : 0;
  i += body[0].length;
  if (text[i] === '*') i++;
  return i;
}

function tokenize(rule: string): Token[] | { error: string } {
  const tokens: Token[] = [];
  let i = 0;
  while (i < rule.length) {
    const c = rule[i]!;
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    const rest = rule.slice(i);
    // Longest match wins; on equal length a keyword beats a name (JavaCC token rules).
    const candidates: Array<[Token['kind'], number]> = [];
    if (rest.startsWith('thingName:')) candidates.push(['THING_KEY', 10]);
    if (rest.startsWith('AND')) candidates.push(['AND', 3]);
    if (rest.startsWith('OR')) candidates.push(['OR', 2]);
    const nameLen = nameTokenLength(rest);
    if (nameLen > 0) candidates.push(['NAME', nameLen]);
    if (candidates.length === 0) return { error: `unexpected '${c}' at column ${i + 1}` };
    const best = candidates.reduce((a, b) => (b[1] > a[1] ? b : a));
    tokens.push({ kind: best[0], text: rest.slice(0, best[1]), column: i + 1 });
    i += best[1];
  }
  return tokens;
}

export type RuleParse = { ok: true; expr: RuleExpr } | { ok: false; error: string };

/** Parse a selection rule such as `thingName: Sensor1 OR thingName: Gateway*`. */
export function parseSelectionRule(rule: string): RuleParse {
  const tokens = tokenize(rule);
  if (!Array.isArray(tokens)) return { ok: false, error: tokens.error };
  let pos = 0;
  const describe = (t: Token | undefined): string => (t ? `'${t.text}' at column ${t.column}` : 'the end of the rule');
  const thing = (): RuleExpr | string => {
    const key = tokens[pos];
    if (key?.kind !== 'THING_KEY') return `expected 'thingName:' but found ${describe(key)}`;
    pos++;
    const value = tokens[pos];
    if (value?.kind !== 'NAME') return `expected a thing name after 'thingName:' but found ${describe(value)}`;
    pos++;
    return { kind: 'thing', pattern: value.text };
  };
  const and = (): RuleExpr | string => {
    const left = thing();
    if (typeof left === 'string') return left;
    if (tokens[pos]?.kind !== 'AND') return left;
    pos++;
    const right = and();
    return typeof right === 'string' ? right : { kind: 'and', left, right };
  };
  const or = (): RuleExpr | string => {
    const left = and();
    if (typeof left === 'string') return left;
    if (tokens[pos]?.kind !== 'OR') return left;
    pos++;
    const right = or();
    return typeof right === 'string' ? right : { kind: 'or', left, right };
  };
  const expr = or();
  if (typeof expr === 'string') return { ok: false, error: expr };
  if (pos < tokens.length) return { ok: false, error: `expected AND, OR or the end of the rule but found ${describe(tokens[pos])}` };
  return { ok: true, expr };
}

/** WildcardSuffixAttribute: `*x*` contains, `*x` ends with, `x*` starts with, else equal. */
export function thingNameMatches(pattern: string, thingName: string): boolean {
  if (pattern.length > 1 && pattern.startsWith('*') && pattern.endsWith('*')) return thingName.includes(pattern.slice(1, -1));
  if (pattern.startsWith('*')) return thingName.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return thingName.startsWith(pattern.slice(0, -1));
  return thingName === pattern;
}

export function ruleSelects(expr: RuleExpr, thingName: string): boolean {
  switch (expr.kind) {
    case 'thing':
      return thingNameMatches(expr.pattern, thingName);
    case 'and':
      return ruleSelects(expr.left, thingName) && ruleSelects(expr.right, thingName);
    case 'or':
      return ruleSelects(expr.left, thingName) || ruleSelects(expr.right, thingName);
  }
}

// ---- deviceGroups configuration ----

export interface Permission {
  operation: string;
  resource: string;
}

export interface DeviceGroup {
  name: string;
  selectionRule: string;
  expr: RuleExpr;
  policyName: string;
  permissions: Permission[];
}

export interface DeviceGroups {
  groups: DeviceGroup[];
}

export type DeviceGroupsParse = { ok: true; value: DeviceGroups; warnings: string[] } | { ok: false; errors: string[]; warnings: string[] };

/** Case-insensitive property read; unknown keys are reported as warnings. */
function props(obj: Record<string, unknown>, known: readonly string[], path: string, warnings: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const match = known.find((n) => n.toLowerCase() === k.toLowerCase());
    if (match === undefined) warnings.push(`${path}.${k}: unknown key, ignored`);
    else out[match] = v;
  }
  return out;
}

function stringList(v: unknown, path: string, errors: string[]): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    errors.push(`${path}: must be a list of strings`);
    return [];
  }
  const out: string[] = [];
  v.forEach((item, i) => {
    if (typeof item !== 'string') errors.push(`${path}[${i}]: must be a string`);
    else if (item.length > 0) out.push(item); // empty entries are skipped (GroupConfiguration)
  });
  return out;
}

/** Parse the Auth component's `deviceGroups`; absent → no groups (every device is denied). */
export function parseDeviceGroups(raw: unknown, path = 'deviceGroups'): DeviceGroupsParse {
  const errors: string[] = [];
  const warnings: string[] = [];
  if (raw === undefined || raw === null) return { ok: true, value: { groups: [] }, warnings };
  if (!isPlainObject(raw)) return { ok: false, errors: [`${path}: must be an object {formatVersion, definitions, policies}`], warnings };
  const top = props(raw, ['formatVersion', 'definitions', 'policies'], path, warnings);
  const fv = top.formatVersion;
  if (fv !== undefined && fv !== null && !(typeof fv === 'string' && fv.toLowerCase() === '2021-03-05')) {
    errors.push(`${path}.formatVersion: must be "2021-03-05", not ${JSON.stringify(fv)}`);
  }
  const policies = new Map<string, Permission[]>();
  if (top.policies !== undefined && top.policies !== null) {
    if (!isPlainObject(top.policies)) errors.push(`${path}.policies: must be an object of named policies`);
    else {
      for (const [policyName, statements] of Object.entries(top.policies)) {
        const pp = `${path}.policies.${policyName}`;
        if (!isPlainObject(statements)) {
          errors.push(`${pp}: must be an object of named statements`);
          continue;
        }
        const permissions: Permission[] = [];
        for (const [statementName, statement] of Object.entries(statements)) {
          const sp = `${pp}.${statementName}`;
          if (!isPlainObject(statement)) {
            errors.push(`${sp}: must be an object {operations, resources}`);
            continue;
          }
          const s = props(statement, ['statementDescription', 'effect', 'operations', 'resources'], sp, warnings);
          if (s.effect !== undefined && s.effect !== null && !(typeof s.effect === 'string' && s.effect.toUpperCase() === 'ALLOW')) {
            errors.push(`${sp}.effect: ${JSON.stringify(s.effect)} is not supported; the only effect is ALLOW`);
          }
          const operations = stringList(s.operations, `${sp}.operations`, errors);
          const resources = stringList(s.resources, `${sp}.resources`, errors);
          resources.forEach((r, i) => {
            for (const v of r.match(/\$\{.*?\}/g) ?? []) {
              if (v !== THING_NAME_VARIABLE) {
                errors.push(`${sp}.resources[${i}]: Policy contains unknown variables: ${v} (only ${THING_NAME_VARIABLE})`);
              }
            }
          });
          for (const operation of operations) for (const resource of resources) permissions.push({ operation, resource });
        }
        policies.set(policyName, permissions);
      }
    }
  }
  const groups: DeviceGroup[] = [];
  if (top.definitions !== undefined && top.definitions !== null) {
    if (!isPlainObject(top.definitions)) errors.push(`${path}.definitions: must be an object of named groups`);
    else {
      for (const [groupName, def] of Object.entries(top.definitions)) {
        const gp = `${path}.definitions.${groupName}`;
        if (!isPlainObject(def)) {
          errors.push(`${gp}: must be an object {selectionRule, policyName}`);
          continue;
        }
        const d = props(def, ['selectionRule', 'policyName'], gp, warnings);
        if (typeof d.selectionRule !== 'string') {
          errors.push(`${gp}.selectionRule: required, a string such as "thingName: MyDevice*"`);
          continue;
        }
        if (typeof d.policyName !== 'string') {
          errors.push(`${gp}.policyName: required, the name of a policy under ${path}.policies`);
          continue;
        }
        const parsed = parseSelectionRule(d.selectionRule);
        if (!parsed.ok) {
          errors.push(`${gp}.selectionRule: ${parsed.error} in ${JSON.stringify(d.selectionRule)}`);
          continue;
        }
        const permissions = policies.get(d.policyName);
        if (permissions === undefined) {
          errors.push(`${gp}.policyName: Policy definition ${d.policyName} does not have a corresponding policy`);
          continue;
        }
        groups.push({ name: groupName, selectionRule: d.selectionRule, expr: parsed.expr, policyName: d.policyName, permissions });
      }
    }
  }
  return errors.length > 0 ? { ok: false, errors, warnings } : { ok: true, value: { groups }, warnings };
}

/** The Auth component's configuration: only `deviceGroups` matters to the emulator. */
export function parseAuthConfig(config: unknown, path: string = AUTH_COMPONENT): DeviceGroupsParse {
  if (config === undefined || config === null) return { ok: true, value: { groups: [] }, warnings: [] };
  if (!isPlainObject(config)) return { ok: false, errors: [`${path}: configuration must be an object`], warnings: [] };
  return parseDeviceGroups(config.deviceGroups, `${path}.deviceGroups`);
}

// ---- authorization ----

/**
 * PermissionEvaluationUtils RESOURCE_NAME_PATTERN: Unicode word characters and printable ASCII punctuation.
 * A request whose resource name has anything else is malformed and denied.
 */
const RESOURCE_NAME = /^(?:[\p{L}\p{M}\p{Nd}\p{Pc} -/:-@[-`{-~]|\u200c|\u200d)+$/u;

/** `*` matches any run of characters (including `/`); everything else, `+` and `#` too, is literal. */
export function standardGlobMatches(pattern: string, value: string): boolean {
  if (pattern === value) return true;
  const parts = pattern.split('*');
  if (parts.length === 1) return false;
  if (!value.startsWith(parts[0]!)) return false;
  let pos = parts[0]!.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const at = value.indexOf(parts[i]!, pos);
    if (at < 0) return false;
    pos = at + parts[i]!.length;
  }
  const last = parts[parts.length - 1]!;
  return value.length - pos >= last.length && value.endsWith(last);
}

function operationMatches(policyOperation: string, requested: string): boolean {
  if (policyOperation === requested || policyOperation === '*') return true;
  const service = requested.slice(0, requested.indexOf(':'));
  return policyOperation === `${service}:*`;
}

/** The groups a device belongs to (by the thing name of its session). */
export function groupsOf(groups: DeviceGroups, thingName: string): DeviceGroup[] {
  return groups.groups.filter((g) => ruleSelects(g.expr, thingName));
}

/**
 * May the device `thingName` perform `operation` (e.g. `mqtt:publish`) on `resource` (e.g.
 * `mqtt:topic:a/b`)? No group → denied; only ALLOW statements exist.
 */
export function isDeviceAuthorized(groups: DeviceGroups, thingName: string, operation: string, resource: string): boolean {
  const m = /^[A-Za-z]+:[A-Za-z]+:(.*)$/s.exec(resource);
  if (!m || !RESOURCE_NAME.test(m[1]!)) return false;
  for (const group of groupsOf(groups, thingName)) {
    for (const p of group.permissions) {
      if (!operationMatches(p.operation, operation)) continue;
      const policyResource = p.resource.split(THING_NAME_VARIABLE).join(thingName);
      if (standardGlobMatches(policyResource, resource)) return true;
    }
  }
  return false;
}
