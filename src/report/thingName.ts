// Thing-name rules for Device Defender reports (docs/reports.md#topics). The troubleshooting guide
// (https://docs.aws.amazon.com/iot/latest/developerguide/device-defender-troubleshoot.html): "If the thing name
// contains control characters or is longer than 128 bytes of UTF-8 encoded characters, messages reported by
// devices are rejected." The name is also a segment of the reserved MQTT topic, so it must not contain a topic
// separator or wildcard: a `/` would shift the topic's segments, `+`/`#` are not allowed in a publish topic
// (MQTT 3.1.1 §4.7.1). Reports for unregistered things are accepted too (same guide), so no narrower character
// set is imposed.

import { isWellFormedString } from './validationIssues.ts';

export const MAX_THING_NAME_BYTES = 128;

// C0 controls, DEL and C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why `name` cannot be a thing name in a Defender topic, or null when it can. Never throws. */
export function thingNameProblem(name: unknown): string | null {
  if (typeof name !== 'string') return 'must be a string';
  if (name.length === 0) return 'must not be empty';
  // Checked on the UTF-16 length first so a huge string costs nothing more (a UTF-8 byte per code unit at least).
  if (name.length > MAX_THING_NAME_BYTES) return `must be at most ${MAX_THING_NAME_BYTES} bytes of UTF-8`;
  if (!isWellFormedString(name)) return 'must be valid Unicode';
  if (Buffer.byteLength(name, 'utf8') > MAX_THING_NAME_BYTES) return `must be at most ${MAX_THING_NAME_BYTES} bytes of UTF-8`;
  if (CONTROL.test(name)) return 'must not contain control characters';
  if (/[/+#]/.test(name)) return "must not contain '/', '+' or '#' (it is a topic segment)";
  return null;
}
