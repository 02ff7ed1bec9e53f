// GreengrassEmulator: a local stand-in for a Greengrass core's IPC server. The real aws-iot-device-sdk-v2
// client connects to it unchanged over a Unix socket (docs/greengrass-ipc.md). It behaves like one of
// two real cores (flavor.ts): the Java nucleus ("classic", with client-device auth, a TLS broker and the MQTT
// bridge when given an MQTT port) or nucleus lite. Deployments (deployment.ts) carry the configuration of
// the component and of the client-device components, as a real deployment does.
// Library class for tests (in-process) and for the `defender-edge emulator` CLI.
import { EventEmitter } from 'node:events';
import { lstatSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { type Logger, silentLogger } from '../../log.ts';
import { isPlainObject } from '../../plainObject.ts';
import { BRIDGE_COMPONENT_NAME, parseBridgeConfig } from './bridgeMapping.ts';
import { AUTH_COMPONENT, type DeviceGroups, parseAuthConfig } from './clientDeviceAuth.ts';
import { BrokerStartError, ClientDeviceBroker, type ClientDeviceBrokerStatus } from './clientDeviceBroker.ts';
import { type JsonObject, mergeAtPath, mergeConfig } from './componentConfig.ts';
import { type ChangeResult, ComponentStore } from './componentStore.ts';
import { IpcConnection, type ServerStream } from './connection.ts';
import { CoreDeviceCa, type DeviceCredentials } from './coreDeviceCa.ts';
import type { ReportValidator } from './defenderEndpoint.ts';
import { applyConfigurationUpdate, type ComponentDeployment, type DeploymentDocument, parseDeployment } from './deployment.ts';
import type { NucleusFlavor } from './flavor.ts';
import { type MqttProperties, SimulatedIoTCore } from './iotCore.ts';
import { liteConfigProblem } from './liteLimits.ts';
import { type LocalListener, type LocalMessage, LocalPubSub } from './localPubSub.ts';
import { type BridgeStatus, MqttBridge } from './mqttBridge.ts';
import { classicPubsubMatches, topicMatchesFilter } from './mqttTopic.ts';
import { dispatchOperation, type OperationDeps } from './operations.ts';
import { embeddedRecipe, loadRecipeFile, type RecipeIdentity } from './recipe.ts';

export interface GreengrassEmulatorOptions {
  /** Unix socket path; keep it under 108 bytes (sun_path). */
  socketPath: string;
  /** Which core to behave like (default classic: the Java nucleus). */
  nucleus?: NucleusFlavor;
  /** A recipe file path or an already parsed identity; default: the embedded minimal identity. */
  recipe?: string | RecipeIdentity;
  /** Merged over the recipe's DefaultConfiguration (a deployment's configuration merge). */
  overrides?: JsonObject;
  thingName?: string;
  /** Fixed SVCUID for the recipe's component (default: random, as the nucleus issues them). Lite needs 16 base64 characters. */
  token?: string;
  /** JSON-lines record of every message that reaches the simulated cloud. */
  recordFile?: string;
  /** Start with IoT Core disconnected. */
  offline?: boolean;
  maxMessageSizeBytes?: number;
  spoolMaxBytes?: number;
  keepQos0WhenOffline?: boolean;
  /** The Device Defender endpoint's report check; default accepts well-formed JSON/CBOR. */
  reportValidator?: ReportValidator;
  /** How long a deployment waits for validity reports (default 20 s, the nucleus's default). */
  validationTimeoutMs?: number;
  /**
   * Classic only: run the client-device broker (TLS, client certificates from the emulator's CA, client
   * device auth) on 127.0.0.1:<mqttPort> (0 = a free port), with the MQTT bridge. Absent: no broker.
   */
  mqttPort?: number;
  /** Where the client-device CA lives (ca.pem, ca.key; reused when present). Default: a temp dir removed at stop. */
  certDir?: string;
  /** A deployment document (deployment.ts) applied by start(), before the socket listens. */
  deployment?: unknown;
  /**
   * Tests of a core that makes a call wait: requests (operation name without `aws.greengrass#`) this
   * returns true for get no answer until releaseHeld(). No real core is configured this way.
   */
  hold?: (operation: string) => boolean;
  logger?: Logger;
}

export interface EmulatorMqttStatus extends ClientDeviceBrokerStatus {
  bridge: BridgeStatus;
  deviceGroups: string[];
}

export interface EmulatorStatus {
  nucleus: NucleusFlavor;
  online: boolean;
  clients: number;
  spoolDepth: number;
  spoolBytes: number;
  recordsWritten: number;
  protocolErrors: number;
  connectionsAccepted: number;
  openStreams: number;
  deployments: { applied: number; failed: number; lastError: string | null };
  /** Present when the client-device broker runs. */
  mqtt?: EmulatorMqttStatus;
}

export interface EmulatorEvents {
  state: [component: string, state: string];
  protocolError: [reason: string];
}

export type DeployResult =
  | {
      ok: true;
      deploymentId: string;
      components: Record<string, { version: string; changed: string[][]; validated: boolean }>;
      /** Tokens of components the deployment added as IPC identities. */
      tokens: Record<string, string>;
      warnings: string[];
    }
  | { ok: false; deploymentId?: string; errors: string[]; warnings: string[] };

export const DEFAULT_THING_NAME = 'defender-edge-emulated-core';
const DEFAULT_VERSION = '1.0.0';

/** Greengrass plugins lite cannot run (it runs generic components only). */
const CLIENT_DEVICE_COMPONENTS = [
  AUTH_COMPONENT,
  BRIDGE_COMPONENT_NAME,
  'aws.greengrass.clientdevices.mqtt.Moquette',
  'aws.greengrass.clientdevices.mqtt.EMQX',
  'aws.greengrass.clientdevices.IPDetector',
];
const PLATFORM_COMPONENTS = new Set([...CLIENT_DEVICE_COMPONENTS, 'aws.greengrass.Nucleus']);

export class EmulatorStartError extends Error {
  override name = 'EmulatorStartError';
}

export class GreengrassEmulator extends EventEmitter<EmulatorEvents> {
  readonly socketPath: string;
  readonly thingName: string;
  readonly componentName: string;
  readonly nucleus: NucleusFlavor;
  private readonly log: Logger;
  private readonly recipe: RecipeIdentity;
  private readonly components: ComponentStore;
  private readonly iotCore: SimulatedIoTCore;
  private readonly pubsub: LocalPubSub;
  private readonly deps: OperationDeps;
  private readonly connections = new Set<IpcConnection>();
  private readonly streamingOps = new Set<ServerStream>();
  private readonly requests = new Map<string, number>();
  private readonly hold: ((operation: string) => boolean) | undefined;
  private readonly held: Array<{ operation: string; request: unknown; stream: ServerStream }> = [];
  private readonly validationTimeoutMs: number;
  private readonly mqttPort: number | undefined;
  private readonly certDirOption: string | undefined;
  private readonly initialDeployment: unknown;
  private server: Server | null = null;
  private broker: ClientDeviceBroker | null = null;
  private bridge: MqttBridge | null = null;
  private ca: CoreDeviceCa | null = null;
  private tempCertDir: string | null = null;
  private deviceGroups: DeviceGroups = { groups: [] };
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private protocolErrors = 0;
  private accepted = 0;
  private deploymentsApplied = 0;
  private deploymentsFailed = 0;
  private lastDeploymentError: string | null = null;

  constructor(options: GreengrassEmulatorOptions) {
    super();
    this.socketPath = options.socketPath;
    this.nucleus = options.nucleus ?? 'classic';
    this.thingName = options.thingName ?? DEFAULT_THING_NAME;
    this.log = (options.logger ?? silentLogger()).child({ module: 'ipc-emulator', nucleus: this.nucleus });
    this.validationTimeoutMs = options.validationTimeoutMs ?? 20_000;
    this.certDirOption = options.certDir;
    this.initialDeployment = options.deployment;
    this.hold = options.hold;
    const recipe =
      typeof options.recipe === 'string' ? loadRecipeFile(options.recipe, { flavor: this.nucleus }) : (options.recipe ?? embeddedRecipe());
    for (const skipped of recipe.skippedManifests ?? [])
      this.log.info({ recipe: recipe.componentName, reason: skipped }, 'recipe manifest skipped');
    this.recipe = recipe;
    this.componentName = recipe.componentName;
    if (this.nucleus === 'lite' && options.mqttPort !== undefined) {
      throw new EmulatorStartError(
        'mqttPort: nucleus lite runs generic components only; the client-device broker, auth and bridge are Java nucleus plugins',
      );
    }
    if (this.nucleus === 'lite' && options.token !== undefined && !/^[A-Za-z0-9+/]{16}$/.test(options.token)) {
      throw new EmulatorStartError(`token: nucleus lite SVCUIDs are 16 base64 characters, not '${options.token}'`);
    }
    this.components = new ComponentStore({
      flavor: this.nucleus,
      thingName: this.thingName,
      onPolicyProblem: (component, p) => this.log.error({ component, path: p.path, reason: p.message }, 'accessControl policy skipped'),
    });
    const merged = mergeConfig(recipe.defaultConfiguration, options.overrides ?? {});
    const config = isPlainObject(merged) ? merged : {};
    if (this.nucleus === 'lite') {
      const problem = liteConfigProblem(config);
      // Lite fails to load such a configuration (aws-greengrass-sdk-lite src/object_visit.c; see liteLimits.ts).
      if (problem) throw new EmulatorStartError(`${recipe.componentName} configuration: ${problem}`);
    }
    this.components.add(recipe.componentName, config, {
      token: options.token,
      version: recipe.componentVersion ?? DEFAULT_VERSION,
      defaults: recipe.defaultConfiguration,
    });
    this.iotCore = new SimulatedIoTCore({
      online: !options.offline,
      recordFile: options.recordFile,
      maxMessageSizeBytes: options.maxMessageSizeBytes,
      spoolMaxBytes: options.spoolMaxBytes,
      keepQos0WhenOffline: options.keepQos0WhenOffline,
      reportValidator: options.reportValidator,
    });
    this.pubsub = new LocalPubSub(this.nucleus === 'classic' ? classicPubsubMatches : topicMatchesFilter);
    this.mqttPort = options.mqttPort;
    this.deps = {
      flavor: this.nucleus,
      components: this.components,
      iotCore: this.iotCore,
      pubsub: this.pubsub,
      log: this.log,
      now: Date.now,
      onStateChange: (component, state) => {
        this.log.info({ component, state }, 'component state');
        this.emit('state', component, state);
      },
    };
  }

  /** Listen on the socket. An instance runs once: after stop(), make a new one (the record file appends). */
  async start(): Promise<void> {
    if (this.stopped) throw new EmulatorStartError('this emulator was stopped; create a new instance');
    if (this.server) return;
    try {
      if (this.mqttPort !== undefined) this.createBroker(this.mqttPort);
      if (this.initialDeployment !== undefined) {
        const r = await this.deploy(this.initialDeployment);
        if (!r.ok) throw new EmulatorStartError(`deployment: ${r.errors.join('; ')}`);
        for (const w of r.warnings) this.log.warn({ reason: w }, 'deployment warning');
      }
      await removeStaleSocket(this.socketPath);
      const server = createServer((socket) => this.onSocket(socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err) => reject(new EmulatorStartError(`${this.socketPath}: ${err.message}`)));
        server.listen(this.socketPath, () => resolve());
      });
      server.on('error', (err) => this.log.error({ err }, 'server error'));
      this.server = server;
      if (this.broker && this.bridge) {
        try {
          await this.broker.start();
        } catch (err) {
          throw err instanceof BrokerStartError ? new EmulatorStartError(err.message) : err;
        }
        this.bridge.start();
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.log.info({ socket: this.socketPath, component: this.componentName, mqtt: this.mqttUrl }, 'emulator listening');
  }

  /** Stops listening, drops every client, removes the socket file. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const server = this.server;
    this.server = null;
    this.bridge?.stop();
    await this.broker?.stop();
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    if (server) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // Only our own socket: an instance that never listened must not remove another server's file.
      try {
        unlinkSync(this.socketPath);
      } catch {
        // already gone (server.close removes it on most platforms)
      }
    }
    this.iotCore.close();
    if (this.tempCertDir) rmSync(this.tempCertDir, { recursive: true, force: true });
  }

  get listening(): boolean {
    return this.server !== null;
  }

  /** `mqtts://127.0.0.1:<port>` of the client-device broker once started; undefined without one. */
  get mqttUrl(): string | undefined {
    return this.broker && this.broker.port !== 0 ? this.broker.url : undefined;
  }

  /** The client-device CA certificate devices trust (PEM file); undefined without a broker. */
  get caPath(): string | undefined {
    return this.ca?.caPath;
  }

  /**
   * Issue a device certificate attached to `thingName` (the device connects with that thing name as its
   * client id) and write `<thing>.cert.pem` / `<thing>.key.pem` into `outDir` (default: the CA directory).
   */
  issueDeviceCertificate(thingName: string, outDir?: string): DeviceCredentials & { caPath: string } {
    if (!this.ca) {
      throw new EmulatorStartError(
        this.nucleus === 'lite'
          ? 'nucleus lite has no client-device support'
          : 'no client-device broker: start the emulator with an MQTT port',
      );
    }
    return { ...this.ca.issueDevice(thingName, outDir), caPath: this.ca.caPath };
  }

  /** How many requests for `operation` (without `aws.greengrass#`) components have sent. */
  requestCount(operation: string): number {
    return this.requests.get(operation) ?? 0;
  }

  /** Every operation components have called so far (without `aws.greengrass#`) and how often. */
  requestCounts(): Record<string, number> {
    return Object.fromEntries(this.requests);
  }

  /** Requests held by the `hold` option whose stream is still open. */
  heldCount(): number {
    return this.held.filter((h) => h.stream.isOpen()).length;
  }

  /** Answer the held requests now (those the client has not given up on). */
  releaseHeld(): void {
    for (const h of this.held.splice(0)) if (h.stream.isOpen()) dispatchOperation(h.operation, h.request, h.stream, this.deps);
  }

  /** Component name → SVCUID of every IPC identity. */
  tokens(): Record<string, string> {
    return this.components.tokens();
  }

  tokenOf(component: string = this.componentName): string {
    const c = this.components.get(component);
    if (!c) throw new Error(`unknown component ${component}`);
    return c.token;
  }

  /** Add (or replace) an identity with its own accessControl; returns its token. */
  addComponent(name: string, accessControl: unknown, token?: string): string {
    const config: JsonObject = accessControl === undefined ? {} : { accessControl };
    return this.components.add(name, config, { token, version: DEFAULT_VERSION }).token;
  }

  configOf(component: string = this.componentName): JsonObject | undefined {
    const c = this.components.get(component);
    return c ? structuredClone(c.config) : undefined;
  }

  versionOf(component: string = this.componentName): string | undefined {
    return this.components.get(component)?.version;
  }

  componentState(component: string = this.componentName): string | undefined {
    return this.components.get(component)?.state;
  }

  /**
   * A configuration-only deployment of one component (its version unchanged): on the Java nucleus its
   * validation listener is asked first. `reason` is the component's own message (or 'validation timed out').
   */
  async changeConfig(patch: unknown, component: string = this.componentName, keyPath: string[] = []): Promise<ChangeResult> {
    return this.serialize(async () => {
      const c = this.components.get(component);
      if (!c) return { applied: false, reason: `component ${component} not found` };
      const candidate = mergeAtPath(c.config, keyPath, patch);
      if (!isPlainObject(candidate)) return { applied: false, reason: 'configuration must stay an object' };
      if (this.nucleus === 'lite') {
        const problem = liteConfigProblem(candidate);
        if (problem) return { applied: false, reason: problem };
      } else if (!isDeepStrictEqual(candidate, c.config)) {
        const v = await this.components.validate(component, candidate, ComponentStore.deploymentId(), this.validationTimeoutMs);
        if (!v.ok) return { applied: false, reason: v.reason };
      }
      return { applied: true, changed: this.components.commit(component, candidate, Date.now()) };
    });
  }

  /**
   * Apply a deployment document (an object or its JSON text): every named component's configuration
   * (reset, then merge) and version. All or nothing: a malformed document, a bad client-device
   * configuration, a configuration over lite's limits or a component that rejects its new configuration
   * fails the deployment and nothing changes. Components the document does not name keep their state (a
   * real deployment to the same target would remove them; the emulator only adds and updates).
   */
  deploy(document: unknown): Promise<DeployResult> {
    return this.serialize(async () => {
      const parsed = parseDeployment(document);
      const result = parsed.ok ? await this.runDeployment(parsed.document) : { ok: false as const, errors: parsed.errors, warnings: [] };
      if (result.ok) this.deploymentsApplied++;
      else {
        this.deploymentsFailed++;
        this.lastDeploymentError = result.errors.join('; ');
        this.log.warn({ errors: result.errors }, 'deployment failed; the last good state is kept');
      }
      return result;
    });
  }

  setOnline(online: boolean): void {
    this.iotCore.setOnline(online);
    this.log.info({ online }, 'simulated IoT Core connection');
  }

  /** Cloud → device message to SubscribeToIoTCore subscribers; returns how many it reached. */
  cloudPublish(topic: string, payload: Buffer | string, props?: MqttProperties): number {
    return this.iotCore.cloudPublish(topic, Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8'), props);
  }

  /**
   * Inject a local pub/sub message (e.g. from an MQTT bridge for downstream devices). A Buffer is sent as
   * binaryMessage, anything else as jsonMessage. Returns how many subscriptions it reached.
   */
  publishLocal(topic: string, message: unknown, fromComponent?: string): number {
    const m: LocalMessage = Buffer.isBuffer(message) ? { kind: 'binary', value: message } : { kind: 'json', value: message };
    return this.pubsub.publish(topic, m, fromComponent);
  }

  /** Observe local pub/sub from outside (bridges, tests); returns the unsubscribe function. */
  subscribeLocal(filter: string, listener: LocalListener): () => void {
    return this.pubsub.subscribe(filter, undefined, 'RECEIVE_ALL_MESSAGES', listener);
  }

  /**
   * Close open subscription streams from the server side (the nucleus's empty TerminateStream message),
   * optionally only one component's or one operation's. Returns how many were closed.
   */
  closeStreams(filter: { component?: string; operation?: string } = {}): number {
    let n = 0;
    for (const s of [...this.streamingOps]) {
      if (filter.component !== undefined && s.component !== filter.component) continue;
      if (filter.operation !== undefined && s.operation !== filter.operation && s.operation !== `aws.greengrass#${filter.operation}`)
        continue;
      s.close();
      n++;
    }
    return n;
  }

  status(): EmulatorStatus {
    const cloud = this.iotCore.status();
    return {
      nucleus: this.nucleus,
      online: cloud.online,
      clients: this.connections.size,
      spoolDepth: cloud.spoolDepth,
      spoolBytes: cloud.spoolBytes,
      recordsWritten: cloud.recordsWritten,
      protocolErrors: this.protocolErrors,
      connectionsAccepted: this.accepted,
      openStreams: this.streamingOps.size,
      deployments: { applied: this.deploymentsApplied, failed: this.deploymentsFailed, lastError: this.lastDeploymentError },
      ...(this.broker && this.bridge
        ? { mqtt: { ...this.broker.status(), bridge: this.bridge.status(), deviceGroups: this.deviceGroups.groups.map((g) => g.name) } }
        : {}),
    };
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn, fn);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private createBroker(port: number): void {
    const dir = this.certDirOption ?? mkdtempSync(join(tmpdir(), 'dedge-emu-ca-'));
    if (this.certDirOption === undefined) this.tempCertDir = dir;
    const ca = CoreDeviceCa.openOrCreate(dir);
    const server = ca.serverCredentials(['127.0.0.1', 'localhost']);
    const broker = new ClientDeviceBroker({
      port,
      tls: { cert: server.cert, key: server.key, ca: ca.caPem },
      deviceGroups: () => this.deviceGroups,
      logger: this.log,
      onDevicePublish: (m) => bridge.fromLocalMqtt(m),
    });
    const bridge = new MqttBridge([], { broker, pubsub: this.pubsub, iotCore: this.iotCore }, this.log);
    this.ca = ca;
    this.broker = broker;
    this.bridge = bridge;
  }

  private async runDeployment(document: DeploymentDocument): Promise<DeployResult> {
    const errors: string[] = [];
    const warnings: string[] = [];
    type Plan = { c: ComponentDeployment; exists: boolean; candidate: JsonObject; defaults: JsonObject; versionChanges: boolean };
    const plans: Plan[] = [];
    let groups: DeviceGroups | undefined;
    let mapping: ReturnType<typeof parseBridgeConfig> | undefined;
    for (const c of document.components) {
      const at = `components.${c.name}`;
      if (this.nucleus === 'lite' && PLATFORM_COMPONENTS.has(c.name)) {
        errors.push(`${at}: nucleus lite runs generic components only; ${c.name} is a Java nucleus plugin`);
        continue;
      }
      const existing = this.components.get(c.name);
      const defaults = existing?.defaults ?? (c.name === this.componentName ? this.recipe.defaultConfiguration : {});
      const current = existing?.config ?? defaults;
      const applied = c.hasConfigurationUpdate
        ? applyConfigurationUpdate(current, defaults, c, `${at}.configurationUpdate`)
        : ({ ok: true, config: structuredClone(current) } as const);
      if (!applied.ok) {
        errors.push(applied.error);
        continue;
      }
      const candidate = applied.config;
      if (c.name === AUTH_COMPONENT) {
        const auth = parseAuthConfig(candidate, `${at}.configuration`);
        warnings.push(...auth.warnings);
        if (auth.ok) groups = auth.value;
        else errors.push(...auth.errors);
      } else if (c.name === BRIDGE_COMPONENT_NAME) {
        mapping = parseBridgeConfig(candidate, `${at}.configuration`);
        warnings.push(...mapping.warnings);
        if (!mapping.ok) errors.push(...mapping.errors);
        else if (!this.bridge)
          warnings.push(`${at}: no client-device broker runs (start with an MQTT port); the mapping is kept but bridges nothing`);
      } else if (CLIENT_DEVICE_COMPONENTS.includes(c.name) && !this.broker) {
        warnings.push(`${at}: no client-device broker runs (start with an MQTT port)`);
      }
      if (this.nucleus === 'lite') {
        const problem = liteConfigProblem(candidate);
        if (problem) errors.push(`${at}.configurationUpdate: ${problem}`);
      }
      plans.push({ c, exists: existing !== undefined, candidate, defaults, versionChanges: existing?.version !== c.version });
    }
    if (errors.length > 0) return { ok: false, errors, warnings };

    // The Java nucleus asks a component to validate only when the deployment keeps its version and changes
    // its configuration (DynamicComponentConfigurationValidator.getComponentsToValidate); lite never asks.
    const deploymentId = ComponentStore.deploymentId();
    const validated = new Set<string>();
    if (this.nucleus === 'classic') {
      const timeoutMs = document.validationTimeoutMs ?? this.validationTimeoutMs;
      const asked = plans.filter(
        (p) => p.exists && !p.versionChanges && !isDeepStrictEqual(p.candidate, this.components.get(p.c.name)!.config),
      );
      const verdicts = await Promise.all(
        asked.map(async (p) => ({ p, v: await this.components.validate(p.c.name, p.candidate, deploymentId, timeoutMs) })),
      );
      for (const { p, v } of verdicts) {
        if (v.ok) {
          if (v.requested) validated.add(p.c.name);
          continue;
        }
        errors.push(
          v.timedOut
            ? `components.${p.c.name}: Error while waiting for validation report for one or more components: no report within ${timeoutMs} ms`
            : `components.${p.c.name}: Components reported that their to-be-deployed configuration is invalid { name = ${p.c.name}, message = ${v.reason} }`,
        );
      }
      if (errors.length > 0) return { ok: false, deploymentId, errors, warnings };
    }

    const now = Date.now();
    const out: Record<string, { version: string; changed: string[][]; validated: boolean }> = {};
    const tokens: Record<string, string> = {};
    for (const p of plans) {
      let changed: string[][];
      if (p.exists) changed = this.components.commit(p.c.name, p.candidate, now, p.c.version);
      else {
        const identity = !PLATFORM_COMPONENTS.has(p.c.name);
        const added = this.components.add(p.c.name, p.candidate, { identity, version: p.c.version, defaults: p.defaults });
        if (identity) tokens[p.c.name] = added.token;
        changed = [];
      }
      if (p.versionChanges && p.exists) {
        // A new version restarts the component on a real core; the emulator keeps its connections and
        // only says so.
        warnings.push(`components.${p.c.name}: version ${p.c.version} replaces the running one (a real core restarts the component)`);
      }
      out[p.c.name] = { version: p.c.version, changed, validated: validated.has(p.c.name) };
    }
    if (groups) this.deviceGroups = groups;
    if (mapping?.ok) this.bridge?.setMapping(mapping.mapping);
    this.log.info({ deploymentId, components: Object.keys(out) }, 'deployment applied');
    return { ok: true, deploymentId, components: out, tokens, warnings };
  }

  private onSocket(socket: Socket): void {
    this.accepted++;
    const conn = new IpcConnection(
      socket,
      {
        flavor: this.nucleus,
        authenticate: (token) => this.components.nameForToken(token),
        dispatch: (operation, request, stream) => {
          const name = operation.replace(/^aws\.greengrass#/, '');
          this.requests.set(name, this.requestCount(name) + 1);
          if (/#Subscribe/.test(operation)) {
            this.streamingOps.add(stream);
            stream.onClose(() => this.streamingOps.delete(stream));
          }
          if (this.hold?.(name)) {
            this.held.push({ operation, request, stream });
            return;
          }
          dispatchOperation(operation, request, stream, this.deps);
        },
        onProtocolError: (reason) => {
          this.protocolErrors++;
          this.emit('protocolError', reason);
        },
      },
      this.log,
    );
    this.connections.add(conn);
    socket.on('close', () => this.connections.delete(conn));
  }
}

/** A leftover socket file nobody listens on is removed; a live one is an error (never steal it). */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket = false;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw new EmulatorStartError(`${path}: exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw new EmulatorStartError(`${path}: another server is listening`);
  unlinkSync(path);
}
