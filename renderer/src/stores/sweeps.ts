/**
 * Sweeps as the renderer holds them: the list (`sweeps.list`), the sweep open in the sweep view
 * (`sweeps.get` with curves and importance), kept current by `sweep.status` and `trial.status`
 * events, and the actions (start, cancel, resume, re-run failed trials).
 */
import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';
import type { PipelineDoc, SweepInfo, SweepSummary, TrialInfo } from '../../../preload/contract';
import { useClient } from '../api';
import { mergeTrial } from '../sweep/view-data';

/** How long after a trial finishes the open sweep's importance is fetched again (trials finish in bursts). */
export const IMPORTANCE_REFRESH_MS = 1500;

function isFinal(status: SweepSummary['status']): boolean {
  return status === 'done' || status === 'failed' || status === 'cancelled';
}

export const useSweepsStore = defineStore('sweeps', () => {
  const client = useClient();
  const list = shallowRef<SweepSummary[]>([]);
  const current = shallowRef<SweepInfo | null>(null);
  const loading = ref(false);
  const error = ref<string | null>(null);
  let importanceTimer: ReturnType<typeof setTimeout> | undefined;

  function upsert(summary: SweepSummary): void {
    const index = list.value.findIndex((sweep) => sweep.id === summary.id);
    list.value =
      index < 0
        ? [summary, ...list.value]
        : list.value.map((sweep, position) => (position === index ? summary : sweep));
  }

  async function refresh(): Promise<void> {
    try {
      list.value = await client.request('sweeps.list', {});
      error.value = null;
    } catch (caught) {
      error.value = caught instanceof Error ? caught.message : String(caught);
    }
  }

  /** Opens a sweep in the sweep view: its trials with their curves and the params' importance. */
  async function load(sweepId: string): Promise<void> {
    loading.value = true;
    try {
      const sweep = await client.request('sweeps.get', { sweepId, curves: true, importance: true });
      current.value = sweep;
      error.value = null;
    } catch (caught) {
      error.value = caught instanceof Error ? caught.message : String(caught);
    } finally {
      loading.value = false;
    }
  }

  function close(): void {
    current.value = null;
    clearTimeout(importanceTimer);
  }

  function scheduleReload(sweepId: string): void {
    clearTimeout(importanceTimer);
    importanceTimer = setTimeout(() => {
      if (current.value?.id === sweepId) void load(sweepId);
    }, IMPORTANCE_REFRESH_MS);
  }

  function onSweepStatus(summary: SweepSummary): void {
    upsert(summary);
    const open = current.value;
    if (open?.id !== summary.id) return;
    current.value = { ...open, ...summary };
    if (isFinal(summary.status)) scheduleReload(summary.id);
  }

  function onTrialStatus(trial: TrialInfo): void {
    const open = current.value;
    if (open?.id !== trial.sweepId) return;
    current.value = { ...open, trials: mergeTrial(open.trials, trial) };
    if (trial.status !== 'running' && trial.status !== 'queued') scheduleReload(open.id);
  }

  /** Subscribes to the sweep events; returns the unsubscribe. */
  function attach(): () => void {
    const offs = [client.on('sweep.status', onSweepStatus), client.on('trial.status', onTrialStatus)];
    return () => {
      for (const off of offs) off();
      clearTimeout(importanceTimer);
    };
  }

  async function start(doc: PipelineDoc, pipelineFile?: string | null): Promise<SweepInfo> {
    const sweep = await client.request('sweeps.start', { doc, ...(pipelineFile ? { pipelineFile } : {}) });
    upsert(sweep);
    current.value = sweep;
    return sweep;
  }

  async function cancel(sweepId: string): Promise<void> {
    const sweep = await client.request('sweeps.cancel', { sweepId });
    upsert(sweep);
    if (current.value?.id === sweepId)
      current.value = { ...current.value, ...sweep, trials: current.value.trials };
  }

  /** Continues a cancelled or interrupted sweep; `rerunFailed` runs its failed trials again too. */
  async function resume(sweepId: string, rerunFailed = false): Promise<void> {
    const sweep = await client.request('sweeps.resume', { sweepId, ...(rerunFailed ? { rerunFailed } : {}) });
    upsert(sweep);
    if (current.value?.id === sweepId) await load(sweepId);
  }

  return { list, current, loading, error, refresh, load, close, attach, start, cancel, resume, upsert };
});
