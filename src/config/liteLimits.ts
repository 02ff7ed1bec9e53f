// Nucleus lite's fixed limits on what it decodes, measured the way lite measures them, so that the recipe
// (and a configuration about to be deployed) can be checked before lite refuses it. Pure.
//
// - A decoded object holds at most 255 sub-objects in total, where every map entry counts 2 and every list
//   element 1, whatever the nesting (GG_MAX_OBJECT_SUBOBJECTS and gg_obj_visit in
//   https://github.com/aws-greengrass/aws-greengrass-component-sdk include/gg/object.h, src/object_visit.c);
//   beyond that lite logs "Visited object's subobjects exceeds maximum." Nesting stops at 15 levels
//   (GG_MAX_OBJECT_DEPTH). Lite applies this to the whole recipe when it reads it for a deployment
//   (ggl_recipe_get_from_file claims the decoded recipe, aws-greengrass-lite modules/ggl-recipe/src/recipe.c).
// - An IPC message (a GetConfiguration answer, for instance) is at most 10,000 bytes (GGL_IPC_MAX_MSG_LEN,
//   aws-greengrass-lite modules/ggipcd/src/ipc_server.h); so is a core-bus message (GGL_COREBUS_MAX_MSG_LEN).
// - A recipe file is read into an 8196-byte buffer (same recipe.c); a longer file is cut off there.

export const LITE_MAX_SUBOBJECTS = 255;
export const LITE_MAX_DEPTH = 15;
export const LITE_MAX_IPC_MESSAGE_BYTES = 10_000;
export const LITE_MAX_RECIPE_FILE_BYTES = 8196;
/**
 * What an IPC answer carries besides the configuration's JSON: the event-stream prelude, headers and CRCs
 * and the response's other members. Generous on purpose: the check must fail before lite does.
 */
export const IPC_ENVELOPE_ALLOWANCE_BYTES = 512;

/** Sub-objects as lite counts them: 2 per map entry, 1 per list element, summed over the whole tree. */
export function liteSubobjectCount(value: unknown): number {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      count += v.length;
      stack.push(...v);
    } else if (typeof v === 'object' && v !== null) {
      const children = Object.values(v);
      count += 2 * children.length;
      stack.push(...children);
    }
  }
  return count;
}

/** Levels of nesting below the root (a scalar or an empty root is 0; `{a: {b: 1}}` is 2). */
export function liteDepth(value: unknown): number {
  let max = 0;
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    for (const child of Object.values(v)) {
      max = Math.max(max, depth + 1);
      stack.push({ v: child, depth: depth + 1 });
    }
  }
  return max;
}

/**
 * Problems, as `path: message`, that would make nucleus lite refuse `value` as one decoded object
 * (`what` names it in the messages, e.g. `DefaultConfiguration`). Empty when it fits.
 */
export function liteObjectProblems(what: string, value: unknown): string[] {
  const problems: string[] = [];
  const count = liteSubobjectCount(value);
  if (count > LITE_MAX_SUBOBJECTS)
    problems.push(
      `${what}: holds ${count} sub-objects (2 per map entry, 1 per list element); nucleus lite decodes at most ${LITE_MAX_SUBOBJECTS}`,
    );
  // lite fails when a child would sit at index GG_MAX_OBJECT_DEPTH of its iteration stack (root = 0).
  const depth = liteDepth(value);
  if (depth >= LITE_MAX_DEPTH) problems.push(`${what}: nests ${depth} levels deep; nucleus lite decodes at most ${LITE_MAX_DEPTH - 1}`);
  return problems;
}

/** A component configuration as lite must hold it and hand it back over IPC in one GetConfiguration answer. */
export function liteConfigurationProblems(configuration: unknown, what = 'configuration'): string[] {
  const problems = liteObjectProblems(what, configuration);
  const bytes = Buffer.byteLength(JSON.stringify(configuration ?? null)) + IPC_ENVELOPE_ALLOWANCE_BYTES;
  if (bytes > LITE_MAX_IPC_MESSAGE_BYTES)
    problems.push(
      `${what}: needs about ${bytes} bytes in a GetConfiguration answer; nucleus lite's IPC messages are at most ${LITE_MAX_IPC_MESSAGE_BYTES}`,
    );
  return problems;
}
