// The ONE schema of the component configuration (recipe DefaultConfiguration merged with deployment updates,
// docs/greengrass-ipc.md#configuration-deployments-validation-restarts). Every module reads its section from
// the validated object; nothing else parses configuration. Defaults live here so the recipe, the docs and the
// code cannot drift.
import type { SchemaObject } from 'ajv';
import { COERCE_KEYWORD } from './coerce.ts';

export interface DownstreamDevice {
  thingName: string;
  addresses: string[];
  mac?: string;
  interface?: string;
}

export interface ComponentConfig {
  thingName?: string;
  stateDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  sampling: { intervalMs: number };
  reporting: {
    enabled: boolean;
    intervalSeconds: number;
    format: 'json' | 'cbor';
    names: 'long' | 'short';
    maxListSize: number;
  };
  heartbeat: { enabled: boolean; topic: string; localTopic: string; intervalSeconds: number };
  collector: {
    includeLoopback: boolean;
    perProcess: boolean;
    customMetrics: boolean;
    /**
     * per-socket TCP byte counters (tcp_info) for per-process traffic: from the dedge-sockdiag helper's
     * netlink dump, or (fallback, helper unavailable) from one `ss` child process per sample
     */
    tcpBytes: boolean;
    /**
     * Per-process TCP bytes include connections to loopback and the host's own addresses, independently of
     * `includeLoopback` (which governs the host's network_stats): a process talking to a local broker on
     * 127.0.0.1 is exactly what per-process behaviors must see (the demo's rogue agent, docs/demo.md).
     */
    perProcessIncludeLoopback: boolean;
    /**
     * TCP ports of MQTT brokers: per-process messagesSent/messagesReceived are ESTIMATED from tcp_info
     * data segments on TCP connections to (or, for a local broker, accepted on) these ports, loopback
     * included (src/collector/hostCollector.ts addProcessTraffic). Empty = no per-process message metrics.
     */
    mqttPorts: number[];
    /**
     * Count per-process traffic in the kernel with eBPF where it loads (every byte: UDP, a connection per
     * write, short-lived children); false forces the sock_diag fallback (docs/traffic.md).
     */
    ebpf: boolean;
    /** how often the kernel counters are polled between samples, so byte behaviors are judged within a poll of the crossing */
    trafficPollMs: number;
    /** nft table (family inet) the collector owns for downstream-device traffic counters */
    downstreamNftTable: string;
    /** file system whose use the disk_used_percent custom metric reports */
    diskPath: string;
  };
  downstream: {
    devices: DownstreamDevice[];
    /** Things not listed in `devices` but matching this regular expression are also known downstream devices. */
    thingNamePattern?: string;
    /** Local pub/sub topic filter on which downstream devices publish their own Defender reports. */
    reportTopic: string;
    /** Local pub/sub topic filters whose messages are counted per device; `{thingName}` marks the thing. */
    messageTopics: string[];
    /** At most one of a device's own reports is forwarded to the cloud per this many seconds (0: all). */
    forwardMinIntervalSeconds: number;
  };
  /** Device Defender behaviors (security profile `behaviors`) plus our `edge` extensions; validated by src/localrules/configCheck.ts. */
  behaviors: unknown[];
  /** statisticalThreshold behaviors: percentile over each thing's own history (docs/localrules.md). */
  statistics: { windowSeconds: number; maxSamples: number; minSamples: number };
  violations: {
    localTopic: string;
    cloudTopic: string;
    invalidateAfterSeconds: number;
  };
  enforcement: {
    mode: 'enforce' | 'dry-run';
    protectedProcesses: string[];
    neverBlockCidrs: string[];
    allowDefaultRouteInterface: boolean;
    maxActionsPerMinute: number;
    defaultTtlSeconds: number;
    maxTtlSeconds: number;
    escalationFactor: number;
    revertOnClear: boolean;
    stopGraceMs: number;
    nftTable: string;
    liftQuietSeconds: number;
  };
  outbox: { maxEntries: number; maxBytes: number; maxBackoffMs: number; replayBytes: number };
  thresholdCache: { maxThings: number; maxBytes: number };
  selfLimit: { maxRssBytes: number; maxCpuPercent: number; sustainSeconds: number };
  accessControl?: Record<string, unknown>;
}

const topic = { type: 'string', minLength: 1, maxLength: 512 } as const;

/** A Device Defender MetricValue's numeric members (API `MetricValue`). */
const metricValueScalars: SchemaObject = {
  properties: {
    count: { type: 'number' },
    number: { type: 'number' },
    numbers: { items: { type: 'number' } },
    ports: { items: { type: 'integer' } },
  },
};

/**
 * The numbers and booleans of one behavior, for coercion only (coerce.ts): src/localrules/behaviors.ts
 * validates behaviors with its own `path: message` errors, so these types are not checked here.
 */
const behaviorScalars: SchemaObject = {
  properties: {
    criteria: {
      properties: {
        value: metricValueScalars,
        durationSeconds: { type: 'integer' },
        consecutiveDatapointsToAlarm: { type: 'integer' },
        consecutiveDatapointsToClear: { type: 'integer' },
      },
    },
    suppressAlerts: { type: 'boolean' },
    exportMetric: { type: 'boolean' },
    edge: {
      properties: {
        scope: { properties: { host: { type: 'boolean' }, processes: { type: 'boolean' }, devices: { type: 'boolean' } } },
        action: { properties: { ttlSeconds: { type: 'integer' }, dryRun: { type: 'boolean' }, revertOnClear: { type: 'boolean' } } },
        thingOverrides: { additionalProperties: metricValueScalars },
      },
    },
  },
};

// Typed loosely: Ajv's JSONSchemaType cannot express `default: {}` on objects whose members all default.
export const configSchema: SchemaObject = {
  type: 'object',
  additionalProperties: false,
  properties: {
    thingName: { type: 'string', minLength: 1, maxLength: 128, nullable: true },
    stateDir: { type: 'string', minLength: 1, default: 'state' },
    logLevel: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    sampling: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { intervalMs: { type: 'integer', minimum: 100, maximum: 60_000, default: 1000 } },
      required: [],
    },
    reporting: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        // Below 300 s per thing the service may throttle (docs/reports.md#limits-and-cadence).
        intervalSeconds: { type: 'integer', minimum: 300, maximum: 86_400, default: 300 },
        format: { type: 'string', enum: ['json', 'cbor'], default: 'json' },
        names: { type: 'string', enum: ['long', 'short'], default: 'long' },
        maxListSize: { type: 'integer', minimum: 1, maximum: 10_000, default: 50 },
      },
      required: [],
    },
    heartbeat: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        topic: { ...topic, default: 'defender-edge/{thingName}/heartbeat' },
        /** the health record on local pub/sub, for other components on the gateway */
        localTopic: { ...topic, default: 'defender-edge/health' },
        intervalSeconds: { type: 'integer', minimum: 1, maximum: 86_400, default: 60 },
      },
      required: [],
    },
    collector: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        includeLoopback: { type: 'boolean', default: false },
        perProcess: { type: 'boolean', default: true },
        customMetrics: { type: 'boolean', default: true },
        tcpBytes: { type: 'boolean', default: true },
        perProcessIncludeLoopback: { type: 'boolean', default: true },
        mqttPorts: {
          type: 'array',
          items: { type: 'integer', minimum: 1, maximum: 65_535 },
          uniqueItems: true,
          maxItems: 32,
          default: [1883, 8883],
        },
        ebpf: { type: 'boolean', default: true },
        trafficPollMs: { type: 'integer', minimum: 20, maximum: 60_000, default: 100 },
        downstreamNftTable: { type: 'string', pattern: '^[a-zA-Z0-9_]{1,32}$', default: 'defender_edge_downstream' },
        diskPath: { type: 'string', minLength: 1, maxLength: 4096, default: '/' },
      },
      required: [],
    },
    downstream: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        devices: {
          type: 'array',
          default: [],
          maxItems: 100_000,
          items: {
            type: 'object',
            additionalProperties: false,
            properties: {
              thingName: { type: 'string', minLength: 1, maxLength: 128 },
              addresses: { type: 'array', items: { type: 'string', minLength: 2, maxLength: 45 }, default: [] },
              mac: { type: 'string', pattern: '^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$', nullable: true },
              interface: { type: 'string', pattern: '^[a-zA-Z0-9_.-]{1,15}$', nullable: true },
            },
            required: ['thingName'],
          },
        },
        thingNamePattern: { type: 'string', minLength: 1, maxLength: 256, nullable: true },
        reportTopic: { ...topic, default: '$aws/things/+/defender/metrics/+' },
        messageTopics: { type: 'array', items: topic, default: [] },
        forwardMinIntervalSeconds: { type: 'integer', minimum: 0, maximum: 86400, default: 0 },
      },
      required: [],
    },
    behaviors: { type: 'array', items: {}, maxItems: 100, default: [], [COERCE_KEYWORD]: { items: behaviorScalars } },
    statistics: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // How far back a thing's own history reaches, how many samples it keeps (one per windowSeconds /
        // maxSamples), and how many it needs before a statistical behavior is judged at all.
        windowSeconds: { type: 'integer', minimum: 300, maximum: 30 * 86_400, default: 86_400 },
        maxSamples: { type: 'integer', minimum: 10, maximum: 10_000, default: 288 },
        minSamples: { type: 'integer', minimum: 1, maximum: 10_000, default: 12 },
      },
      required: [],
    },
    violations: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        localTopic: { ...topic, default: 'defender-edge/violations' },
        cloudTopic: { ...topic, default: 'defender-edge/{thingName}/violations' },
        // The service invalidates after two days without datapoints (Device Defender troubleshooting guide).
        invalidateAfterSeconds: { type: 'integer', minimum: 1, maximum: 30 * 86_400, default: 172_800 },
      },
      required: [],
    },
    enforcement: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        mode: { type: 'string', enum: ['enforce', 'dry-run'], default: 'dry-run' },
        protectedProcesses: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 64 }, default: ['sshd'] },
        neverBlockCidrs: { type: 'array', items: { type: 'string', minLength: 2, maxLength: 49 }, default: [] },
        allowDefaultRouteInterface: { type: 'boolean', default: false },
        maxActionsPerMinute: { type: 'integer', minimum: 1, maximum: 10_000, default: 10 },
        defaultTtlSeconds: { type: 'integer', minimum: 1, maximum: 30 * 86_400, default: 600 },
        maxTtlSeconds: { type: 'integer', minimum: 1, maximum: 30 * 86_400, default: 86_400 },
        escalationFactor: { type: 'number', minimum: 1, maximum: 100, default: 2 },
        revertOnClear: { type: 'boolean', default: false },
        stopGraceMs: { type: 'integer', minimum: 0, maximum: 600_000, default: 5000 },
        nftTable: { type: 'string', pattern: '^[a-zA-Z0-9_]{1,32}$', default: 'defender_edge' },
        liftQuietSeconds: { type: 'integer', minimum: 0, maximum: 2_592_000, default: 3600 },
      },
      required: [],
    },
    outbox: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxEntries: { type: 'integer', minimum: 1, maximum: 10_000_000, default: 100_000 },
        maxBytes: { type: 'integer', minimum: 1024, maximum: 10 * 2 ** 30, default: 64 * 2 ** 20 },
        // Cap of the retry backoff after a refused publish (e.g. the nucleus spool is full while the cloud is
        // away): nothing tells a component that the cloud is back, so this is the longest the backlog waits.
        maxBackoffMs: { type: 'integer', minimum: 100, maximum: 300_000, default: 30_000 },
        // Sent messages kept, to be sent again if the nucleus restarts, until the cloud is known to have them
        // (ipc/outbox.ts): the nucleus's mqtt.spooler.maxSizeInBytes (docs/greengrass-ipc.md). 0 trusts the nucleus's memory spool.
        replayBytes: { type: 'integer', minimum: 0, maximum: 256 * 2 ** 20, default: 2_621_440 },
      },
      required: [],
    },
    thresholdCache: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // In memory at once: the gateway and every device reporting within a few minutes, with room. Beyond
        // it the least recently seen go to disk and come back on their next datapoint, so memory stays flat
        // however many devices a gateway sees over time (~1 KiB each here; bench/footprint.bench.ts).
        maxThings: { type: 'integer', minimum: 1, maximum: 10_000_000, default: 2_000 },
        maxBytes: { type: 'integer', minimum: 1024, maximum: 2 ** 31, default: 16 * 2 ** 20 },
      },
      required: [],
    },
    selfLimit: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxRssBytes: { type: 'integer', minimum: 16 * 2 ** 20, maximum: 2 ** 40, default: 256 * 2 ** 20 },
        maxCpuPercent: { type: 'number', minimum: 1, maximum: 400, default: 25 },
        sustainSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 30 },
      },
      required: [],
    },
    accessControl: { type: 'object', nullable: true, required: [] },
  },
  required: [],
};
