// `warren nodes`: the cluster's nodes as the Swarm manager sees them, with the turns running on each; on the local
// Docker backend, this host as the one node. Read-only: asks the daemon, changes nothing.
import Docker from 'dockerode';
import { parse, type Command } from '../../core/command.js';
import { formatNodes } from '../cluster/print.js';
import { clusterSnapshot, openPlacedRuns } from '../cluster/sources.js';
import { LOCAL_NOTE, nodeRows } from '../cluster/view.js';

const command: Command = {
  summary: 'list the cluster nodes: state, availability, role, running turns, labels (this host, on local Docker)',
  usage: `Usage: warren nodes [--json]

One line per node of the swarm the Docker daemon (DOCKER_HOST, or the default socket) manages: its hostname, the
manager's STATE for it (ready while its heartbeats arrive; down when they stop), AVAILABILITY (active, pause,
drain), ROLE, how many of this installation's turns run there (the runs table), its labels (what PERSONA.md
placement: matches) and UPDATED, Swarm's UpdatedAt: the last change to the node's record. Swarm reports no
heartbeat times. On a daemon that is not in a swarm (the local backend) it says so and shows this host.`,
  async run(argv, common) {
    const { values } = parse(argv, { json: { type: 'boolean' } }, false);
    const snapshot = await clusterSnapshot(new Docker(), { tasks: false });
    const placed = openPlacedRuns(common.data);
    try {
      const rows = nodeRows(snapshot, placed?.runs.running() ?? []);
      if (values.json) for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
      else process.stdout.write(formatNodes(rows, snapshot.backend === 'local' ? LOCAL_NOTE : null));
      return 0;
    } finally {
      placed?.db.close();
    }
  },
};
export default command;
