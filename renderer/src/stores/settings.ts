/**
 * User preferences, kept in localStorage: theme (follows the OS unless overridden) and the chart
 * defaults (smoothing, x axis, log scale).
 */
import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import { DEFAULT_SMOOTHING } from '../charts/ema';
import type { XAxis } from '../charts/series-buffer';
import { browserStorage } from './storage';

export type ThemePreference = 'system' | 'light' | 'dark';

export interface Settings {
  theme: ThemePreference;
  smoothing: number;
  xAxis: XAxis;
  logScale: boolean;
}

export const SETTINGS_KEY = 'distillery.settings';

export const DEFAULT_SETTINGS: Settings = {
  theme: 'system',
  smoothing: DEFAULT_SMOOTHING,
  xAxis: 'step',
  logScale: false,
};

function readSettings(): Settings {
  const raw = browserStorage()?.getItem(SETTINGS_KEY);
  if (!raw) return { ...DEFAULT_SETTINGS };
  try {
    const parsed = JSON.parse(raw) as Partial<Settings>;
    return {
      theme: parsed.theme === 'light' || parsed.theme === 'dark' ? parsed.theme : 'system',
      smoothing:
        typeof parsed.smoothing === 'number'
          ? Math.min(Math.max(parsed.smoothing, 0), 0.99)
          : DEFAULT_SMOOTHING,
      xAxis: parsed.xAxis === 'epoch' || parsed.xAxis === 'time' ? parsed.xAxis : 'step',
      logScale: parsed.logScale === true,
    };
  } catch {
    return { ...DEFAULT_SETTINGS };
  }
}

export const useSettingsStore = defineStore('settings', () => {
  const initial = readSettings();
  const theme = ref<ThemePreference>(initial.theme);
  const smoothing = ref(initial.smoothing);
  const xAxis = ref<XAxis>(initial.xAxis);
  const logScale = ref(initial.logScale);

  const media =
    typeof window !== 'undefined' && window.matchMedia
      ? window.matchMedia('(prefers-color-scheme: dark)')
      : null;
  const systemDark = ref(media?.matches ?? false);
  media?.addEventListener('change', (event) => (systemDark.value = event.matches));

  const effectiveTheme = computed<'light' | 'dark'>(() =>
    theme.value === 'system' ? (systemDark.value ? 'dark' : 'light') : theme.value,
  );

  watch([theme, smoothing, xAxis, logScale], () => {
    const settings: Settings = {
      theme: theme.value,
      smoothing: smoothing.value,
      xAxis: xAxis.value,
      logScale: logScale.value,
    };
    browserStorage()?.setItem(SETTINGS_KEY, JSON.stringify(settings));
  });

  function cycleTheme(): void {
    theme.value = theme.value === 'system' ? 'light' : theme.value === 'light' ? 'dark' : 'system';
  }

  return { theme, smoothing, xAxis, logScale, systemDark, effectiveTheme, cycleTheme };
});
