// Checks on the collector's parts of the configuration that JSON Schema cannot express, as ConfigChecks
// for validateConfig (errors as `path: message`). The lead adds `collectorConfigChecks` to the checks.
import ipaddr from 'ipaddr.js';
import { thingNamePatternProblems } from '../config/thingNamePattern.ts';
import type { ConfigCheck } from '../config/validate.ts';
import { compileTopicPattern } from './messageCounter.ts';

export const checkMessageTopics: ConfigCheck = (config) => {
  const errors: string[] = [];
  config.downstream.messageTopics.forEach((t, i) => {
    const c = compileTopicPattern(t);
    if (typeof c === 'string') errors.push(`downstream.messageTopics[${i}]: ${c}`);
  });
  return errors;
};

export const checkDownstreamDevices: ConfigCheck = (config) => {
  const errors: string[] = [];
  const names = new Map<string, number>();
  const owners = new Map<string, number>();
  config.downstream.devices.forEach((d, i) => {
    const seen = names.get(d.thingName);
    if (seen !== undefined)
      errors.push(`downstream.devices[${i}].thingName: '${d.thingName}' is already used by downstream.devices[${seen}]`);
    else names.set(d.thingName, i);
    (d.addresses ?? []).forEach((a, j) => {
      const path = `downstream.devices[${i}].addresses[${j}]`;
      if (!ipaddr.isValid(a)) {
        errors.push(
          `${path}: '${a}' is not an IPv4 or IPv6 address${a.includes('/') ? ' (CIDR ranges are not supported; list addresses)' : ''}`,
        );
        return;
      }
      const canon = ipaddr.parse(a).toString();
      const other = owners.get(canon);
      if (other !== undefined && other !== i) errors.push(`${path}: ${canon} is already assigned to downstream.devices[${other}]`);
      owners.set(canon, i);
    });
  });
  return errors;
};

export const checkThingNamePattern: ConfigCheck = (config) => {
  const p = config.downstream.thingNamePattern;
  return p == null ? [] : thingNamePatternProblems(p);
};

export const collectorConfigChecks: readonly ConfigCheck[] = [checkMessageTopics, checkDownstreamDevices, checkThingNamePattern];
