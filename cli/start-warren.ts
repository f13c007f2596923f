// Starts warren the way `warren up` does: the gateway (gateway/warren.ts) with crackbox's egress plugged in by
// WARREN_EGRESS. The one place that knows both the gateway and crackbox, so neither imports the other; the tests and
// the turn benchmark start warren through here too, and so get the same egress as the command.
import { egressConfig, type EgressConfig } from '../crackbox/egress-config.js';
import { egressStarter } from '../crackbox/egress-service.js';
import { swarmEgressStarter } from '../crackbox/swarm/swarm-egress.js';
import type { EgressStarter } from '../core/egress.js';
import { gatewayConfig } from '../gateway/config.js';
import { Warren, type WarrenOptions } from '../gateway/warren.js';
import { ensureCrackboxImage } from '../images/crackbox.js';

/** Warren.start with egress from the environment (`options.env`, else process.env) unless `options.egress` is given. */
export function startWarren(options: WarrenOptions): Promise<Warren> {
  const env = options.env ?? process.env;
  // Read before anything starts: an invalid WARREN_EGRESS* setting stops `warren up` at once, never widens egress.
  const egress = options.egress ?? egressFor(egressConfig(env), gatewayConfig(options.dataDir, env).runtime === 'swarm', env);
  return Warren.start({ ...options, egress });
}

/**
 * With WARREN_RUNTIME=swarm, egress is crackbox on every node (crackbox/swarm/): the local crackbox's bridges are no
 * Swarm networks. Its image is WARREN_CRACKBOX_IMAGE, else the offline-built one (built on this host when missing;
 * every other node must have it too, docs/scale-out.md).
 */
export function egressFor(config: EgressConfig, swarm: boolean, env: NodeJS.ProcessEnv): EgressStarter | undefined {
  if (!swarm || config.mode === 'off') return egressStarter(config);
  if (config.mode === 'external') {
    throw new Error('WARREN_EGRESS=external is not supported with WARREN_RUNTIME=swarm: crackbox runs as a Swarm service (WARREN_EGRESS=on)');
  }
  const nodeEnv: Record<string, string> = {};
  for (const name of ['WARREN_EGRESS_NODE_UPSTREAM', 'WARREN_LOG_LEVEL']) if (env[name]) nodeEnv[name] = env[name]!;
  const configured = env.WARREN_CRACKBOX_IMAGE?.trim();
  return swarmEgressStarter(config, {
    image: configured ? configured : async (docker) => (await ensureCrackboxImage({ docker })).tag,
    nodeEnv,
  });
}
