// Size limits of Greengrass nucleus lite that a component meets. Pure.
// - aws-greengrass-sdk-lite include/gg/object.h: GG_MAX_OBJECT_SUBOBJECTS 255 (a list counts its length, a
//   map twice its number of entries, summed over the whole object) and GG_MAX_OBJECT_DEPTH 15 (`5` has
//   depth 1, `{"a":5}` 2); src/object_visit.c refuses more with "Visited object's subobjects exceeds
//   maximum." / "Visited object's depth exceeds maximum.".
// - aws-greengrass-lite modules/core-bus constants.h GGL_COREBUS_MAX_MSG_LEN and ggipcd ipc_server.h
//   GGL_IPC_MAX_MSG_LEN: 10,000 bytes. ggipcd reads at most that much after a message's 12-byte prelude and
//   drops the connection otherwise ("EventStream packet does not fit in configured IPC buffer size."); its
//   request decoder has room for 255 objects.
// The limits and the counting are the agent's own (src/config/liteLimits.ts, which checks the recipe against
// them); this module adds what the emulator answers: lite's refusals, in the order lite finds them.
import { LITE_MAX_DEPTH, LITE_MAX_IPC_MESSAGE_BYTES, LITE_MAX_SUBOBJECTS, liteDepth, liteSubobjectCount } from '../../config/liteLimits.ts';

/** An eventstream message's prelude (total length, headers length, prelude CRC). */
export const EVENTSTREAM_PRELUDE_BYTES = 12;

export const SUBOBJECTS_EXCEEDED = "Visited object's subobjects exceeds maximum.";
export const DEPTH_EXCEEDED = "Visited object's depth exceeds maximum.";

/**
 * What lite's object visit says about `value`, walking it in order like object_visit.c (a container's
 * entries are counted when it is entered), or null when it fits.
 */
export function objectLimitProblem(value: unknown): string | null {
  let count = 0;
  const visit = (v: unknown, depth: number): string | null => {
    if (depth > LITE_MAX_DEPTH) return DEPTH_EXCEEDED;
    if (Array.isArray(v)) {
      count += v.length;
      if (count > LITE_MAX_SUBOBJECTS) return SUBOBJECTS_EXCEEDED;
      for (const item of v) {
        const p = visit(item, depth + 1);
        if (p) return p;
      }
    } else if (typeof v === 'object' && v !== null) {
      const entries = Object.values(v as Record<string, unknown>);
      count += 2 * entries.length;
      if (count > LITE_MAX_SUBOBJECTS) return SUBOBJECTS_EXCEEDED;
      for (const item of entries) {
        const p = visit(item, depth + 1);
        if (p) return p;
      }
    }
    return null;
  };
  return visit(value, 1);
}

/**
 * A configuration lite can hold and hand over in one core-bus message: within the object limits and at
 * most 10,000 bytes as JSON. Returns the refusal, naming the limit, or null.
 */
export function liteConfigProblem(config: unknown): string | null {
  const visit = objectLimitProblem(config);
  if (visit)
    return (
      `${visit} (lite allows ${LITE_MAX_SUBOBJECTS} sub-objects — a map entry counts 2, a list element 1 — ` +
      `nested at most ${LITE_MAX_DEPTH - 1} levels; this has ${liteSubobjectCount(config)}, nested ${liteDepth(config)})`
    );
  const bytes = Buffer.byteLength(JSON.stringify(config));
  if (bytes > LITE_MAX_IPC_MESSAGE_BYTES)
    return `${bytes} bytes of JSON exceed lite's ${LITE_MAX_IPC_MESSAGE_BYTES}-byte core-bus message limit`;
  return null;
}

/** GetConfiguration on lite hands numbers back as strings (`42` → `"42"`). */
export function numbersAsStrings(value: unknown): unknown {
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.map(numbersAsStrings);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, numbersAsStrings(v)]));
  }
  return value;
}
