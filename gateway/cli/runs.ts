// `warren runs`: this installation's turns, newest first, with the node each was placed on.
import Docker from 'dockerode';
import { hasTable, openDataReadOnly, parse, UsageError, type Command } from '../../core/command.js';
import { parseTenantPath } from '../../core/tenant-path.js';
import { formatRuns } from '../cluster/print.js';
import { clusterSnapshot, PlacedRuns } from '../cluster/sources.js';
import { nodeNames, RUN_STATES, runView } from '../cluster/view.js';

const command: Command = {
  summary: 'list turns (runs): id, tenant, topic, node, state, age; filter by tenant and state',
  usage: `Usage: warren runs [--tenant T] [--state running|done|failed|requeued] [--limit N] [--json]

Newest first (default 50). --tenant T shows T and the tenants below it. NODE is where the cluster placed the
turn, by name when the Docker daemon is a swarm manager that knows the node (else the recorded node ID); "-" for
turns no cluster placed (the local backend). AGE counts from the turn's start.`,
  async run(argv, common) {
    const { values } = parse(argv, {
      tenant: { type: 'string' },
      state: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    }, false);
    const tenant = values.tenant === undefined ? undefined : parseTenantPath(values.tenant);
    if (values.state !== undefined && !(RUN_STATES as readonly string[]).includes(values.state)) {
      throw new UsageError(`--state is one of ${RUN_STATES.join(', ')}, not "${values.state}"`);
    }
    const limit = Number(values.limit ?? 50);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit takes a whole number >= 1');
    const db = openDataReadOnly(common.data);
    try {
      if (!hasTable(db, 'runs')) throw new Error(`no gateway data at ${common.data} (warren up has not run on it)`);
      const rows = new PlacedRuns(db).list({ tenant, state: values.state, limit });
      // Node names are the swarm's to tell; without a reachable manager the recorded IDs are shown as they are.
      const names = rows.some((r) => r.node !== null)
        ? nodeNames(await clusterSnapshot(new Docker(), { tasks: false }).catch(() => null))
        : new Map<string, string>();
      const now = Date.now();
      const views = rows.map((r) => runView(r, now, names));
      if (values.json) for (const v of views) process.stdout.write(JSON.stringify(v) + '\n');
      else process.stdout.write(formatRuns(views));
      return 0;
    } finally {
      db.close();
    }
  },
};
export default command;
