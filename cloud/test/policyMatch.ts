// Evaluating the policies the stack writes, for tests (not a test file itself):
// - AWS IoT Core policies: Allow statements; in Resource, `*` matches any characters and `?` one character;
//   `+` and `#` are ordinary characters (AWS IoT developer guide, pub-sub-policy.md).
// - Greengrass client device auth: a device group's selection rule `thingName: <name with * wildcard>`
//   (clauses joined by OR), its policy's statements; `${iot:Connection.Thing.ThingName}` is replaced by the
//   device's thing name and `*` is the only wildcard (PermissionEvaluationUtils / PolicyVariableResolver in
//   aws-greengrass-client-device-auth).

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function glob(pattern: string, value: string, questionMark: boolean): boolean {
  let re = '';
  for (const c of pattern) re += c === '*' ? '[\\s\\S]*' : questionMark && c === '?' ? '[\\s\\S]' : escapeRegex(c);
  return new RegExp(`^${re}$`).test(value);
}

interface Statement {
  Effect: string;
  Action: string[];
  Resource: string[];
}

export function iotPolicyAllows(doc: { Statement: Statement[] }, action: string, resource: string): boolean {
  return doc.Statement.some((s) => s.Effect === 'Allow' && s.Action.includes(action) && s.Resource.some((r) => glob(r, resource, true)));
}

interface AuthConfig {
  deviceGroups: {
    definitions: Record<string, { selectionRule: string; policyName: string }>;
    policies: Record<string, Record<string, { operations: string[]; resources: string[] }>>;
  };
}

function selects(rule: string, thing: string): boolean {
  return rule.split(/\s+OR\s+/).some((clause) => {
    const m = /^\s*thingName:\s*(.+?)\s*$/.exec(clause);
    return m !== null && glob(m[1]!, thing, false);
  });
}

export function clientDeviceAllows(config: AuthConfig, thing: string, operation: string, resource: string): boolean {
  const groups = Object.values(config.deviceGroups.definitions).filter((d) => selects(d.selectionRule, thing));
  return groups.some((g) =>
    Object.values(config.deviceGroups.policies[g.policyName] ?? {}).some(
      (st) =>
        (st.operations.includes(operation) || st.operations.includes('*')) &&
        st.resources.some((r) => r === '*' || glob(r.replaceAll('${iot:Connection.Thing.ThingName}', thing), resource, false)),
    ),
  );
}
