/**
 * Reads the diffusion ops' params with defaults for anything missing (the node specs apply defaults
 * upstream; this keeps the ops safe when called directly) and reports every invalid value at once,
 * each naming the node and the param.
 */
import { DistilleryError, errors } from '../../base/errors';

export class ParamReader {
  private readonly issues: DistilleryError[] = [];

  constructor(
    private readonly raw: Record<string, unknown>,
    private readonly nodeId: string,
  ) {}

  number(
    name: string,
    fallback: number,
    range: { min?: number; max?: number; above?: number; integer?: boolean } = {},
  ): number {
    const value = this.raw[name];
    if (value === undefined || value === null) return fallback;
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (!range.integer || Number.isInteger(value)) &&
      (range.min === undefined || value >= range.min) &&
      (range.max === undefined || value <= range.max) &&
      (range.above === undefined || value > range.above);
    if (ok) return value;
    const parts = [range.integer ? 'an integer' : 'a number'];
    if (range.above !== undefined) parts.push(`> ${range.above}`);
    if (range.min !== undefined) parts.push(`≥ ${range.min}`);
    if (range.max !== undefined) parts.push(`≤ ${range.max}`);
    this.issues.push(errors.paramOutOfRange(this.nodeId, name, parts.join(' '), value));
    return fallback;
  }

  integer(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    return this.number(name, fallback, { ...range, integer: true });
  }

  choice<const T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const value = this.raw[name];
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T;
    this.issues.push(errors.paramInvalid(this.nodeId, name, `one of ${choices.join(', ')}`, value));
    return fallback;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.raw[name];
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'boolean') return value;
    this.issues.push(errors.paramType(this.nodeId, name, 'true or false', value));
    return fallback;
  }

  integers(name: string, fallback: number[], range: { min?: number; max?: number } = {}): number[] {
    const value = this.raw[name];
    if (value === undefined || value === null) return [...fallback];
    if (
      Array.isArray(value) &&
      value.every(
        (v) =>
          Number.isInteger(v) &&
          (range.min === undefined || (v as number) >= range.min) &&
          (range.max === undefined || (v as number) <= range.max),
      )
    ) {
      return [...(value as number[])];
    }
    const bounds =
      range.min !== undefined && range.max !== undefined ? ` between ${range.min} and ${range.max}` : '';
    this.issues.push(errors.paramInvalid(this.nodeId, name, `a list of integers${bounds}`, value));
    return [...fallback];
  }

  strings(name: string, fallback: string[], choices: readonly string[]): string[] {
    const value = this.raw[name];
    if (value === undefined || value === null) return [...fallback];
    if (Array.isArray(value) && value.every((v) => typeof v === 'string' && choices.includes(v)))
      return [...(value as string[])];
    this.issues.push(errors.paramInvalid(this.nodeId, name, `a list of ${choices.join(', ')}`, value));
    return [...fallback];
  }

  /** Throws every issue found so far (one error, or PARAM_INVALID listing all). */
  done(): void {
    if (this.issues.length === 1) throw this.issues[0]!;
    if (this.issues.length > 1) {
      throw new DistilleryError('PARAM_INVALID', this.issues.map((issue) => issue.message).join('; '), {
        nodeId: this.nodeId,
        issues: this.issues.map((issue) => issue.details),
      });
    }
  }
}
