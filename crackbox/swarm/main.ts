// The entry point of the crackbox image (images/crackbox.ts bundles this file): reads the snapshot the manager mounted
// as a Docker config, picks the upstream resolver, serves until SIGTERM. Any problem at start exits non-zero, so
// Swarm restarts the task and the manager's convergence check keeps turns waiting rather than running unconfined.
//   CRACKBOX_SNAPSHOT             the snapshot file (set by the service spec)
//   WARREN_EGRESS_NODE_UPSTREAM   a.b.c.d:port to resolve allowed names with (default: the first IPv4 nameserver of
//                                 the task's /etc/resolv.conf — Docker's embedded resolver, which forwards to the node's)
import { readFileSync } from 'node:fs';
import { logger } from '../../core/log.js';
import { parseUpstream } from '../dns-upstream.js';
import { upstreamFromResolvConf } from '../egress-config.js';
import { CrackboxNode } from './node.js';
import { parseSnapshot } from './snapshot.js';

const log = logger('crackbox-node');

function upstream(): string {
  const configured = process.env.WARREN_EGRESS_NODE_UPSTREAM;
  if (configured) {
    parseUpstream(configured);
    return configured;
  }
  const found = upstreamFromResolvConf(readFileSync('/etc/resolv.conf', 'utf8'));
  if (!found) throw new Error('no upstream resolver: set WARREN_EGRESS_NODE_UPSTREAM or give the task a nameserver');
  return found;
}

async function main(): Promise<void> {
  const file = process.env.CRACKBOX_SNAPSHOT;
  if (!file) throw new Error('CRACKBOX_SNAPSHOT is not set');
  const snapshot = parseSnapshot(readFileSync(file, 'utf8'));
  const node = await CrackboxNode.start({ snapshot, upstream: upstream(), log });
  const stop = (signal: string) => {
    log.info({ signal }, 'stopping');
    node.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((error: Error) => {
  log.fatal({ err: error }, `crackbox node could not start: ${error.message}`);
  process.exit(1);
});
