/** An entry of a MenuButton dropdown. */
export interface MenuItem {
  label?: string;
  shortcut?: string;
  action?: () => unknown;
  disabled?: boolean;
  testid?: string;
  /** A group heading (no action). */
  header?: boolean;
  separator?: boolean;
}
