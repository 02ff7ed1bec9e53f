// `defender-edge evaluate --profile FILE --datapoints FILE.jsonl`: run behaviors over recorded input
// offline, one JSON line per violation event, through the agent's own code: the same behavior parser,
// the same datapoints built from a recorded sample, the same evaluator. The whole input is checked
// first; any bad field → `path: message` errors on stderr, exit 1, no events.
import { readFileSync } from 'node:fs';
import { componentConfigChecks } from '../agent/configChecks.ts';
import { configurationOf, isRecipe } from '../config/configFile.ts';
import { configSchema } from '../config/schema.ts';
import { readStructuredFile } from '../config/structuredFile.ts';
import { validateConfig } from '../config/validate.ts';
import { type Behavior, parseBehaviors } from '../localrules/behaviors.ts';
import { behaviorsOf, evaluatorOptionsOf } from '../localrules/configCheck.ts';
import type { ViolationEvent } from '../localrules/contracts.ts';
import { parseDatapoint } from '../localrules/datapointLine.ts';
import { type DeviceInfo, datapointsFromSample, deviceInfoOf } from '../localrules/datapoints.ts';
import { type Datapoint, defaultEvaluatorOptions, Evaluator, type EvaluatorOptions, MemoryThingStates } from '../localrules/evaluator.ts';
import type { ValueContainer } from '../localrules/metricValue.ts';
import { compileProfile } from '../localrules/profile.ts';
import { isRecordedSample, parseRecordedSample } from '../localrules/recordedSample.ts';
import { isPlainObject } from '../plainObject.ts';
import { parseCommandArgs, UsageError } from './args.ts';
import { failWithErrors } from './errors.ts';

const usage = `usage: defender-edge evaluate --profile FILE --datapoints FILE.jsonl [--thing NAME] [--invalidate-after SECONDS]

--profile FILE (JSON or YAML) is one of:
  a security profile: {"behaviors": [...]}, e.g. the output of aws iot describe-security-profile;
  a component configuration (as deployed): its behaviors, statistics and violations settings are used;
  a recipe: its ComponentConfiguration.DefaultConfiguration, as a first deployment installs it.
Each line of --datapoints FILE ("-" for stdin) is either
  a datapoint of a downstream device: {"t": <seconds>, "thing": "<name>", "metric": "<metric>", "value": <MetricValue>}, or
  a recorded sample, a line of \`defender-edge collect --json\`: {"host": {...}, "devices": [...]}; it is turned
    into datapoints exactly as the agent does — the gateway (named by --thing, default "gateway"), each of its
    processes, each downstream device.
Lines are evaluated in file order. One line per event is printed:
  {"t", "thing", "behavior", "event", "value"}, plus "offender" when it is the gateway or one of its processes.
Exit 0; 1 with path: message errors (nothing is evaluated then); 2 for a usage error.`;

interface Input {
  behaviors: Behavior[];
  options: EvaluatorOptions;
  perProcess: boolean;
  deviceInfo: DeviceInfo;
}

/** A file is taken as a component configuration when it is a recipe or names any setting besides behaviors. */
function looksLikeConfiguration(doc: Record<string, unknown>): boolean {
  if (isRecipe(doc)) return true;
  const settings = Object.keys(configSchema.properties).filter((k) => k !== 'behaviors');
  return Object.keys(doc).some((k) => settings.includes(k));
}

function readProfile(path: string, invalidateAfterMs: number | undefined): { ok: true; input: Input } | { ok: false; errors: string[] } {
  const file = readStructuredFile(path);
  if (!file.ok) return { ok: false, errors: [file.error] };
  if (!isPlainObject(file.value)) return { ok: false, errors: [`${path}: (root): must be an object with a behaviors array`] };
  if (looksLikeConfiguration(file.value)) {
    const { config, prefix } = configurationOf(file.value);
    const r = validateConfig(config, componentConfigChecks);
    if (!r.ok) return { ok: false, errors: r.errors.map((e) => `${prefix}${e}`) };
    const options = evaluatorOptionsOf(r.config);
    if (invalidateAfterMs !== undefined) options.invalidateAfterMs = invalidateAfterMs;
    return {
      ok: true,
      input: {
        behaviors: behaviorsOf(r.config),
        options,
        perProcess: r.config.collector.perProcess,
        deviceInfo: deviceInfoOf(r.config.downstream.devices),
      },
    };
  }
  // A security profile as the cloud describes it: its other keys (name, ARN, alert targets …) are not ours.
  const behaviors = parseBehaviors(file.value.behaviors, 'behaviors');
  if (!behaviors.ok) return { ok: false, errors: behaviors.errors };
  const options = defaultEvaluatorOptions();
  if (invalidateAfterMs !== undefined) options.invalidateAfterMs = invalidateAfterMs;
  // Per-process datapoints are built whenever a behavior is scoped to processes, as the agent would with
  // collector.perProcess on.
  const perProcess = behaviors.value.some((b) => b.edge.scope.processes);
  return { ok: true, input: { behaviors: behaviors.value, options, perProcess, deviceInfo: () => ({}) } };
}

function readPoints(
  text: string,
  input: Input,
  thing: string,
  containers: ReadonlyMap<string, ValueContainer>,
): { samples: Datapoint[][]; errors: string[] } {
  // One group per line: a recorded sample's datapoints are evaluated together, as the agent does.
  const samples: Datapoint[][] = [];
  const errors: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    let x: unknown;
    try {
      x = JSON.parse(line);
    } catch (err) {
      errors.push(`line ${i + 1}: (line): not valid JSON: ${(err as Error).message}`);
      return;
    }
    if (isRecordedSample(x)) {
      const s = parseRecordedSample(x);
      if (s.ok) samples.push(datapointsFromSample(s.value, thing, { perProcess: input.perProcess, deviceInfo: input.deviceInfo }));
      else errors.push(...s.errors.map((e) => `line ${i + 1}: ${e}`));
      return;
    }
    const r = parseDatapoint(x, containers);
    if (r.ok) samples.push([r.value]);
    else errors.push(...r.errors.map((e) => `line ${i + 1}: ${e}`));
  });
  return { samples, errors };
}

function eventLine(e: ViolationEvent): string {
  const out: Record<string, unknown> = { t: e.t / 1000, thing: e.thingName, behavior: e.behavior, event: e.event };
  if (e.value !== undefined) out.value = e.value;
  if (e.offender.kind !== 'device') out.offender = e.offender;
  return JSON.stringify(out);
}

export async function evaluateCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      profile: { type: 'string' },
      datapoints: { type: 'string' },
      thing: { type: 'string', default: 'gateway' },
      'invalidate-after': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (values.profile === undefined || values.datapoints === undefined)
    throw new UsageError(`--profile and --datapoints are required\n${usage}`);
  let invalidateAfterMs: number | undefined;
  if (values['invalidate-after'] !== undefined) {
    const s = Number(values['invalidate-after']);
    if (!Number.isInteger(s) || s < 1)
      throw new UsageError(`--invalidate-after: must be a positive integer number of seconds, got "${values['invalidate-after']}"`);
    invalidateAfterMs = s * 1000;
  }
  const thing = values.thing!;
  if (thing.length < 1 || thing.length > 128) throw new UsageError(`--thing: must be a thing name of 1–128 characters, got "${thing}"`);

  const profile = readProfile(values.profile, invalidateAfterMs);
  if (!profile.ok) return failWithErrors(profile.errors);
  const { input } = profile;
  const containers = new Map<string, ValueContainer>(input.behaviors.map((b) => [b.metric, b.metricInfo.container]));

  let text: string;
  try {
    text = readFileSync(values.datapoints === '-' ? 0 : values.datapoints, 'utf8');
  } catch (err) {
    return failWithErrors([`${values.datapoints}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  const { samples, errors } = readPoints(text, input, thing, containers);
  if (errors.length > 0) return failWithErrors(errors);

  const evaluator = new Evaluator(compileProfile(input.behaviors), new MemoryThingStates(), input.options);
  const out: string[] = [];
  let lastExpiry = Number.NEGATIVE_INFINITY;
  for (const points of samples) {
    const t = points[0]?.t;
    if (t === undefined) continue;
    // Time only moves with the input: silence is noticed when a later datapoint (of any thing) arrives.
    if (t > lastExpiry) {
      for (const e of evaluator.expire(t)) out.push(eventLine(e));
      lastExpiry = t;
    }
    for (const e of evaluator.evaluate(points)) out.push(eventLine(e));
    if (out.length >= 1000) {
      process.stdout.write(`${out.join('\n')}\n`);
      out.length = 0;
    }
  }
  if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
