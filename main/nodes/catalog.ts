import { DistilleryError } from '../base/errors';
import type { NodeSpecInfo } from '../../preload/contract';
import type { NodeSpec } from './define';

/** The node types a pipeline may use. Registering a type id twice is a programming error. */
export class NodeCatalog {
  private readonly specs = new Map<string, NodeSpec>();

  constructor(specs: readonly NodeSpec[] = []) {
    for (const spec of specs) this.register(spec);
  }

  register(spec: NodeSpec): void {
    if (this.specs.has(spec.type)) {
      throw new DistilleryError('DUPLICATE_NODE_TYPE', `Node type "${spec.type}" is registered twice`, {
        received: spec.type,
      });
    }
    this.specs.set(spec.type, spec);
  }

  get(type: string): NodeSpec | undefined {
    return this.specs.get(type);
  }

  has(type: string): boolean {
    return this.specs.has(type);
  }

  get types(): string[] {
    return [...this.specs.keys()];
  }

  /** The specs as plain data (no functions), for the palette and inspector. */
  list(): NodeSpecInfo[] {
    return [...this.specs.values()].map(
      ({ type, version, title, category, help, inputs, outputs, params, effects, metrics }): NodeSpecInfo =>
        structuredClone({
          type,
          version,
          title,
          category,
          help,
          inputs,
          outputs,
          params,
          ...(effects ? { effects: { external: [...effects.external] } } : {}),
          ...(metrics && metrics.length > 0 ? { metrics: [...metrics] } : {}),
        }),
    );
  }
}
