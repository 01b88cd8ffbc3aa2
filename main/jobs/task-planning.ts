/**
 * The tasks of a run being started: their records, and which of them run again whatever finished
 * result they have.
 */
import { DistilleryError } from '../base/errors';
import type { PlannedTask } from '../pipeline/plan';
import type { RunFolders } from './run-folder';
import type { ActiveTask } from './run-state';
import type { RunStorePort } from './run-store-port';

/** Records the run's planned tasks as queued; their active state, by node id. */
export function createRunTasks(
  store: RunStorePort,
  folders: RunFolders,
  runId: string,
  planned: readonly PlannedTask[],
): Map<string, ActiveTask> {
  const tasks = new Map<string, ActiveTask>();
  for (const task of planned) {
    const id = `${runId}-${task.nodeId}`;
    store.createTask({
      id,
      runId,
      nodeId: task.nodeId,
      nodeType: task.type,
      nodeVersion: task.version,
      // Every node type's op is keyed by the type itself (worker/ops/index.ts).
      op: task.type,
      fingerprint: task.fingerprint,
      params: task.params,
      taskDir: folders.taskDir(runId, task.nodeId),
    });
    tasks.set(task.nodeId, {
      id,
      planned: task,
      status: 'queued',
      outputs: {},
      attempt: 0,
      enqueued: false,
      latestMetrics: {},
      pending: [],
    });
  }
  return tasks;
}

/**
 * The nodes `forceNodes` names and every node downstream of them. An unknown node id is refused
 * with UNKNOWN_NODE, naming it.
 */
export function forcedNodes(
  planned: ReadonlyArray<{ nodeId: string; dependsOn: readonly string[] }>,
  forceNodes: readonly string[],
): Set<string> {
  const known = new Set(planned.map((task) => task.nodeId));
  for (const nodeId of forceNodes) {
    if (!known.has(nodeId)) {
      throw new DistilleryError(
        'UNKNOWN_NODE',
        `forceNodes names node "${nodeId}", which the pipeline lacks or does not run (a bypassed node)`,
        {
          nodeId,
          param: 'forceNodes',
          expected: [...known].join(', '),
          received: nodeId,
        },
      );
    }
  }
  const forced = new Set(forceNodes);
  // Plan order is a topological order: a node's upstream nodes come before it.
  for (const task of planned)
    if (task.dependsOn.some((nodeId) => forced.has(nodeId))) forced.add(task.nodeId);
  return forced;
}

/**
 * How many tasks can run side by side: the most tasks at one depth of the graph, which is what
 * warm workers are started ahead for.
 */
export function parallelWidth(tasks: ReadonlyMap<string, ActiveTask>): number {
  const depth = new Map<string, number>();
  const perDepth = new Map<number, number>();
  // Plan order is a topological order.
  for (const [nodeId, task] of tasks) {
    const level = Math.max(-1, ...task.planned.dependsOn.map((upstream) => depth.get(upstream) ?? -1)) + 1;
    depth.set(nodeId, level);
    if (task.status === 'queued') perDepth.set(level, (perDepth.get(level) ?? 0) + 1);
  }
  return Math.max(0, ...perDepth.values());
}
