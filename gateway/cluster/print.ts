// The text the cluster commands print for the views of view.ts (their --json prints the views themselves). PURE.
import type { Chunk } from '../live/chunks.js';
import type { OutputPage } from '../live/output-store.js';
import { formatAge, formatLabels, type ClusterStatus, type NodeDetail, type NodeRow, type PlacedRun, type RunView, type TaskView } from './view.js';

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

const role = (n: NodeRow) => (n.leader ? `${n.role} (leader)` : n.role);

/** `warren nodes`. `note` (the local backend's) comes first, said plainly. */
export function formatNodes(rows: readonly NodeRow[], note: string | null): string {
  return (
    (note ? `${note}\n` : '') +
    table(
      ['NAME', 'STATE', 'AVAILABILITY', 'ROLE', 'RUNNING', 'LABELS', 'UPDATED'],
      rows.map((n) => [n.name, n.state, n.availability, role(n), String(n.running.length), formatLabels(n.labels), n.updatedAt ?? '-']),
    )
  );
}

/** `warren runs`. */
export function formatRuns(rows: readonly RunView[]): string {
  if (rows.length === 0) return 'no runs\n';
  return table(
    ['ID', 'TENANT', 'TOPIC', 'NODE', 'STATE', 'AGE'],
    rows.map((r) => [r.id, r.tenant, r.topic, r.node ?? '-', r.state, formatAge(r.ageMs)]),
  );
}

/** `warren cluster status`. */
export function formatClusterStatus(s: ClusterStatus): string {
  const lines = [
    ...(s.note ? [s.note] : [`backend: swarm`]),
    `nodes: ${s.nodes.ready} ready, ${s.nodes.total - s.nodes.ready} not ready${s.nodes.notReady.length ? ` (${s.nodes.notReady.join(', ')})` : ''}`,
    `turns: ${s.turns.running} running, ${s.turns.done} completed, ${s.turns.failed} failed, ${s.turns.requeued} re-queued`,
  ];
  return (
    lines.join('\n') +
    '\n\n' +
    table(
      ['NODE', 'STATE', 'RUNNING', 'COMPLETED', 'FAILED', 'REQUEUED'],
      s.perNode.map((n) => [n.node, n.state, String(n.running), String(n.done), String(n.failed), String(n.requeued)]),
    )
  );
}

const field = (name: string, value: string | number | null | undefined) => `${`${name}:`.padEnd(16)}${value ?? '-'}`;

function taskLine(t: TaskView): string {
  const exit = t.exitCode === null ? '' : ` exit ${t.exitCode}`;
  const why = [t.message, t.error].filter(Boolean).join('; ');
  return `${t.id}  ${t.state} (desired ${t.desired ?? '-'})${exit}  run ${t.run ?? '-'}  ${t.at ?? '-'}${why ? `  ${why}` : ''}`;
}

/** `warren describe node <name>`: the node, its running turns and the recent runs placed on it, its tasks. */
export function formatNodeDetail(n: NodeDetail, runs: readonly RunView[]): string {
  const out = [
    field('Name', n.name),
    field('ID', n.id),
    field('State', n.message && n.role !== 'local' ? `${n.state} (${n.message})` : n.state),
    field('Availability', n.availability),
    field('Role', role(n) + (n.reachability ? `, ${n.reachability}` : '')),
    field('Address', n.address),
    field('Labels', formatLabels(n.labels)),
    field('Platform', n.platform),
    field('CPUs', n.cpus),
    field('Memory', n.memoryBytes === null ? null : `${Math.round(n.memoryBytes / 2 ** 20)} MiB`),
    field('Engine', n.engineVersion),
    field('Created', n.createdAt),
    field('Updated', n.updatedAt),
    ...(n.role === 'local' ? [n.message!] : []),
    '',
    `Running turns: ${n.running.length ? n.running.join(', ') : 'none'}`,
    '',
    runs.length ? `Runs placed here (newest first):\n${formatRuns(runs).trimEnd()}` : 'Runs placed here: none',
  ];
  if (n.role !== 'local') out.push('', n.tasks.length ? `Tasks:\n${n.tasks.map((t) => `  ${taskLine(t)}`).join('\n')}` : 'Tasks: none');
  return out.join('\n') + '\n';
}

function chunkLine(c: Chunk): string {
  const body = c.text ?? JSON.stringify(c.data ?? null);
  return `  ${String(c.seq).padStart(4)} ${c.time} ${c.kind.padEnd(6)} ${body}`;
}

/** `warren describe run <id>`: the run, where it ran (its task), and its output as the live-output store kept it. */
export function formatRunDetail(view: RunView, run: PlacedRun, task: TaskView | null, output: OutputPage | null): string {
  const out = [
    field('Run', run.id),
    field('Tenant', run.tenant),
    field('Topic', run.topic),
    field('State', run.status),
    field('Attempt', run.attempt),
    field('Node', view.node ?? (run.node === null ? 'not placed (local Docker backend)' : run.node)),
    field('Task', task ? taskLine(task) : run.task),
    field('Container', run.container),
    field('Started', `${run.started_at} (${formatAge(view.ageMs)} ago)`),
    field('Finished', run.finished_at),
    ...(run.error ? [field('Error', run.error)] : []),
    '',
  ];
  if (!output) out.push('Output: none recorded');
  else {
    const shown = output.chunks.length ? `${output.chunks[0]!.seq}-${output.chunks[output.chunks.length - 1]!.seq}` : 'none';
    out.push(`Output (chunks ${shown} of ${output.lastSeq}${output.ended ? `, ended: ${output.endStatus ?? '-'}` : ', still running'}):`);
    if (output.gap) out.push(`  (chunks ${output.gap.from}-${output.gap.to} were pruned)`);
    out.push(...output.chunks.map(chunkLine));
  }
  return out.join('\n') + '\n';
}
