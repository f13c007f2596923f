// `warren cluster status`: nodes ready and not, turns by state, and how they spread over the nodes.
import Docker from 'dockerode';
import { parse, UsageError, type Command } from '../../core/command.js';
import { formatClusterStatus } from '../cluster/print.js';
import { clusterSnapshot, openPlacedRuns } from '../cluster/sources.js';
import { clusterStatus } from '../cluster/view.js';

const command: Command = {
  summary: 'the cluster at a glance: nodes ready / not ready, turns running / completed / failed, per node',
  usage: `Usage: warren cluster status [--json]

Counts the nodes of the swarm the Docker daemon (DOCKER_HOST, or the default socket) manages by state, this
installation's turns by state (the runs table: running, completed, failed, re-queued after a lost node or a
restart), and the same per node. Runs on a node the swarm no longer has show under its ID as "gone"; runs the
cluster never placed under "(not placed)". On a daemon that is not in a swarm it says so and counts this host.`,
  async run(argv, common) {
    const { values, positionals } = parse(argv, { json: { type: 'boolean' } });
    if (positionals.length !== 1 || positionals[0] !== 'status') {
      throw new UsageError(positionals.length ? `unknown subcommand "${positionals.join(' ')}"` : 'give a subcommand: status');
    }
    const snapshot = await clusterSnapshot(new Docker(), { tasks: false });
    const placed = openPlacedRuns(common.data);
    try {
      const status = clusterStatus(snapshot, placed?.runs.counts() ?? []);
      process.stdout.write(values.json ? JSON.stringify(status) + '\n' : formatClusterStatus(status));
      return 0;
    } finally {
      placed?.db.close();
    }
  },
};
export default command;
