import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/validate.ts';
import { checkEnforcementConfig } from '../../src/enforce/configCheck.ts';

describe('enforcement config check', () => {
  it('accepts the defaults and valid CIDRs', () => {
    expect(
      validateConfig({ enforcement: { neverBlockCidrs: ['10.0.0.0/8', 'fd00::/8', '192.168.1.1'] } }, [checkEnforcementConfig]).ok,
    ).toBe(true);
  });

  it('names each bad value as path: message', () => {
    const r = validateConfig(
      {
        enforcement: {
          neverBlockCidrs: ['10.0.0.0/8', '10.0.0.0/40', 'nope'],
          defaultTtlSeconds: 900,
          maxTtlSeconds: 600,
          protectedProcesses: ['/usr/sbin/sshd'],
        },
      },
      [checkEnforcementConfig],
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([
      expect.stringMatching(/^enforcement\.neverBlockCidrs\[1\]: prefix length must be at most 32/),
      expect.stringMatching(/^enforcement\.neverBlockCidrs\[2\]: /),
      'enforcement.maxTtlSeconds: must be >= enforcement.defaultTtlSeconds (900)',
      'enforcement.protectedProcesses[0]: must be a process name (comm or executable basename), not a path',
    ]);
  });
});
