import { envSchema } from './env-schema.js';

/** The markers between which docs/configuration.md holds the generated table. */
export const CONFIG_TABLE_BEGIN = '<!-- the table below is generated from src/env-schema.ts: npm run docs:config -->';
export const CONFIG_TABLE_END = '<!-- end of the generated table -->';

interface ZodLike {
  description?: string;
  _zod: { def: { type: string; defaultValue?: unknown; innerType?: ZodLike; entries?: Record<string, string>; in?: ZodLike } };
}

/** The choices of an enum anywhere in a wrapped schema (default, optional, pipe). */
function choices(s: ZodLike | undefined): string[] | undefined {
  for (let t = s; t; t = t._zod.def.innerType ?? t._zod.def.in) if (t._zod.def.entries) return Object.keys(t._zod.def.entries);
  return undefined;
}

/**
 * The environment variables as a Markdown table, from the zod schema itself (each variable's `.describe()`, its
 * default, its choices), so the documentation cannot drift from what the code reads.
 */
export function configurationTable(): string {
  const rows = Object.entries(envSchema.shape as unknown as Record<string, ZodLike>).map(([name, schema]) => {
    const def = schema._zod.def;
    const fallback = def.type === 'default' ? `\`${String(def.defaultValue)}\`` : '—';
    const options = choices(schema);
    const meaning =
      (schema.description ?? '').replace(/\|/g, '\\|') + (options ? ` One of: ${options.map((o) => `\`${o}\``).join(', ')}.` : '');
    return `| \`${name}\` | ${fallback} | ${meaning} |`;
  });
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
