// The ONE configuration of the cloud half (cloud/fleet.config.ts): its type, its defaults and its
// validation. Everything the stacks create is derived from a validated FleetSettings; nothing else reads
// the file. Errors are `path: message` lines naming the field and the value, like the agent's own.

/** What an operator writes in fleet.config.ts; optional fields take the defaults below. */
export interface FleetConfig {
  /** Prefix of stack names and of the named resources (IoT rules, log groups, policies). */
  name?: string;
  /** Account and region to deploy to; absent = an environment-agnostic stack (deploys where the CLI points). */
  env?: { account?: string; region?: string };
  gateways: {
    /** The existing thing group of the Greengrass core devices that run defender-edge. */
    thingGroupName: string;
    /**
     * The gateways' thing names start with this (e.g. `gw-`). IoT policies for core devices cannot use thing
     * policy variables, so a prefix is what keeps the core policy to the gateways' own topics. '' = any name.
     */
    thingNamePrefix: string;
    /** How many gateways should be sending heartbeats; enables the fleet "heartbeats missing" alarm. */
    expectedCount?: number;
    /** Gateways that get their own "heartbeat stopped" alarm (one alarm each, billed per alarm). */
    watch?: string[];
  };
  downstream: {
    /** The downstream (client) devices' thing names start with this (e.g. `sensor-`). '' = any name. */
    thingNamePrefix: string;
    /** Their thing group, if any: the client-device IoT policy is attached to it. */
    thingGroupName?: string;
  };
  component: {
    /** The published version of com.defender-edge.DefenderEdge to deploy (gdk component publish). */
    version: string;
    /** Merged over the recipe's DefaultConfiguration at deployment (lists replace, objects merge). */
    configuration?: Record<string, unknown>;
  };
  clientDevices?: {
    /** Port of the local MQTT broker (Moquette `ssl_port`), also given to the IP detector and the bridge. */
    brokerPort?: number;
    versions?: Partial<ClientDeviceVersions>;
  };
  alerts: {
    /** E-mail addresses subscribed to violation alerts and to alarms (each must confirm once). */
    emails: string[];
    /** How long a violation id is remembered to send one e-mail per violation (DynamoDB TTL). */
    dedupeDays?: number;
  };
  monitoring?: {
    /** CloudWatch namespace prefix of the metrics the rules write. */
    namespace?: string;
    /** New violations (in-alarm) across the fleet per 5 minutes at which the fleet alarm fires. */
    violationsAlarmThreshold?: number;
    /** Retention of the violations, heartbeat and rule-error log groups. */
    logRetentionDays?: number;
    /** Log every heartbeat (the "gateways by last heartbeat" view); costs log ingestion per heartbeat. */
    heartbeatLogs?: boolean;
  };
  /** The Greengrass token exchange role alias the core devices assume (core policy `iot:AssumeRoleWithCertificate`). */
  tokenExchange?: {
    roleAliasName?: string;
    /** Create the role and alias here (with read access to these component artifact buckets) instead of using the installer's. */
    create?: { artifactBucketNames: string[] };
  };
  /** Attach the core policy to the gateways' thing group (and the device policy to the devices' group). */
  attachPolicies?: boolean;
  /** How fast the deployment reaches the thing group and when it is abandoned. */
  rollout?: { maximumPerMinute?: number; abortThresholdPercentage?: number; minExecutedThings?: number };
}

export interface ClientDeviceVersions {
  auth: string;
  moquette: string;
  ipDetector: string;
  bridge: string;
}

/** FleetConfig with every default filled in: what the constructs read. */
export interface FleetSettings {
  name: string;
  env?: { account?: string; region?: string };
  gateways: { thingGroupName: string; thingNamePrefix: string; expectedCount?: number; watch: string[] };
  downstream: { thingNamePrefix: string; thingGroupName?: string };
  component: { version: string; configuration: Record<string, unknown> };
  clientDevices: { brokerPort: number; versions: ClientDeviceVersions };
  alerts: { emails: string[]; dedupeDays: number };
  monitoring: { namespace: string; violationsAlarmThreshold: number; logRetentionDays: number; heartbeatLogs: boolean };
  tokenExchange: { roleAliasName: string; create?: { artifactBucketNames: string[] } };
  attachPolicies: boolean;
  rollout: { maximumPerMinute: number; abortThresholdPercentage: number; minExecutedThings: number };
}

// Latest versions listed in the Greengrass developer guide's component pages (client-device-auth-component,
// mqtt-broker-moquette-component, ip-detector-component, mqtt-bridge-component) when this was written;
// `aws greengrassv2 list-component-versions --arn arn:aws:greengrass:REGION:aws:components:NAME` lists newer ones.
export const DEFAULT_CLIENT_DEVICE_VERSIONS: ClientDeviceVersions = {
  auth: '2.5.2',
  moquette: '2.3.7',
  ipDetector: '2.2.2',
  bridge: '2.3.2',
};

/** The agent's topics the rules and policies are built on (src/config/schema.ts defaults). */
export const AGENT_TOPICS = {
  violations: 'defender-edge/{thingName}/violations',
  heartbeat: 'defender-edge/{thingName}/heartbeat',
  downstreamReports: '$aws/things/+/defender/metrics/+',
} as const;

/** The installer's default role alias (greengrass `--tes-role-alias-name` default). */
export const DEFAULT_ROLE_ALIAS = 'GreengrassV2TokenExchangeRoleAlias';

export class FleetConfigError extends Error {
  override name = 'FleetConfigError';
  readonly errors: string[];
  constructor(errors: string[]) {
    super(`invalid fleet configuration:\n${errors.join('\n')}`);
    this.errors = errors;
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => (v === undefined ? 'undefined' : JSON.stringify(v));

/** Collects `path: message` errors while reading a loosely typed object. */
class Reader {
  readonly errors: string[] = [];

  fail(path: string, message: string): undefined {
    this.errors.push(`${path}: ${message}`);
    return undefined;
  }

  object(v: unknown, path: string, keys: readonly string[], required = true): Obj | undefined {
    if (v === undefined && !required) return undefined;
    if (!isObj(v)) return this.fail(path, `must be an object, got ${show(v)}`);
    for (const k of Object.keys(v)) if (!keys.includes(k)) this.fail(`${path}.${k}`, `unknown setting (known: ${keys.join(', ')})`);
    return v;
  }

  string(v: unknown, path: string, pattern: RegExp, what: string): string | undefined {
    if (typeof v !== 'string' || !pattern.test(v)) return this.fail(path, `must be ${what}, got ${show(v)}`);
    return v;
  }

  optString(v: unknown, path: string, pattern: RegExp, what: string, fallback: string): string {
    return v === undefined ? fallback : (this.string(v, path, pattern, what) ?? fallback);
  }

  int(v: unknown, path: string, min: number, max: number, fallback?: number): number | undefined {
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      return this.fail(path, `must be an integer from ${min} to ${max}, got ${show(v)}`);
    }
    return v;
  }

  bool(v: unknown, path: string, fallback: boolean): boolean {
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') return this.fail(path, `must be true or false, got ${show(v)}`) ?? fallback;
    return v;
  }

  list(v: unknown, path: string, item: (x: unknown, p: string) => string | undefined, max: number): string[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) return this.fail(path, `must be a list, got ${show(v)}`) ?? [];
    if (v.length > max) this.fail(path, `must have at most ${max} entries, got ${v.length}`);
    const out: string[] = [];
    v.forEach((x, i) => {
      const s = item(x, `${path}[${i}]`);
      if (s !== undefined) out.push(s);
    });
    return out;
  }
}

// AWS IoT thing names: [a-zA-Z0-9:_-]{1,128} (CreateThing API). A prefix may be empty.
const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const THING_PREFIX = /^[a-zA-Z0-9:_-]{0,100}$/;
const THING_GROUP = /^[a-zA-Z0-9:_-]{1,128}$/;
const NAME = /^[A-Za-z][A-Za-z0-9-]{0,39}$/;
const SEMVER = /^\d+\.\d+\.\d+$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const NAMESPACE = /^[A-Za-z0-9._/#:-]{1,200}$/;
const ROLE_ALIAS = /^[\w=,@-]{1,128}$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
// CloudWatch Logs retention values (PutRetentionPolicy).
const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** Validate and complete a fleet configuration; throws FleetConfigError listing every problem. */
export function fleetSettings(input: unknown): FleetSettings {
  const r = new Reader();
  const root = r.object(input, '(root)', [
    'name',
    'env',
    'gateways',
    'downstream',
    'component',
    'clientDevices',
    'alerts',
    'monitoring',
    'tokenExchange',
    'attachPolicies',
    'rollout',
  ]);
  if (!root) throw new FleetConfigError(r.errors);

  const name = r.optString(root.name, 'name', NAME, 'a letter then up to 39 letters, digits or dashes', 'DefenderEdge');

  let env: FleetSettings['env'];
  const e = r.object(root.env, 'env', ['account', 'region'], false);
  if (e) {
    env = {};
    if (e.account !== undefined) env.account = r.string(e.account, 'env.account', ACCOUNT, 'a 12-digit account id');
    if (e.region !== undefined) env.region = r.string(e.region, 'env.region', REGION, 'a region name like eu-west-1');
  }

  const g = r.object(root.gateways, 'gateways', ['thingGroupName', 'thingNamePrefix', 'expectedCount', 'watch']) ?? {};
  const gateways: FleetSettings['gateways'] = {
    thingGroupName: r.string(g.thingGroupName, 'gateways.thingGroupName', THING_GROUP, 'a thing group name ([a-zA-Z0-9:_-]{1,128})') ?? '',
    thingNamePrefix:
      r.string(g.thingNamePrefix, 'gateways.thingNamePrefix', THING_PREFIX, "a thing-name prefix ([a-zA-Z0-9:_-]{0,100}; '' = any)") ?? '',
    watch: r.list(g.watch, 'gateways.watch', (x, p) => r.string(x, p, THING_NAME, 'a thing name'), 100),
  };
  if (g.expectedCount !== undefined) gateways.expectedCount = r.int(g.expectedCount, 'gateways.expectedCount', 1, 1_000_000);
  gateways.watch.forEach((w, i) => {
    if (!w.startsWith(gateways.thingNamePrefix))
      r.fail(`gateways.watch[${i}]`, `${show(w)} does not start with gateways.thingNamePrefix ${show(gateways.thingNamePrefix)}`);
  });

  const d = r.object(root.downstream, 'downstream', ['thingNamePrefix', 'thingGroupName']) ?? {};
  const downstream: FleetSettings['downstream'] = {
    thingNamePrefix:
      r.string(d.thingNamePrefix, 'downstream.thingNamePrefix', THING_PREFIX, "a thing-name prefix ([a-zA-Z0-9:_-]{0,100}; '' = any)") ??
      '',
  };
  if (d.thingGroupName !== undefined)
    downstream.thingGroupName = r.string(d.thingGroupName, 'downstream.thingGroupName', THING_GROUP, 'a thing group name');

  const c = r.object(root.component, 'component', ['version', 'configuration']) ?? {};
  const component: FleetSettings['component'] = {
    version: r.string(c.version, 'component.version', SEMVER, 'a published component version like 1.0.0') ?? '',
    configuration: {},
  };
  if (c.configuration !== undefined) {
    if (!isObj(c.configuration)) r.fail('component.configuration', `must be an object, got ${show(c.configuration)}`);
    else component.configuration = c.configuration;
  }
  checkAgentTopics(component.configuration, r);
  const hb = component.configuration.heartbeat;
  if (isObj(hb) && hb.enabled === false && (gateways.expectedCount !== undefined || gateways.watch.length > 0)) {
    r.fail(
      'component.configuration.heartbeat.enabled',
      'is false, but gateways.expectedCount / gateways.watch alarm on missing heartbeats',
    );
  }

  const cd = r.object(root.clientDevices, 'clientDevices', ['brokerPort', 'versions'], false) ?? {};
  const brokerPort = r.int(cd.brokerPort, 'clientDevices.brokerPort', 1, 65_535, 8883) ?? 8883;
  const versions = { ...DEFAULT_CLIENT_DEVICE_VERSIONS };
  const v = r.object(cd.versions, 'clientDevices.versions', Object.keys(DEFAULT_CLIENT_DEVICE_VERSIONS), false);
  if (v) {
    for (const k of Object.keys(v) as (keyof ClientDeviceVersions)[]) {
      versions[k] = r.string(v[k], `clientDevices.versions.${k}`, SEMVER, 'a component version like 2.5.2') ?? versions[k];
    }
  }

  const a = r.object(root.alerts, 'alerts', ['emails', 'dedupeDays']) ?? {};
  const alerts = {
    emails: r.list(a.emails, 'alerts.emails', (x, p) => r.string(x, p, EMAIL, 'an e-mail address'), 50),
    dedupeDays: r.int(a.dedupeDays, 'alerts.dedupeDays', 1, 365, 30) ?? 30,
  };
  if (a.emails === undefined) r.fail('alerts.emails', 'required: the addresses that receive violation alerts and alarms');

  const m =
    r.object(root.monitoring, 'monitoring', ['namespace', 'violationsAlarmThreshold', 'logRetentionDays', 'heartbeatLogs'], false) ?? {};
  const monitoring = {
    namespace: r.optString(m.namespace, 'monitoring.namespace', NAMESPACE, 'a CloudWatch namespace', 'DefenderEdge'),
    violationsAlarmThreshold: r.int(m.violationsAlarmThreshold, 'monitoring.violationsAlarmThreshold', 1, 1_000_000, 10) ?? 10,
    logRetentionDays: r.int(m.logRetentionDays, 'monitoring.logRetentionDays', 1, 3653, 30) ?? 30,
    heartbeatLogs: r.bool(m.heartbeatLogs, 'monitoring.heartbeatLogs', true),
  };
  if (m.namespace !== undefined && monitoring.namespace.startsWith('AWS/'))
    r.fail('monitoring.namespace', `must not start with AWS/ (reserved), got ${show(m.namespace)}`);
  if (!RETENTION_DAYS.includes(monitoring.logRetentionDays)) {
    r.fail(
      'monitoring.logRetentionDays',
      `must be one of CloudWatch Logs' retention values (${RETENTION_DAYS.join(', ')}), got ${monitoring.logRetentionDays}`,
    );
  }

  const t = r.object(root.tokenExchange, 'tokenExchange', ['roleAliasName', 'create'], false) ?? {};
  const tokenExchange: FleetSettings['tokenExchange'] = {
    roleAliasName: r.optString(t.roleAliasName, 'tokenExchange.roleAliasName', ROLE_ALIAS, 'a role alias name', DEFAULT_ROLE_ALIAS),
  };
  const tc = r.object(t.create, 'tokenExchange.create', ['artifactBucketNames'], false);
  if (tc) {
    const buckets = r.list(
      tc.artifactBucketNames,
      'tokenExchange.create.artifactBucketNames',
      (x, p) => r.string(x, p, BUCKET, 'an S3 bucket name'),
      20,
    );
    if (buckets.length === 0)
      r.fail('tokenExchange.create.artifactBucketNames', 'must name the bucket(s) gdk published the component artifacts to');
    tokenExchange.create = { artifactBucketNames: buckets };
  }

  const ro = r.object(root.rollout, 'rollout', ['maximumPerMinute', 'abortThresholdPercentage', 'minExecutedThings'], false) ?? {};
  const rollout = {
    maximumPerMinute: r.int(ro.maximumPerMinute, 'rollout.maximumPerMinute', 1, 1000, 50) ?? 50,
    abortThresholdPercentage: r.int(ro.abortThresholdPercentage, 'rollout.abortThresholdPercentage', 1, 100, 10) ?? 10,
    minExecutedThings: r.int(ro.minExecutedThings, 'rollout.minExecutedThings', 1, 1_000_000, 10) ?? 10,
  };

  const settings: FleetSettings = {
    name,
    gateways,
    downstream,
    component,
    clientDevices: { brokerPort, versions },
    alerts,
    monitoring,
    tokenExchange,
    attachPolicies: r.bool(root.attachPolicies, 'attachPolicies', true),
    rollout,
  };
  if (env) settings.env = env;
  if (r.errors.length > 0) throw new FleetConfigError(r.errors);
  return settings;
}

/**
 * The rules listen on the agent's default cloud topics and the core policy grants exactly those: a
 * configuration that moves them would deploy rules that never fire. Refuse it at synth.
 */
function checkAgentTopics(config: Obj, r: Reader): void {
  const fixed: Array<[string, string, string]> = [
    ['violations', 'cloudTopic', AGENT_TOPICS.violations],
    ['heartbeat', 'topic', AGENT_TOPICS.heartbeat],
    ['downstream', 'reportTopic', AGENT_TOPICS.downstreamReports],
  ];
  for (const [section, key, expected] of fixed) {
    const s = config[section];
    if (!isObj(s) || s[key] === undefined) continue;
    if (s[key] !== expected) {
      r.fail(
        `component.configuration.${section}.${key}`,
        `must stay ${show(expected)} (the IoT rules, the core's IoT policy and the MQTT bridge are built on it), got ${show(s[key])}`,
      );
    }
  }
  const ac = config.accessControl;
  if (ac !== undefined) {
    r.fail(
      'component.configuration.accessControl',
      "leave it to the recipe: the recipe's policies grant exactly the topics the rules and bridge use",
    );
  }
}
