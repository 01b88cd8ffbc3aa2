/** Plain-text tables and human-readable numbers for the CLI. */
import type {
  LineageGraph,
  ModelVersionInfo,
  NodeSpecInfo,
  ParamSpecInfo,
  RunInfo,
  TaskInfo,
} from '../../preload/contract';

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

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  if (m < 60) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function span(start: string | null, end: string | null): number | null {
  if (!start) return null;
  return ((end ? Date.parse(end) : Date.now()) - Date.parse(start)) / 1000;
}

export function runsTable(runs: RunInfo[]): string {
  return table(
    ['RUN', 'NAME', 'STATUS', 'STARTED', 'DURATION', 'BACKEND', 'TASKS', 'REUSED'],
    runs.map((run) => [
      run.id,
      run.name,
      run.status,
      run.startedAt ? run.startedAt.replace('T', ' ').slice(0, 19) : '—',
      duration(span(run.startedAt, run.finishedAt)),
      run.backend?.name ?? '—',
      String(run.tasks.length),
      String(run.tasks.filter((task) => task.status === 'reused').length),
    ]),
  );
}

function taskResult(task: TaskInfo): string {
  if (task.error) return `${task.error.code}: ${task.error.message.split('\n')[0]}`;
  const summary = task.summary ?? {};
  const parts: string[] = [];
  for (const key of ['accuracy', 'val_accuracy', 'loss', 'latency_ms']) {
    const value = summary[key];
    if (typeof value === 'number') parts.push(`${key} ${value.toFixed(4)}`);
  }
  const models = Object.values(task.models);
  if (models.length > 0) parts.push(`model ${models.join(', ')}`);
  return parts.join('  ');
}

export function runDetail(run: RunInfo): string {
  const head = [
    `Run ${run.id}  ${run.name}  ${run.status}`,
    `  started ${run.startedAt ?? '—'}  finished ${run.finishedAt ?? '—'}  seed ${run.seed}`,
    `  backend ${run.backend ? `${run.backend.name} (${run.backend.package})` : '—'}${run.backend?.skipped.length ? ` — skipped: ${run.backend.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}` : ''}`,
  ];
  if (run.pipelineFile) head.push(`  pipeline ${run.pipelineFile}`);
  if (run.error) head.push(`  error ${run.error.code}: ${run.error.message}`);
  const rows = run.tasks.map((task) => [
    task.nodeId,
    task.nodeType,
    task.status + (task.reusedFrom ? ` (from ${task.reusedFrom})` : ''),
    duration(span(task.startedAt, task.finishedAt)),
    taskResult(task),
  ]);
  return `${head.join('\n')}\n\n${table(['NODE', 'TYPE', 'STATUS', 'TIME', 'RESULT'], rows)}`;
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
      model.metrics.accuracy !== undefined ? model.metrics.accuracy.toFixed(4) : '—',
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
    lines.push(
      `  metrics ${metrics.map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(4)}`).join('  ')}`,
    );
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
  lines.push('');
  lines.push(
    table(
      ['PARAM', 'KIND', 'DEFAULT', 'RANGE', 'HELP'],
      Object.entries(spec.params).map(([name, param]) => [
        name,
        param.kind === 'list' ? `list of ${param.of}` : param.kind,
        JSON.stringify(param.default),
        paramRange(param),
        param.help ?? '',
      ]),
    ),
  );
  return lines.join('\n');
}
