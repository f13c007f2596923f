// `warren describe node <name>` and `warren describe run <id>`: one node or one turn in full, as an operator
// inspecting a cluster expects (kubectl describe). Read-only.
import Docker from 'dockerode';
import { hasTable, openDataReadOnly, parse, UsageError, type Command, type CommonOptions } from '../../core/command.js';
import { instanceName } from '../../core/instance.js';
import { DEFAULT_BOUNDS } from '../live/chunks.js';
import { RunOutputStore } from '../live/output-store.js';
import { formatNodeDetail, formatRunDetail } from '../cluster/print.js';
import { clusterSnapshot, openPlacedRuns, PlacedRuns } from '../cluster/sources.js';
import { findNode, nodeDetail, nodeNames, runView, taskOfRun, tasksOf, type ClusterSnapshot } from '../cluster/view.js';

const USAGE = `Usage: warren describe node <name> [--json]
       warren describe run <id> [--json]

node: the node (by hostname, ID or ID prefix) as the swarm manager sees it, the turns running there, the runs
placed there (newest 20) and this installation's tasks on it. On the local backend the one node is this host.
run: the run from the runs table, the node and Swarm task that ran it (the task's state, message and exit code
when the manager still has it), and its output as the live-output store kept it.`;

async function describeNode(name: string, common: CommonOptions, json: boolean): Promise<number> {
  const snapshot = await clusterSnapshot(new Docker());
  const row = findNode(snapshot, name) ?? (snapshot.backend === 'local' && name === 'local' ? findNode(snapshot, snapshot.host) : undefined);
  if (row === 'ambiguous') throw new Error(`"${name}" names more than one node; give its hostname or full ID`);
  if (!row) throw new Error(`no node "${name}" in ${snapshot.backend === 'local' ? 'this installation (local Docker backend: the one node is this host)' : 'the swarm'}`);
  const placed = openPlacedRuns(common.data);
  try {
    const tasks = snapshot.backend === 'swarm' ? tasksOf(snapshot.tasks, instanceName(common.data)) : [];
    const detail = nodeDetail(snapshot, row, placed?.runs.running() ?? [], tasks);
    const onNode = snapshot.backend === 'local' ? undefined : [row.id, row.name];
    const now = Date.now();
    const runs = (placed?.runs.list({ node: onNode, limit: 20 }) ?? []).map((r) => runView(r, now, nodeNames(snapshot)));
    process.stdout.write(json ? JSON.stringify({ ...detail, runs }) + '\n' : formatNodeDetail(detail, runs));
    return 0;
  } finally {
    placed?.db.close();
  }
}

async function describeRun(id: string, common: CommonOptions, json: boolean): Promise<number> {
  const db = openDataReadOnly(common.data);
  try {
    if (!hasTable(db, 'runs')) throw new Error(`no gateway data at ${common.data} (warren up has not run on it)`);
    const run = new PlacedRuns(db).get(id);
    if (!run) throw new Error(`no run "${id}"`);
    // Only a placed run has a task to ask the manager about; a local one needs no daemon at all.
    let snapshot: ClusterSnapshot | null = null;
    if (run.node !== null) {
      snapshot = await clusterSnapshot(new Docker()).catch((error: Error) => {
        process.stderr.write(`warren describe: the task of ${id} is shown as recorded: ${error.message}\n`);
        return null;
      });
    }
    const task = snapshot?.backend === 'swarm' ? taskOfRun(run, snapshot.tasks) : null;
    const view = runView(run, Date.now(), nodeNames(snapshot));
    const output = hasTable(db, 'run_output_state') ? new RunOutputStore(db, DEFAULT_BOUNDS).read(id, 0, DEFAULT_BOUNDS.maxChunks) : null;
    process.stdout.write(json ? JSON.stringify({ run: { ...run, ...view }, task, output }) + '\n' : formatRunDetail(view, run, task, output));
    return 0;
  } finally {
    db.close();
  }
}

const command: Command = {
  summary: 'show one node or one run (with its output) in full',
  usage: USAGE,
  async run(argv, common) {
    const { values, positionals } = parse(argv, { json: { type: 'boolean' } });
    const [what, name, ...rest] = positionals;
    if (what !== 'node' && what !== 'run') throw new UsageError(what ? `describe node or run, not "${what}"` : 'describe node <name> or run <id>');
    if (!name || rest.length) throw new UsageError(`give one ${what === 'node' ? 'node name' : 'run id'}`);
    return what === 'node' ? describeNode(name, common, values.json === true) : describeRun(name, common, values.json === true);
  },
};
export default command;
