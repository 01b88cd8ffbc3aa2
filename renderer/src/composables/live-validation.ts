/**
 * Live validation of the edited document: every change schedules a debounced `pipelines.validate`
 * request to main; answers to superseded requests are dropped, and `settled()` resolves once the
 * latest document has been validated.
 */
import { ref, shallowRef, type Ref, type ShallowRef } from 'vue';
import type { PipelineDoc, ValidationIssue } from '../../../preload/contract';
import { errorMessage, type DistilleryClient } from '../api';

export const VALIDATION_DELAY_MS = 250;

export interface LiveValidation {
  issues: ShallowRef<ValidationIssue[]>;
  validating: Ref<boolean>;
  validationError: Ref<string | null>;
  schedule: (delay?: number) => void;
  validateNow: () => Promise<void>;
  /** Resolves once the latest document has been validated. */
  settled: () => Promise<void>;
  dispose: () => void;
}

export function useLiveValidation(client: DistilleryClient, current: () => PipelineDoc): LiveValidation {
  const issues = shallowRef<ValidationIssue[]>([]);
  const validating = ref(false);
  const validationError = ref<string | null>(null);

  let timer: ReturnType<typeof setTimeout> | undefined;
  let seq = 0;
  let pending: Promise<void> | null = null;
  let resolvePending: (() => void) | undefined;

  function schedule(delay = VALIDATION_DELAY_MS): void {
    if (timer) clearTimeout(timer);
    validating.value = true;
    pending ??= new Promise<void>((resolve) => {
      resolvePending = resolve;
    });
    timer = setTimeout(() => {
      timer = undefined;
      void validateNow();
    }, delay);
  }

  async function validateNow(): Promise<void> {
    const mine = ++seq;
    const target = current();
    try {
      const found = await client.request('pipelines.validate', { doc: target });
      if (mine !== seq) return;
      issues.value = found;
      validationError.value = null;
    } catch (error) {
      if (mine !== seq) return;
      validationError.value = errorMessage(error);
    }
    if (timer) return;
    validating.value = false;
    const resolve = resolvePending;
    resolvePending = undefined;
    pending = null;
    resolve?.();
  }

  async function settled(): Promise<void> {
    if (pending) await pending;
  }

  function dispose(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
  }

  return { issues, validating, validationError, schedule, validateNow, settled, dispose };
}
