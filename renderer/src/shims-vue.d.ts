// Lets plain `tsc -b` accept .vue imports; vue-tsc (npm run typecheck:web) checks the real files.
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}
