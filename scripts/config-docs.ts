/** `npm run docs:config`: writes the table of environment variables into docs/configuration.md from src/env-schema.ts. */
import { readFileSync, writeFileSync } from 'node:fs';
import { CONFIG_TABLE_BEGIN, CONFIG_TABLE_END, configurationTable } from '../src/config-docs.js';

const file = new URL('../docs/configuration.md', import.meta.url);
const text = readFileSync(file, 'utf8');
const begin = text.indexOf(CONFIG_TABLE_BEGIN);
const end = text.indexOf(CONFIG_TABLE_END);
if (begin < 0 || end < begin) throw new Error(`docs/configuration.md lacks the markers ${CONFIG_TABLE_BEGIN} … ${CONFIG_TABLE_END}`);
writeFileSync(file, `${text.slice(0, begin + CONFIG_TABLE_BEGIN.length)}\n\n${configurationTable()}\n\n${text.slice(end)}`);
console.log('docs/configuration.md: table regenerated');
