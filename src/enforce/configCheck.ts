// Checks of the `enforcement` config section beyond what the JSON schema can say; pass it to
// validateConfig(raw, [checkEnforcementConfig]) so bad values fail as `path: message` before start.
import type { ComponentConfig } from '../config/schema.ts';
import { parseCidr } from './targetValidation.ts';

export function checkEnforcementConfig(config: ComponentConfig): string[] {
  const e = config.enforcement;
  const errors: string[] = [];
  e.neverBlockCidrs.forEach((c, i) => {
    try {
      parseCidr(c, `enforcement.neverBlockCidrs[${i}]`);
    } catch (err) {
      errors.push((err as Error).message);
    }
  });
  if (e.maxTtlSeconds < e.defaultTtlSeconds)
    errors.push(`enforcement.maxTtlSeconds: must be >= enforcement.defaultTtlSeconds (${e.defaultTtlSeconds})`);
  e.protectedProcesses.forEach((p, i) => {
    if (p.includes('/'))
      errors.push(`enforcement.protectedProcesses[${i}]: must be a process name (comm or executable basename), not a path`);
  });
  return errors;
}
