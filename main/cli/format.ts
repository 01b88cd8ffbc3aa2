/** Plain-text tables and human-readable numbers for the CLI. */
import type {
  LineageGraph,
  ModelVersionInfo,
  NodeSpecInfo,
  ParamSpecInfo,
  RegisteredModelInfo,
  RunInfo,
  TaskInfo,
} from '../../preload/contract';
import {
  formatAccuracy,
  formatBytes,
  formatCount,
  formatDuration,
  formatMetricValue,
} from '../../preload/units';
import { describeVisibility } from '../../preload/graph-rules';

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Sizes, counts and durations read as in the workbench (preload/units.ts). */
export const bytes = formatBytes;
export const count = formatCount;
export const duration = formatDuration;

function span(start: string | null, end: string | null): number | null {
  if (!start) return null;
  return ((end ? Date.parse(end) : Date.now()) - Date.parse(start)) / 1000;
}

export function runsTable(runs: RunInfo[]): string {
  return table(
    ['RUN', 'NAME', 'STATUS', 'STARTED', 'DURATION', 'BACKEND', 'TASKS', 'REUSED', 'TAGS'],
    runs.map((run) => [
      run.id,
      run.label ? `${run.label} (${run.name})` : run.name,
      run.status,
      run.startedAt ? run.startedAt.replace('T', ' ').slice(0, 19) : '—',
      duration(span(run.startedAt, run.finishedAt)),
      run.backend?.name ?? '—',
      String(run.tasks.length),
      String(run.tasks.filter((task) => task.status === 'reused').length),
      run.tags.join(',') || '—',
    ]),
  );
}

export function registeredTable(models: RegisteredModelInfo[]): string {
  return table(
    ['MODEL', 'KIND', 'VERSIONS', 'LATEST', 'ALIASES', 'UPDATED', 'DESCRIPTION'],
    models.map((model) => [
      model.name,
      model.kind,
      String(model.versionCount),
      model.latestVersion !== null ? `v${model.latestVersion}` : '—',
      Object.entries(model.aliases)
        .map(([alias, version]) => `${alias}→v${version}`)
        .join(',') || '—',
      model.updatedAt.replace('T', ' ').slice(0, 19),
      model.description.split('\n')[0]!.slice(0, 60),
    ]),
  );
}

function taskResult(task: TaskInfo): string {
  if (task.error) return `${task.error.code}: ${task.error.message.split('\n')[0]}`;
  const summary = task.summary ?? {};
  const parts: string[] = [];
  for (const key of ['accuracy', 'val_accuracy', 'loss', 'latency_ms']) {
    const value = summary[key];
    if (typeof value === 'number') parts.push(`${key} ${formatMetricValue(key, value)}`);
  }
  const models = Object.values(task.models);
  if (models.length > 0) parts.push(`model ${models.join(', ')}`);
  return parts.join('  ');
}

export function runDetail(run: RunInfo): string {
  const head = [
    `Run ${run.id}  ${run.name}${run.label ? ` "${run.label}"` : ''}  ${run.status}`,
    `  started ${run.startedAt ?? '—'}  finished ${run.finishedAt ?? '—'}  seed ${run.seed}`,
    `  backend ${run.backend ? `${run.backend.name} (${run.backend.package})` : '—'}${run.backend?.skipped.length ? ` — skipped: ${run.backend.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}` : ''}`,
  ];
  if (run.pipelineFile) head.push(`  pipeline ${run.pipelineFile}`);
  if (run.tags.length) head.push(`  tags ${run.tags.join(', ')}`);
  if (run.note) head.push(`  note ${run.note.split('\n').join('\n       ')}`);
  if (run.error) head.push(`  error ${run.error.code}: ${run.error.message}`);
  const rows = run.tasks.map((task) => [
    task.nodeId,
    task.nodeType,
    task.status +
      (task.reusedFrom
        ? ` (from ${task.reusedFromRun ? `run ${task.reusedFromRun}` : task.reusedFrom})`
        : ''),
    duration(span(task.startedAt, task.finishedAt)),
    placement(task),
    taskResult(task),
  ]);
  return `${head.join('\n')}\n\n${table(['NODE', 'TYPE', 'STATUS', 'TIME', 'RAN ON', 'RESULT'], rows)}`;
}

/** Where a task's latest attempt ran: "slurm job 4121 on node07", "local pid 3112 on ws1 (warm)". */
export function placement(task: RunInfo['tasks'][number]): string {
  if (!task.executor) return '—';
  const id = task.jobId ? (task.executor === 'slurm' ? ` job ${task.jobId}` : ` pid ${task.jobId}`) : '';
  const node = task.nodeName ? ` on ${task.nodeName}` : '';
  const warm = task.warm ? ' (warm)' : '';
  const waiting = task.executorState === 'waiting' ? ' (pending)' : '';
  return `${task.executor}${id}${node}${warm}${waiting}`;
}

export function modelsTable(models: ModelVersionInfo[]): string {
  return table(
    ['ID', 'MODEL', 'VERSION', 'ALIASES', 'CREATED', 'ACCURACY', 'PARAMS', 'NON-ZERO', 'SIZE', 'BACKEND'],
    models.map((model) => [
      model.id,
      model.name,
      String(model.version),
      model.aliases.join(',') || '—',
      model.createdAt.replace('T', ' ').slice(0, 19),
      formatAccuracy(model.metrics.accuracy),
      count(model.paramCount),
      count(model.nonZeroParams),
      bytes(model.sizeBytes),
      model.backend ?? '—',
    ]),
  );
}

export function modelDetail(model: ModelVersionInfo): string {
  const lines = [
    `${model.name}:${model.version}  (${model.id})${model.aliases.length ? `  @${model.aliases.join(' @')}` : ''}`,
    `  kind ${model.kind}  framework ${model.framework}  backend ${model.backend ?? '—'}  created ${model.createdAt}`,
    `  params ${count(model.paramCount)}  non-zero ${count(model.nonZeroParams)}  size ${bytes(model.sizeBytes)}`,
    `  made by ${model.nodeType ?? '—'} in run ${model.runId ?? '—'} (task ${model.taskId ?? '—'})`,
  ];
  const metrics = Object.entries(model.metrics);
  if (metrics.length > 0)
    lines.push(`  metrics ${metrics.map(([k, v]) => `${k}=${formatMetricValue(k, v)}`).join('  ')}`);
  lines.push(`  params ${JSON.stringify(model.params)}`);
  return lines.join('\n');
}

export function lineageTree(graph: LineageGraph): string {
  const byId = new Map(graph.nodes.map((node) => [node.id, node]));
  const label = (id: string) => {
    const node = byId.get(id);
    return node ? `${node.name}:${node.version} (${node.id})` : id;
  };
  const keyParams = (params: Record<string, unknown>) =>
    Object.entries(params)
      .filter(
        ([k, v]) =>
          k !== 'port' && (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean'),
      )
      .slice(0, 6)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(', ');
  const parentsOf = (id: string) => graph.edges.filter((edge) => edge.childId === id);
  const childrenOf = (id: string) => graph.edges.filter((edge) => edge.parentId === id);
  const lines: string[] = [];
  const up = (id: string, depth: number, seen: Set<string>) => {
    for (const edge of parentsOf(id)) {
      if (seen.has(edge.parentId)) continue;
      seen.add(edge.parentId);
      lines.push(
        `${'  '.repeat(depth)}↑ ${label(edge.parentId)}  via ${edge.operation}${keyParams(edge.params) ? ` (${keyParams(edge.params)})` : ''}`,
      );
      up(edge.parentId, depth + 1, seen);
    }
  };
  const down = (id: string, depth: number, seen: Set<string>) => {
    for (const edge of childrenOf(id)) {
      if (seen.has(edge.childId)) continue;
      seen.add(edge.childId);
      lines.push(
        `${'  '.repeat(depth)}↓ ${label(edge.childId)}  via ${edge.operation}${keyParams(edge.params) ? ` (${keyParams(edge.params)})` : ''}`,
      );
      down(edge.childId, depth + 1, seen);
    }
  };
  lines.push(`● ${label(graph.root)}`);
  up(graph.root, 1, new Set([graph.root]));
  down(graph.root, 1, new Set([graph.root]));
  return lines.join('\n');
}

export function nodeTable(specs: NodeSpecInfo[]): string {
  const ports = (map: NodeSpecInfo['inputs']) =>
    Object.entries(map)
      .map(([name, port]) => `${name}:${port.type}`)
      .join(', ') || '—';
  return table(
    ['TYPE', 'CATEGORY', 'INPUTS', 'OUTPUTS', 'TITLE'],
    specs.map((spec) => [spec.type, spec.category, ports(spec.inputs), ports(spec.outputs), spec.title]),
  );
}

function paramRange(spec: ParamSpecInfo): string {
  switch (spec.kind) {
    case 'number':
    case 'integer':
    case 'list':
      return [
        spec.min !== undefined ? `min ${spec.min}` : '',
        spec.max !== undefined ? `max ${spec.max}` : '',
      ]
        .filter(Boolean)
        .join(', ');
    case 'choice':
      return spec.choices.join(' | ');
    default:
      return '';
  }
}

export function nodeDetail(spec: NodeSpecInfo): string {
  const lines = [`${spec.type} (v${spec.version}, ${spec.category}) — ${spec.title}`, `  ${spec.help}`, ''];
  for (const [side, ports] of [
    ['inputs', spec.inputs],
    ['outputs', spec.outputs],
  ] as const) {
    for (const [name, port] of Object.entries(ports)) {
      lines.push(
        `  ${side === 'inputs' ? 'in ' : 'out'} ${name}: ${port.type}${port.optional ? ' (optional)' : ''}`,
      );
    }
  }
  if (spec.effects?.external.length) {
    lines.push(
      `  writes outside its run folder, at ${spec.effects.external.join(', ')}: reused only while the files it wrote there are unchanged`,
    );
  }
  lines.push('');
  lines.push(
    table(
      ['PARAM', 'KIND', 'DEFAULT', 'RANGE', 'APPLIES', 'HELP'],
      Object.entries(spec.params).map(([name, param]) => [
        name,
        param.kind === 'list' ? `list of ${param.of}` : param.kind,
        JSON.stringify(param.default),
        paramRange(param),
        param.visibleWhen ? `when ${describeVisibility(param.visibleWhen)}` : 'always',
        param.help ?? '',
      ]),
    ),
  );
  return lines.join('\n');
}
