/** localStorage when the page has one (stores also run under Node in unit tests). */
export function browserStorage(): Storage | undefined {
  try {
    return typeof globalThis.localStorage === 'undefined' ? undefined : globalThis.localStorage;
  } catch {
    // Storage can throw when disabled by the browser.
    return undefined;
  }
}
