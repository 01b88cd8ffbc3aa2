#!/usr/bin/env node
// Entry of `npm start` and `npm run serve`: runs the TypeScript launcher (start.ts) through tsx's
// loader, as distillery.mjs does for the CLI.
import { register } from 'tsx/esm/api';

register();
await import('./start.ts');
