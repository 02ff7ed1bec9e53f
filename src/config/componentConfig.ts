// The component's configuration check as a whole: the one schema plus every module's own rules. The agent,
// the ValidateConfigurationUpdates hook, check-config, the last-good store and the recipe test all use this,
// so a configuration is judged the same way everywhere.
import { collectorConfigChecks } from '../collector/configChecks.ts';
import { checkEnforcementConfig } from '../enforce/configCheck.ts';
import { behaviorsCheck } from '../localrules/configCheck.ts';
import { type ConfigCheck, type ConfigResult, validateConfig } from './validate.ts';

export const componentConfigChecks: readonly ConfigCheck[] = [behaviorsCheck, checkEnforcementConfig, ...collectorConfigChecks];

export function validateComponentConfig(raw: unknown): ConfigResult {
  return validateConfig(raw, componentConfigChecks);
}
