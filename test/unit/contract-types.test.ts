/**
 * Type-level tests of the contract: they fail `tsc -b` (not the test run: `expectTypeOf` is a
 * no-op at run time) when a concept that crosses a process boundary is declared twice again, or
 * when a request schema drifts from its method's params in RequestMap.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import type {
  Answer,
  ArtifactRef,
  BackendInfo,
  ErrorInfo,
  EventMap,
  MetricPointInfo,
  RequestMap,
  RequestParams,
  RunInfo,
  SchemaDrift,
  TaskCheckpoint,
  TaskInfo,
  TaskProgress,
  TaskSample,
} from '../../preload/contract';
import type { DistilleryBridge } from '../../preload/bridge';
import type { Handlers } from '../../main/api/handlers';
import type { ErrorCode, SerializedError } from '../../main/base/errors';
import type { Runner } from '../../main/jobs/runner';
import type { TaskEventSink } from '../../main/jobs/task-events';
import type { RunRecord, TaskRecord } from '../../main/registry/run-records';
import type {
  BackendInfo as WorkerBackendInfo,
  BackendName,
  InputRef,
  MetricPoint,
  StartRequest,
  WorkerEvent,
} from '../../main/worker/protocol';

type EventOf<T extends WorkerEvent['type']> = Omit<Extract<WorkerEvent, { type: T }>, 'type'>;
type FailedAnswer = Extract<Answer<unknown>, { ok: false }>;

describe('one type per concept across the process boundary', () => {
  it('shares the error shape between answers, task and run records, and main', () => {
    expectTypeOf<FailedAnswer['error']>().toEqualTypeOf<ErrorInfo>();
    expectTypeOf<NonNullable<TaskInfo['error']>>().toEqualTypeOf<ErrorInfo>();
    expectTypeOf<NonNullable<RunInfo['error']>>().toEqualTypeOf<ErrorInfo>();
    expectTypeOf<NonNullable<RunRecord['error']>>().toEqualTypeOf<ErrorInfo>();
    expectTypeOf<NonNullable<TaskRecord['error']>>().toEqualTypeOf<ErrorInfo>();
    expectTypeOf<SerializedError>().toEqualTypeOf<ErrorInfo<ErrorCode>>();
    expectTypeOf<EventOf<'error'>['error']>().toEqualTypeOf<SerializedError>();
  });

  it('shares metric points, backends and artifact references with the worker protocol', () => {
    expectTypeOf<MetricPoint>().toEqualTypeOf<MetricPointInfo>();
    expectTypeOf<EventOf<'metrics'>['points']>().toEqualTypeOf<MetricPointInfo[]>();
    expectTypeOf<WorkerBackendInfo>().toEqualTypeOf<BackendInfo<BackendName>>();
    expectTypeOf<NonNullable<TaskInfo['backend']>>().toEqualTypeOf<BackendInfo>();
    expectTypeOf<InputRef>().toEqualTypeOf<ArtifactRef>();
    expectTypeOf<StartRequest['inputs']>().toEqualTypeOf<Record<string, ArtifactRef>>();
    expectTypeOf<TaskRecord['outputs']>().toEqualTypeOf<Record<string, ArtifactRef>>();
  });

  it('shares the sample, progress and checkpoint payloads', () => {
    expectTypeOf<EventMap['task.sample']>().toEqualTypeOf<TaskSample>();
    expectTypeOf<Parameters<Parameters<Runner['onDidSample']>[0]>[0]>().toEqualTypeOf<TaskSample>();
    expectTypeOf<Parameters<TaskEventSink['sample']>[0]>().toEqualTypeOf<TaskSample>();
    expectTypeOf<EventOf<'sample'>>().toEqualTypeOf<Omit<TaskSample, 'runId'>>();
    expectTypeOf<Omit<EventOf<'progress'>, 'taskId'>>().toEqualTypeOf<TaskProgress>();
    expectTypeOf<Omit<EventOf<'checkpoint'>, 'taskId'>>().toEqualTypeOf<TaskCheckpoint>();
    expectTypeOf<NonNullable<TaskInfo['progress']>>().toEqualTypeOf<TaskProgress>();
    expectTypeOf<NonNullable<TaskInfo['checkpoint']>>().toEqualTypeOf<TaskCheckpoint>();
  });

  it('types every transport by the same params and results', () => {
    expectTypeOf<Parameters<Handlers['runs.metrics']>[0]>().toEqualTypeOf<RequestParams<'runs.metrics'>>();
    expectTypeOf<Parameters<DistilleryBridge['models.tag']>[0]>().toEqualTypeOf<
      RequestParams<'models.tag'>
    >();
  });
});

describe('request schemas tied to RequestMap', () => {
  it('has no drift in the contract itself', () => {
    expectTypeOf<SchemaDrift>().toBeNever();
  });

  // Made-up maps and schemas: the check must name every way they can part.
  type Map = {
    'a.get': (params: { id: string }) => Promise<void>;
    'a.list': (params: { limit?: number }) => Promise<void>;
  };

  type Get = z.ZodObject<{ id: z.ZodString }, 'strict'>;
  type List = z.ZodObject<{ limit: z.ZodOptional<z.ZodNumber> }, 'strict'>;

  it('accepts schemas that infer exactly the params', () => {
    expectTypeOf<SchemaDrift<Map, { 'a.get': Get; 'a.list': List }>>().toBeNever();
  });

  it('names a method whose schema lacks an optional param (assignable both ways, still drift)', () => {
    type ListWithoutLimit = z.ZodObject<Omit<List['shape'], 'limit'>, 'strict'>;
    expectTypeOf<SchemaDrift<Map, { 'a.get': Get; 'a.list': ListWithoutLimit }>>().toEqualTypeOf<'a.list'>();
  });

  it('names a method whose schema has another param type, or is missing, or has no method', () => {
    type GetByNumber = z.ZodObject<{ id: z.ZodNumber }, 'strict'>;
    expectTypeOf<SchemaDrift<Map, { 'a.get': GetByNumber; 'a.list': List }>>().toEqualTypeOf<'a.get'>();
    expectTypeOf<SchemaDrift<Map, { 'a.get': Get }>>().toEqualTypeOf<'a.list'>();
    expectTypeOf<
      SchemaDrift<Map, { 'a.get': Get; 'a.list': List; 'a.gone': Get }>
    >().toEqualTypeOf<'a.gone'>();
  });

  it('reads an optional param as optional on both sides', () => {
    expectTypeOf<RequestParams<'runs.list'>>().toEqualTypeOf<{ limit?: number }>();
    expectTypeOf<RequestMap['catalog.list']>().parameter(0).toEqualTypeOf<Record<string, never>>();
  });
});
