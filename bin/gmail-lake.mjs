#!/usr/bin/env node
// The `gmail-lake` command (package.json "bin"): runs src/cli/main.ts through tsx, in the checkout (`npx gmail-lake`)
// and after a global install (`npm install -g .`).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
