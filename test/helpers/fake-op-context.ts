/**
 * An in-memory OpContext for running ops directly in tests: it records everything the op reports
 * (artifacts, logs, metrics, progress, checkpoints, samples) instead of sending it to a runner. Its
 * `params` are the node's params as a pipeline file would write them; test/helpers/ops.ts resolves
 * them against the node spec, as the runner does, before the op sees them.
 */
import { errors } from '../../main/base/errors';
import type { OpContext } from '../../main/worker/context';
import type { BackendInfo, InputRef } from '../../main/worker/protocol';

export interface RecordedArtifact {
  role: string;
  kind: 'dataset' | 'model';
  path: string;
  meta: Record<string, unknown>;
}

export interface RecordedMetric {
  name: string;
  value: number;
  step: number;
  epoch?: number;
}

export interface FakeOpContextInit {
  taskDir: string;
  params?: Record<string, unknown>;
  seed?: number;
  nodeId?: string;
  taskId?: string;
  inputs?: Record<string, InputRef>;
  /** Inputs of many-link ports, in edge order (what the runner sends as `inputLists`). */
  inputLists?: Record<string, InputRef[]>;
  resumeFrom?: string;
  backend?: BackendInfo;
}

export class FakeOpContext implements OpContext {
  readonly taskId: string;
  readonly nodeId: string;
  readonly taskDir: string;
  readonly seed: number;
  /** The params as written in a pipeline file (not resolved). */
  readonly params: Record<string, unknown>;
  readonly inputs: Record<string, InputRef>;
  readonly inputLists: Record<string, InputRef[]>;
  readonly resumeFrom: string | undefined;
  readonly backend: BackendInfo;

  readonly artifacts: RecordedArtifact[] = [];
  readonly logs: Array<{ message: string; level: 'info' | 'warn' | 'error' }> = [];
  readonly metrics: RecordedMetric[] = [];
  readonly progressReports: Array<{ done: number; total: number }> = [];
  readonly checkpoints: Array<{ path: string; step: number }> = [];
  readonly samples: Array<{ path: string; step: number }> = [];
  flushes = 0;

  private readonly abort = new AbortController();

  constructor(init: FakeOpContextInit) {
    this.taskDir = init.taskDir;
    this.params = init.params ?? {};
    this.seed = init.seed ?? 1;
    this.nodeId = init.nodeId ?? 'node-1';
    this.taskId = init.taskId ?? 'task-1';
    this.inputs = init.inputs ?? {};
    this.inputLists = init.inputLists ?? {};
    this.resumeFrom = init.resumeFrom;
    this.backend = init.backend ?? { name: 'cpu', package: '@tensorflow/tfjs', skipped: [], features: {} };
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Simulates the runner asking the task to stop. */
  cancel(): void {
    this.abort.abort();
  }

  throwIfCancelled(): void {
    if (this.abort.signal.aborted) throw errors.cancelled(this.taskId);
  }

  metric(name: string, value: number, at: { step: number; epoch?: number }): void {
    const point: RecordedMetric = { name, value, step: at.step };
    if (at.epoch !== undefined) point.epoch = at.epoch;
    this.metrics.push(point);
  }

  progress(done: number, total: number): void {
    this.progressReports.push({ done, total });
  }

  checkpoint(path: string, step: number): void {
    this.checkpoints.push({ path, step });
  }

  sample(path: string, step: number): void {
    this.samples.push({ path, step });
  }

  artifact(role: string, kind: 'dataset' | 'model', path: string, meta: Record<string, unknown> = {}): void {
    this.artifacts.push({ role, kind, path, meta });
  }

  log(message: string, level: 'info' | 'warn' | 'error' = 'info'): void {
    this.logs.push({ message, level });
  }

  flush(): void {
    this.flushes += 1;
  }
}
