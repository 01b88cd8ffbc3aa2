import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DistilleryError, errors } from '../base/errors';
import {
  METRICS_FILE,
  type BackendInfo,
  type InputRef,
  type MetricPoint,
  type MetricsFileLine,
  type StartRequest,
  type WorkerEvent,
} from './protocol';

/**
 * What an op may know and do besides its params (which it receives resolved and typed, see
 * op-registry.ts). Ops write files only below `taskDir`.
 */
export interface OpContext {
  readonly taskId: string;
  readonly nodeId: string;
  readonly taskDir: string;
  readonly seed: number;
  readonly inputs: Record<string, InputRef>;
  /** The inputs of many-link ports, each list in edge order (see `requireInputs`). */
  readonly inputLists: Record<string, InputRef[]>;
  readonly resumeFrom: string | undefined;
  readonly backend: BackendInfo;
  /** Aborted when the runner asks to cancel: finish the current step, checkpoint, then throw. */
  readonly signal: AbortSignal;
  /** Throws TASK_CANCELLED once the runner has asked the task to stop. */
  throwIfCancelled(): void;
  metric(name: string, value: number, at: { step: number; epoch?: number }): void;
  progress(done: number, total: number): void;
  checkpoint(path: string, step: number): void;
  sample(path: string, step: number): void;
  artifact(role: string, kind: 'dataset' | 'model', path: string, meta?: Record<string, unknown>): void;
  log(message: string, level?: 'info' | 'warn' | 'error'): void;
  /** Sends buffered metrics now (called before checkpoints, done and error). */
  flush(): void;
}

/** What an op returns: a small summary that ends up in the task record. */
export type OpSummary = Record<string, unknown>;

/** The input on `port`, or MISSING_INPUT / PORT_TYPE_MISMATCH naming the node and port. */
export function requireInput(ctx: OpContext, port: string, kind: InputRef['kind']): InputRef {
  const input = ctx.inputs[port];
  if (!input) {
    throw new DistilleryError('MISSING_INPUT', `Node "${ctx.nodeId}": input "${port}" is not connected`, {
      nodeId: ctx.nodeId,
      port,
      expected: `a ${kind}`,
      received: undefined,
    });
  }
  if (input.kind !== kind) {
    throw new DistilleryError(
      'PORT_TYPE_MISMATCH',
      `Node "${ctx.nodeId}": input "${port}" must be a ${kind}`,
      {
        nodeId: ctx.nodeId,
        port,
        expected: kind,
        received: input.kind,
      },
    );
  }
  return input;
}

/**
 * The inputs linked to the many-link port `port`, in edge order: MISSING_INPUT when fewer than
 * `min` are linked, PORT_TYPE_MISMATCH naming the position of one that is not a `kind`.
 */
export function requireInputs(ctx: OpContext, port: string, kind: InputRef['kind'], min: number): InputRef[] {
  const inputs = ctx.inputLists[port] ?? [];
  if (inputs.length < min) {
    throw new DistilleryError(
      'MISSING_INPUT',
      `Node "${ctx.nodeId}": input "${port}" needs at least ${min} links, it has ${inputs.length}`,
      { nodeId: ctx.nodeId, port, expected: `at least ${min} ${kind}s`, received: inputs.length },
    );
  }
  inputs.forEach((input, index) => {
    if (input.kind !== kind) {
      throw new DistilleryError(
        'PORT_TYPE_MISMATCH',
        `Node "${ctx.nodeId}": link ${index + 1} of input "${port}" must be a ${kind}`,
        { nodeId: ctx.nodeId, port, expected: kind, received: input.kind, index },
      );
    }
  });
  return inputs;
}

const FLUSH_INTERVAL_MS = 200;
const FLUSH_POINTS = 500;
const PROGRESS_INTERVAL_MS = 200;

/**
 * The worker-side OpContext. Metrics are appended to `metrics.jsonl` at once (so a crash loses
 * nothing) and sent to the runner in batches.
 */
export class WorkerOpContext implements OpContext {
  readonly taskId: string;
  readonly nodeId: string;
  readonly taskDir: string;
  readonly seed: number;
  readonly inputs: Record<string, InputRef>;
  readonly inputLists: Record<string, InputRef[]>;
  readonly resumeFrom: string | undefined;
  private readonly abort = new AbortController();
  private pending: MetricPoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  private progressBase: { done: number; time: number } | undefined;
  private lastProgressSent: number | undefined;
  /** metrics.jsonl, open for appending until `close()`. */
  private readonly metricsFile: number;
  /** How each metrics-file line ends: `MetricsFileLine.execution`, the time this execution started. */
  private readonly lineEnd: string;

  constructor(
    request: StartRequest,
    readonly backend: BackendInfo,
    private readonly send: (event: WorkerEvent) => void,
  ) {
    this.taskId = request.taskId;
    this.nodeId = request.nodeId;
    this.taskDir = request.taskDir;
    this.seed = request.seed;
    this.inputs = request.inputs;
    this.inputLists = request.inputLists ?? {};
    this.resumeFrom = request.resumeFrom;
    mkdirSync(this.taskDir, { recursive: true });
    this.metricsFile = openSync(join(this.taskDir, METRICS_FILE), 'a');
    const mark = { execution: this.startedAt } satisfies Pick<MetricsFileLine, 'execution'>;
    // `{"execution":…}` less its opening brace: `,"execution":…}` and the newline.
    this.lineEnd = `,${JSON.stringify(mark).slice(1)}\n`;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  cancel(): void {
    this.abort.abort();
  }

  throwIfCancelled(): void {
    if (this.abort.signal.aborted) throw errors.cancelled(this.taskId);
  }

  metric(name: string, value: number, at: { step: number; epoch?: number }): void {
    const point: MetricPoint = { step: at.step, name, value, time: Date.now() };
    if (at.epoch !== undefined) point.epoch = at.epoch;
    // Written through at once (no buffering in this process), so a crash loses nothing sent. The
    // line is the point plus this execution's mark (a MetricsFileLine), spliced in before the
    // closing brace: copying the point into a new object to add it doubles this call's cost.
    writeSync(this.metricsFile, JSON.stringify(point).slice(0, -1) + this.lineEnd);
    this.pending.push(point);
    if (this.pending.length >= FLUSH_POINTS) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), FLUSH_INTERVAL_MS);
      this.timer.unref();
    }
  }

  progress(done: number, total: number): void {
    const now = Date.now();
    // ETA from the rate since the first progress report of this attempt (a resumed task starts
    // mid-way, so the rate must not count work done by the earlier attempt).
    if (!this.progressBase) this.progressBase = { done, time: now };
    // Ops report every step (hundreds per second for small models); the runner, the store and every
    // client need a few updates a second, plus the first and the last.
    const first = this.lastProgressSent === undefined;
    if (!first && done < total && now - this.lastProgressSent! < PROGRESS_INTERVAL_MS) return;
    this.lastProgressSent = now;
    const doneHere = done - this.progressBase.done;
    const elapsed = (now - this.progressBase.time) / 1000;
    const etaSeconds = doneHere > 0 && elapsed > 0 ? ((total - done) * elapsed) / doneHere : null;
    this.send({ type: 'progress', taskId: this.taskId, done, total, etaSeconds });
  }

  checkpoint(path: string, step: number): void {
    this.flush();
    this.send({ type: 'checkpoint', taskId: this.taskId, path, step });
  }

  sample(path: string, step: number): void {
    this.send({ type: 'sample', taskId: this.taskId, path, step });
  }

  artifact(role: string, kind: 'dataset' | 'model', path: string, meta: Record<string, unknown> = {}): void {
    this.send({ type: 'artifact', taskId: this.taskId, role, kind, path, meta });
  }

  log(message: string, level: 'info' | 'warn' | 'error' = 'info'): void {
    this.send({ type: 'log', taskId: this.taskId, level, message, time: Date.now() });
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0) return;
    const points = this.pending;
    this.pending = [];
    this.send({ type: 'metrics', taskId: this.taskId, points });
  }

  get elapsedSeconds(): number {
    return (Date.now() - this.startedAt) / 1000;
  }

  /** Sends what is buffered and closes the metrics file: a warm worker goes on to other tasks. */
  close(): void {
    this.flush();
    closeSync(this.metricsFile);
  }
}
