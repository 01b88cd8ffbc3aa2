/**
 * One task's attempt, from the runner's queue to its settling: reuse by fingerprint, the task
 * folder, the start request, the executor's events, and the outcome the task settles with.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ArtifactRef, ErrorInfo, LogLine, TaskStatus } from '../../preload/contract';
import { DistilleryError, serializeError } from '../base/errors';
import { onUnexpectedError } from '../base/unexpected-error';
import { EXPORTS_FOLDER, withExportFolders } from '../export/out-dir';
import type { NodeCatalog } from '../nodes/catalog';
import { PROTOCOL_VERSION, type StartRequest } from '../worker/protocol';
import type { ExecutorSet } from './executors/executor-set';
import type { Execution, ExecutionPlacement, Executor } from './executors/types';
import { externalEffectsChanged, externalPaths, recordExternalEffects } from './external-effects';
import type { RunFolders } from './run-folder';
import { now, SETTLED, type ActiveRun, type ActiveTask, type TaskOutcome } from './run-state';
import type { RunStorePort } from './run-store-port';
import { toBackendSummary, type TaskEventRecorder } from './task-events';
import type { ReadyEvent } from './worker-process';

/** What a task's attempt needs of the runner: its records, folders, executors, and how tasks settle. */
export interface TaskExecutionHost {
  store: RunStorePort;
  folders: RunFolders;
  recorder: TaskEventRecorder;
  executors: ExecutorSet;
  catalog: NodeCatalog;
  /** Root of run folders (`<data dir>/runs`). */
  runsDir: string;
  /** Aborted when the runner is disposed. */
  signal: AbortSignal;
  settleTask(
    run: ActiveRun,
    task: ActiveTask,
    status: TaskStatus,
    result: { error?: ErrorInfo | undefined; summary?: Record<string, unknown> | undefined },
  ): void;
  settleTaskSafely(
    run: ActiveRun,
    task: ActiveTask,
    status: TaskStatus,
    result: { error?: ErrorInfo | undefined },
  ): void;
  emitTask(taskId: string): void;
  log(run: ActiveRun, task: ActiveTask, level: LogLine['level'], message: string): void;
}

/** Runs the runner's tasks, one attempt at a time, and settles each through its host. */
export class TaskExecution {
  private readonly store: RunStorePort;
  private readonly folders: RunFolders;
  private readonly recorder: TaskEventRecorder;
  private readonly executors: ExecutorSet;

  constructor(private readonly host: TaskExecutionHost) {
    this.store = host.store;
    this.folders = host.folders;
    this.recorder = host.recorder;
    this.executors = host.executors;
  }

  /**
   * Runs one task to its end. Whatever goes wrong on the way (a folder it cannot write, a record it
   * cannot store, a model it cannot register) fails this task with a coded error naming its node;
   * nothing escapes to the queue, which would drop it and leave the task running for ever.
   */
  async execute(run: ActiveRun, task: ActiveTask): Promise<void> {
    try {
      await this.executeAttempt(run, task);
    } catch (error) {
      task.execution?.dispose();
      task.execution = undefined;
      // A disposed runner has closed its store and has nobody left to tell.
      if (this.host.signal.aborted) return;
      if (!SETTLED.has(task.status))
        this.host.settleTaskSafely(run, task, 'failed', { error: taskError(task, error) });
      else onUnexpectedError(error);
    }
  }

  private async executeAttempt(run: ActiveRun, task: ActiveTask): Promise<void> {
    if (run.cancelRequested) {
      this.host.settleTask(run, task, 'cancelled', {});
      return;
    }
    const inputs = this.inputsOf(run, task);
    const external = this.externalPathsOf(task);
    if (!run.force && !run.forced.has(task.planned.nodeId) && task.attempt === 0 && !task.resumeFrom) {
      const reusable = this.store.findReusableTask(task.planned.fingerprint);
      if (reusable && Object.values(reusable.outputs).every((output) => existsSync(output.path))) {
        // A task whose effect lies outside the run folder is reused only while what it wrote
        // there is still what it wrote: another run may have overwritten its export folder.
        const changed = external ? await externalEffectsChanged(reusable.effects, external) : null;
        if (changed === null) {
          task.outputs = reusable.outputs;
          this.store.updateTask(task.id, {
            inputs,
            outputs: reusable.outputs,
            reusedFrom: reusable.id,
            summary: reusable.summary,
            figures: reusable.figures,
            effects: reusable.effects,
            startedAt: now(),
          });
          this.host.settleTask(run, task, 'reused', {});
          return;
        }
        this.host.log(run, task, 'info', `Not reusing task ${reusable.id}: ${changed}; running it again`);
      }
    }
    const taskDir = this.folders.prepareTaskDir(run.id, task.planned.nodeId, {
      nodeId: task.planned.nodeId,
      taskId: task.id,
    });
    task.taskDir = taskDir;
    task.attempt += 1;
    task.status = 'running';
    this.store.updateTask(task.id, {
      status: 'running',
      attempt: task.attempt,
      inputs,
      startedAt: now(),
      error: null,
      progress: null,
      executor: run.executor,
      jobId: null,
      nodeName: null,
      warm: null,
      executorState: null,
    });
    this.host.emitTask(task.id);

    let executor: Executor;
    let resources: ReturnType<ExecutorSet['resources']> | undefined;
    try {
      executor = this.executors.get(run.executor);
      if (run.executor === 'slurm') resources = this.executors.resources(task.planned.nodeId, run.doc);
    } catch (error) {
      this.host.settleTask(run, task, 'failed', { error: taskError(task, error) });
      return;
    }
    const inputLists = this.inputListsOf(run, task);
    const request: StartRequest = {
      type: 'start',
      protocol: PROTOCOL_VERSION,
      taskId: task.id,
      nodeType: task.planned.type,
      nodeId: task.planned.nodeId,
      params: this.paramsOf(task),
      inputs,
      ...(Object.keys(inputLists).length > 0 ? { inputLists } : {}),
      taskDir,
      seed: task.planned.seed,
      ...(task.resumeFrom ? { resumeFrom: task.resumeFrom } : {}),
    };
    let outcome: TaskOutcome | undefined;
    let ready: ReadyEvent | undefined;
    let execution: Execution | undefined;
    try {
      execution = await executor.submit({
        runId: run.id,
        request,
        ...(resources ? { resources } : {}),
        // Cancelling the run stops a worker that is still loading its backend at once.
        signal: AbortSignal.any([this.host.signal, run.cancellation.signal]),
        onEvent: (event) => {
          if (event.type === 'ready') {
            // A new execution (the first, or a requeued job's next): what an earlier one said is void.
            ready = event;
            outcome = undefined;
            this.recordReady(run, task, event);
            return;
          }
          if (!ready) return;
          try {
            const result = this.recorder.handle(run, task, { ready }, event);
            if (result) outcome = result;
          } catch (error) {
            outcome = { status: 'failed', error: taskError(task, error) };
            void execution?.kill();
          }
        },
        onPlacement: (placement) => this.recordPlacement(task, placement),
        onLog: (level, message) => this.host.log(run, task, level, message),
      });
    } catch (error) {
      // A worker stopped before its `ready` because the run was cancelled (Ctrl+C, `cancel`) did
      // not fail: the task is cancelled and resumes like any other.
      if (run.cancelRequested) {
        this.host.settleTask(run, task, 'cancelled', {
          error: {
            code: 'TASK_CANCELLED',
            message: `Node "${task.planned.nodeId}": cancelled before its worker was ready`,
            details: { nodeId: task.planned.nodeId, taskId: task.id },
          },
        });
      } else this.host.settleTask(run, task, 'failed', { error: taskError(task, error) });
      return;
    }
    task.execution = execution;
    if (run.cancelRequested) {
      await execution.kill();
      await execution.finished;
      execution.dispose();
      task.execution = undefined;
      this.host.settleTask(run, task, 'cancelled', {});
      return;
    }
    const end = await execution.finished;
    execution.dispose();
    task.execution = undefined;
    // The executor knows better than the worker when SLURM ended the job (killed, out of time,
    // cancelled outside Distillery, never started); a task that reported done is done.
    if (end.failure && outcome?.status !== 'done') outcome = { status: 'failed', error: end.failure };
    if (!outcome) outcome = this.recorder.crashOutcome(run, task, end.exit);
    // Registrations catch their own errors (into task.failure), so this never rejects.
    await Promise.all(task.pending);
    task.pending = [];
    if (task.failure && outcome.status === 'done') outcome = { status: 'failed', error: task.failure };
    if (outcome.status === 'done' && external) {
      try {
        this.store.updateTask(task.id, { effects: await recordExternalEffects(external) });
      } catch (error) {
        // Unrecorded, the task is simply never reused; its outcome stands.
        onUnexpectedError(error);
      }
    }
    this.host.settleTask(run, task, outcome.status, { error: outcome.error, summary: outcome.summary });
  }

  /** The external paths of a task whose node type declares external effects; undefined otherwise. */
  private externalPathsOf(task: ActiveTask): string[] | undefined {
    const names = this.host.catalog.get(task.planned.type)?.effects?.external;
    return names ? externalPaths(names, this.paramsOf(task)) : undefined;
  }

  /**
   * The params the worker gets: a relative external path (an export's `outDir`) names a folder
   * below `<data dir>/exports` (runsDir is `<data dir>/runs`). The fingerprint keeps the path as
   * written, which names the same folder in every run of one data directory.
   */
  private paramsOf(task: ActiveTask): Record<string, unknown> {
    const names = this.host.catalog.get(task.planned.type)?.effects?.external;
    const exportsRoot = join(dirname(this.host.runsDir), EXPORTS_FOLDER);
    return names ? withExportFolders(task.planned.params, names, exportsRoot) : task.planned.params;
  }

  /** A worker said ready: the backend it got is the task's (and the run's, if it has none yet). */
  private recordReady(run: ActiveRun, task: ActiveTask, ready: ReadyEvent): void {
    const backend = toBackendSummary(ready);
    this.store.updateTask(task.id, { backend });
    const runInfo = this.store.getRun(run.id);
    if (runInfo && !runInfo.backend) this.store.updateRun(run.id, { backend, versions: ready.versions });
  }

  /** Where the task runs and how its execution stands, as its record shows it. */
  private recordPlacement(task: ActiveTask, placement: ExecutionPlacement): void {
    // A runner being disposed stops its executions; there is nobody left to tell.
    if (this.host.signal.aborted) return;
    try {
      this.store.updateTask(task.id, {
        executor: placement.executor,
        jobId: placement.jobId,
        nodeName: placement.nodeName,
        warm: placement.warm,
        executorState: placement.state,
      });
      this.host.emitTask(task.id);
    } catch (error) {
      // Where a task runs is shown, not relied on: a record that cannot be written does not fail it.
      onUnexpectedError(error);
    }
  }

  /** The inputs of the task's many-link ports, each list in edge order. */
  private inputListsOf(run: ActiveRun, task: ActiveTask): Record<string, ArtifactRef[]> {
    const lists: Record<string, ArtifactRef[]> = {};
    for (const [port, links] of Object.entries(task.planned.inputLists)) {
      lists[port] = links.map((from) => this.inputRef(run, from));
    }
    return lists;
  }

  private inputRef(run: ActiveRun, from: { nodeId: string; port: string }): ArtifactRef {
    const output = run.tasks.get(from.nodeId)!.outputs[from.port];
    if (!output) {
      throw new DistilleryError(
        'TASK_FAILED',
        `Node "${from.nodeId}" finished without producing "${from.port}"`,
        { nodeId: from.nodeId, port: from.port },
      );
    }
    return {
      kind: output.kind,
      path: output.path,
      meta: { ...output.meta, ...(output.versionId ? { versionId: output.versionId } : {}) },
    };
  }

  private inputsOf(run: ActiveRun, task: ActiveTask): Record<string, ArtifactRef> {
    const inputs: Record<string, ArtifactRef> = {};
    for (const [port, from] of Object.entries(task.planned.inputs)) inputs[port] = this.inputRef(run, from);
    return inputs;
  }
}

/** A runner-side failure of a task as its record keeps it: coded, naming the task and its node. */
function taskError(task: ActiveTask, error: unknown): ErrorInfo {
  const cause = serializeError(error);
  const prefix = `Node "${task.planned.nodeId}"`;
  return {
    code: cause.code,
    message: cause.message.startsWith(prefix) ? cause.message : `${prefix}: ${cause.message}`,
    details: { ...cause.details, nodeId: task.planned.nodeId, taskId: task.id },
  };
}
