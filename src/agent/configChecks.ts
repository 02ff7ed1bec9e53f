// The component's configuration check as a whole: the one schema plus every capability's own rules. The
// capabilities each export their checks (src/config knows none of them); this is where they are
// assembled. The agent, the ValidateConfigurationUpdates hook, check-config, collect, the last-good store
// and the recipe test all use this list, so a configuration is judged the same way everywhere.
import { collectorConfigChecks } from '../collector/configChecks.ts';
import type { ConfigCheck, ConfigResult } from '../config/validate.ts';
import { validateConfig } from '../config/validate.ts';
import { checkEnforcementConfig } from '../enforce/configCheck.ts';
import { behaviorsCheck } from '../localrules/configCheck.ts';

export const componentConfigChecks: readonly ConfigCheck[] = [behaviorsCheck, checkEnforcementConfig, ...collectorConfigChecks];

export function validateComponentConfig(raw: unknown): ConfigResult {
  return validateConfig(raw, componentConfigChecks);
}
