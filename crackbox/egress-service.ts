// What `warren up` runs for egress, by WARREN_EGRESS: `on` starts crackbox in the process, `external` checks per
// turn that a separately run crackbox has done its work, `off` has no service (containers then get no network).
// cli/start-warren.ts hands the result to the gateway, which knows only core/egress.ts.
import type { EgressStarter } from '../core/egress.js';
import { componentLogger } from '../core/log.js';
import { Crackbox } from './crackbox.js';
import type { EgressConfig } from './egress-config.js';
import { externalEgress } from './external.js';

export function egressStarter(config: EgressConfig): EgressStarter | undefined {
  switch (config.mode) {
    case 'on':
      return async ({ instance, docker, registry, db, dataDir, log }) =>
        Crackbox.start({ instance, config, docker, registry, db, dataDir, log: componentLogger(log, 'crackbox') }).catch((error: Error) => {
          throw new Error(`crackbox could not start (${error.message}); fix it or set WARREN_EGRESS=off (containers then get no network)`);
        });
    case 'external':
      return async ({ instance, docker, dataDir }) => ({
        egressFor: externalEgress({ docker, instance, config, dataDir }),
        stop: async () => undefined, // the separate crackbox keeps running
      });
    case 'off':
      return undefined;
  }
}
