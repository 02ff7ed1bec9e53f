// `defender-edge evaluate --profile PROFILE.json --datapoints FILE.jsonl`: run a security profile's
// behaviors over datapoints offline, one JSON line per violation event. The whole input is checked first;
// any bad profile field or line → `path: message` errors on stderr, exit 2, no events.
import { readFileSync } from 'node:fs';
import { parseBehaviors } from '../localrules/behaviors.ts';
import { parseDatapointLine } from '../localrules/datapointLine.ts';
import { type Datapoint, defaultEvaluatorOptions, Evaluator, MemoryThingStates } from '../localrules/evaluator.ts';
import type { ValueContainer } from '../localrules/metricValue.ts';
import { compileProfile } from '../localrules/profile.ts';
import { isPlainObject } from '../plainObject.ts';
import { parseCommandArgs, UsageError } from './args.ts';
import { readStructuredFile } from './structuredFile.ts';

const usage = `usage: defender-edge evaluate --profile PROFILE.json --datapoints FILE.jsonl [--invalidate-after SECONDS]

PROFILE is a security profile ({"behaviors": [...]}, e.g. the output of aws iot describe-security-profile).
Each line of FILE ("-" for stdin) is {"t": <seconds>, "thing": "<name>", "metric": "<metric>", "value": <MetricValue>}.
Lines are evaluated in file order as datapoints of downstream things; one line per event is printed:
{"t", "thing", "behavior", "event", "value"}. Exit 0, or 2 with path: message errors.`;

const maxErrorsShown = 50;

export async function evaluateCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      profile: { type: 'string' },
      datapoints: { type: 'string' },
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
  const options = defaultEvaluatorOptions();
  if (values['invalidate-after'] !== undefined) {
    const s = Number(values['invalidate-after']);
    if (!Number.isInteger(s) || s < 1)
      throw new UsageError(`--invalidate-after: must be a positive integer number of seconds, got "${values['invalidate-after']}"`);
    options.invalidateAfterMs = s * 1000;
  }

  const file = readStructuredFile(values.profile);
  if (!file.ok) return fail([file.error]);
  if (!isPlainObject(file.value)) return fail([`(profile): must be an object with a behaviors array`]);
  const behaviors = parseBehaviors(file.value.behaviors, 'behaviors');
  if (!behaviors.ok) return fail(behaviors.errors);
  const profile = compileProfile(behaviors.value);
  const containers = new Map<string, ValueContainer>(behaviors.value.map((b) => [b.metric, b.metricInfo.container]));

  let text: string;
  try {
    text = readFileSync(values.datapoints === '-' ? 0 : values.datapoints, 'utf8');
  } catch (err) {
    return fail([`${values.datapoints}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  const points: Datapoint[] = [];
  const errors: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const r = parseDatapointLine(line, containers);
    if (r.ok) points.push(r.value);
    else errors.push(...r.errors.map((e) => `line ${i + 1}: ${e}`));
  });
  if (errors.length > 0) return fail(errors);

  const evaluator = new Evaluator(profile, new MemoryThingStates(), options);
  const out: string[] = [];
  let lastExpiry = Number.NEGATIVE_INFINITY;
  for (const p of points) {
    // Time only moves with the input: silence is noticed when a later datapoint (of any thing) arrives.
    if (p.t > lastExpiry) {
      for (const e of evaluator.expire(p.t))
        out.push(JSON.stringify({ t: e.t / 1000, thing: e.thingName, behavior: e.behavior, event: e.event }));
      lastExpiry = p.t;
    }
    for (const e of evaluator.evaluate([p]))
      out.push(JSON.stringify({ t: e.t / 1000, thing: e.thingName, behavior: e.behavior, event: e.event, value: e.value }));
    if (out.length >= 1000) {
      process.stdout.write(`${out.join('\n')}\n`);
      out.length = 0;
    }
  }
  if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

function fail(errors: string[]): number {
  const shown = errors.slice(0, maxErrorsShown);
  if (errors.length > shown.length) shown.push(`… and ${errors.length - shown.length} more errors`);
  process.stderr.write(`${shown.join('\n')}\n`);
  return 2;
}
