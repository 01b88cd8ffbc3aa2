/**
 * A pipeline's `executor` block and the SLURM resources it asks for: their shape and the form of
 * each field (the same rules check the data directory's `executors.json`), and how defaults, the
 * block and its per-node entries combine into one task's resources. Whether a partition or an
 * account exists is the cluster's to say, at submission.
 */
import type {
  ExecutorBlock,
  ExecutorName,
  SlurmResourcesInfo,
  ValidationIssue,
} from '../../preload/contract';
import { pointerSegment, preview } from './preview';

/** The executors a block may name. */
export const EXECUTOR_TYPES: readonly ExecutorName[] = ['local', 'slurm'];

/** The fields of SLURM resources, as a block, a `nodes` entry and `executors.json` write them. */
export const SLURM_RESOURCE_FIELDS = [
  'partition',
  'account',
  'cpusPerTask',
  'memory',
  'time',
  'gpus',
  'extraFlags',
] as const;

const BLOCK_FIELDS: readonly string[] = ['type', ...SLURM_RESOURCE_FIELDS, 'nodes'];

/** sbatch flags the executor sets itself: an extra flag that named one would break the job's files. */
export const RESERVED_SBATCH_FLAGS = [
  '--output',
  '--error',
  '--chdir',
  '--job-name',
  '--wrap',
  '--parsable',
  '--open-mode',
  '-o',
  '-e',
  '-D',
  '-J',
];

const WORD = /^[A-Za-z0-9_.-]+$/;
const MEMORY = /^\d+[KMGT]?$/;
const TIME = /^(?:\d+(?::\d{1,2}){0,2}|\d+-\d+(?::\d{1,2}){0,2}|INFINITE|UNLIMITED)$/;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Every problem of `value` as SLURM resources, each with the JSON pointer of its field (below
 * `pointer`) and `where` in its message ("Executor block", `executors.json "slurm"`).
 */
export function checkSlurmResources(
  value: unknown,
  pointer: string,
  where: string,
  extraFields: readonly string[] = [],
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (!isObject(value)) {
    issues.push({
      code: 'PIPELINE_SCHEMA',
      pointer,
      expected: 'an object',
      received: value,
      message: `${where} must be an object, got ${preview(value)}`,
    });
    return issues;
  }
  const allowed = [...SLURM_RESOURCE_FIELDS, ...extraFields] as readonly string[];
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      issues.push({
        code: 'UNKNOWN_FIELD',
        pointer: `${pointer}/${pointerSegment(key)}`,
        expected: `one of ${allowed.join(', ')}`,
        received: key,
        message: `${where}: unknown field ${preview(key)}`,
      });
    }
  }
  const bad = (field: string, expected: string): void => {
    const received = value[field];
    issues.push({
      code: 'SLURM_OPTION_INVALID',
      param: field,
      pointer: `${pointer}/${field}`,
      expected,
      received,
      message: `${where}: "${field}" must be ${expected}, got ${preview(received)}`,
    });
  };
  const has = (field: string): boolean => Object.hasOwn(value, field);
  const partition = value.partition;
  if (
    has('partition') &&
    !(typeof partition === 'string' && partition.split(',').every((name) => WORD.test(name)))
  )
    bad('partition', 'a partition name (letters, digits, "_", "-", "."), or several separated by commas');
  if (has('account') && !(typeof value.account === 'string' && WORD.test(value.account)))
    bad('account', 'an account name (letters, digits, "_", "-", ".")');
  for (const field of ['cpusPerTask', 'gpus'] as const) {
    const number = value[field];
    const min = field === 'gpus' ? 0 : 1;
    if (
      has(field) &&
      !(typeof number === 'number' && Number.isInteger(number) && number >= min && number <= 4096)
    )
      bad(field, `a whole number from ${min} to 4096`);
  }
  if (has('memory') && !(typeof value.memory === 'string' && MEMORY.test(value.memory)))
    bad('memory', 'a whole number with an optional unit K, M, G or T (e.g. "4G")');
  if (has('time') && !(typeof value.time === 'string' && TIME.test(value.time)))
    bad('time', 'minutes, "minutes:seconds", "hours:minutes:seconds" or "days-hours[:minutes[:seconds]]"');
  if (has('extraFlags')) {
    const flags = value.extraFlags;
    if (!Array.isArray(flags) || !flags.every((flag) => typeof flag === 'string' && flag.startsWith('-'))) {
      bad('extraFlags', 'a list of sbatch flags, each starting with "-"');
    } else {
      for (const flag of flags as string[]) {
        const name = flag.split('=')[0] ?? flag;
        if (/[\n\r\0]/.test(flag)) bad('extraFlags', 'flags without line breaks');
        else if (RESERVED_SBATCH_FLAGS.includes(name))
          bad('extraFlags', `flags other than ${RESERVED_SBATCH_FLAGS.join(', ')} (the executor sets those)`);
      }
    }
  }
  return issues;
}

/**
 * Every problem of a pipeline's `executor` block: its shape, its `type`, its resources, and its
 * `nodes` entries, which must name nodes of the pipeline.
 */
export function validateExecutorBlock(block: unknown, nodeIds: ReadonlySet<string>): ValidationIssue[] {
  const where = 'Executor block';
  if (!isObject(block)) {
    return [
      {
        code: 'PIPELINE_SCHEMA',
        pointer: '/executor',
        expected: '{"type": "local" | "slurm", …}',
        received: block,
        message: `"executor" must be an object such as {"type": "slurm", "partition": "gpu"}, got ${preview(block)}`,
      },
    ];
  }
  const issues: ValidationIssue[] = [];
  const type = block.type;
  if (!EXECUTOR_TYPES.includes(type as ExecutorName)) {
    issues.push({
      code: 'PIPELINE_SCHEMA',
      pointer: '/executor/type',
      expected: EXECUTOR_TYPES.join(' or '),
      received: type,
      message: `${where}: "type" must be ${EXECUTOR_TYPES.map((name) => `"${name}"`).join(' or ')}, got ${preview(type)}`,
    });
  }
  const resources = Object.fromEntries(
    Object.entries(block).filter(([key]) => key !== 'type' && key !== 'nodes'),
  );
  for (const issue of checkSlurmResources(resources, '/executor', where)) {
    // Unknown fields are named against every field a block has, not only the resources.
    issues.push(
      issue.code === 'UNKNOWN_FIELD' ? { ...issue, expected: `one of ${BLOCK_FIELDS.join(', ')}` } : issue,
    );
  }
  if (Object.hasOwn(block, 'nodes')) {
    const nodes = block.nodes;
    if (!isObject(nodes)) {
      issues.push({
        code: 'PIPELINE_SCHEMA',
        pointer: '/executor/nodes',
        expected: 'an object of node id → resources',
        received: nodes,
        message: `${where}: "nodes" must be an object of node id → resources, got ${preview(nodes)}`,
      });
    } else {
      for (const [nodeId, entry] of Object.entries(nodes)) {
        const pointer = `/executor/nodes/${pointerSegment(nodeId)}`;
        if (!nodeIds.has(nodeId)) {
          issues.push({
            code: 'UNKNOWN_NODE',
            nodeId,
            pointer,
            expected: 'the id of a node of this pipeline',
            received: nodeId,
            message: `${where}: "nodes" names ${preview(nodeId)}, which is not a node of this pipeline`,
          });
          continue;
        }
        for (const issue of checkSlurmResources(entry, pointer, `${where}, node "${nodeId}"`))
          issues.push({ ...issue, nodeId });
      }
    }
  }
  return issues;
}

/**
 * One task's SLURM resources: `defaults` (the data directory's), then the pipeline's block, then
 * the block's entry for the node; each field from the last that sets it, extra flags from all.
 */
export function resourcesForNode(
  nodeId: string,
  defaults: SlurmResourcesInfo | undefined,
  block: ExecutorBlock | undefined,
): SlurmResourcesInfo {
  const layers: SlurmResourcesInfo[] = [defaults ?? {}, block ?? {}, block?.nodes?.[nodeId] ?? {}];
  const merged: SlurmResourcesInfo = {};
  const flags: string[] = [];
  for (const layer of layers) {
    for (const field of SLURM_RESOURCE_FIELDS) {
      if (field === 'extraFlags') flags.push(...(layer.extraFlags ?? []));
      else if (layer[field] !== undefined) Object.assign(merged, { [field]: layer[field] });
    }
  }
  if (flags.length > 0) merged.extraFlags = flags;
  return merged;
}
