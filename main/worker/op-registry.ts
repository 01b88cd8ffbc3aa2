/**
 * Node type → op. An op is registered against its node spec (main/nodes), not a name of its own, so
 * the two cannot disagree, and it receives the params that `resolveParams` (main/pipeline/params.ts)
 * resolved for the spec: defaults applied, ranges and cross-field rules checked, typed by the spec.
 * The worker does not check them again. Every op runs inside one wrapper that puts the node on its
 * errors; a second op for the same node type is refused loudly.
 */
import { DistilleryError } from '../base/errors';
import type { NodeSpec, ParamSpecs, ParamValues } from '../nodes/define';
import type { OpContext, OpSummary } from './context';

/** An op's body: the task's context and the node's resolved params. */
export type OpFunction<P extends ParamSpecs> = (ctx: OpContext, params: ParamValues<P>) => Promise<OpSummary>;

export interface RegisteredOp {
  readonly spec: NodeSpec;
  /** Runs the op on params the runner resolved against `spec` (StartRequest.params). */
  run(ctx: OpContext, params: Record<string, unknown>): Promise<OpSummary>;
}

const OPS = new Map<string, RegisteredOp>();

/**
 * Puts the node on an error raised by code that does not know it (builders, exporters, file
 * readers). Cancellation is not the node's fault and errors that already name a node keep it.
 */
export function nodeError(nodeId: string, error: unknown): unknown {
  if (!(error instanceof DistilleryError)) return error;
  if (error.code === 'TASK_CANCELLED' || error.details.nodeId !== undefined) return error;
  return new DistilleryError(
    error.code,
    `Node "${nodeId}": ${error.message}`,
    { nodeId, ...error.details },
    { cause: error },
  );
}

/** Registers the op of `spec`'s node type. */
export function registerOp<P extends ParamSpecs>(spec: NodeSpec<P>, op: OpFunction<P>): void {
  if (OPS.has(spec.type)) {
    throw new DistilleryError('UNKNOWN_OP', `An op for node type "${spec.type}" is registered twice`, {
      received: spec.type,
    });
  }
  OPS.set(spec.type, {
    spec,
    run: async (ctx, params) => {
      const missing = Object.keys(spec.params).filter((name) => !Object.hasOwn(params, name));
      if (missing.length > 0) {
        // The runner sends what resolveParams returned; anything else is a protocol error.
        throw new DistilleryError(
          'WORKER_PROTOCOL',
          `Node "${ctx.nodeId}": the start request lacks the resolved params ${missing.join(', ')}`,
          {
            nodeId: ctx.nodeId,
            expected: Object.keys(spec.params).join(', '),
            received: Object.keys(params),
          },
        );
      }
      try {
        ctx.throwIfCancelled();
        return await op(ctx, params as ParamValues<P>);
      } catch (error) {
        throw nodeError(ctx.nodeId, error);
      }
    },
  });
}

/** The op of a node type, or UNKNOWN_OP listing the types the worker knows. */
export function getOp(nodeType: string): RegisteredOp {
  const op = OPS.get(nodeType);
  if (!op) {
    throw new DistilleryError('UNKNOWN_OP', `The worker has no op for node type "${nodeType}"`, {
      expected: [...OPS.keys()].join(', '),
      received: nodeType,
    });
  }
  return op;
}

/** Node types that have an op, in registration order. */
export function registeredNodeTypes(): string[] {
  return [...OPS.keys()];
}
