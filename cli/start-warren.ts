// Starts warren the way `warren up` does: the gateway (gateway/warren.ts) with crackbox's egress plugged in by
// WARREN_EGRESS. The one place that knows both the gateway and crackbox, so neither imports the other; the tests and
// the turn benchmark start warren through here too, and so get the same egress as the command.
import { egressConfig } from '../crackbox/egress-config.js';
import { egressStarter } from '../crackbox/egress-service.js';
import { Warren, type WarrenOptions } from '../gateway/warren.js';

/** Warren.start with egress from the environment (`options.env`, else process.env) unless `options.egress` is given. */
export function startWarren(options: WarrenOptions): Promise<Warren> {
  // Read before anything starts: an invalid WARREN_EGRESS* setting stops `warren up` at once, never widens egress.
  const egress = options.egress ?? egressStarter(egressConfig(options.env ?? process.env));
  return Warren.start({ ...options, egress });
}
