/**
 * A reader of the lake in its own process, opening it the way the README tells users to (DuckDB with the project's
 * extension directory, the catalog attached READ_ONLY): prints `{"count": N}` for ACCOUNT every 200 ms, or
 * `{"error": "…"}`, until its stdin closes.
 */
import { DuckDBInstance } from '@duckdb/node-api';

const [catalogPath, extensionDir, account] = process.argv.slice(2) as [string, string, string];
const instance = await DuckDBInstance.create(':memory:', { extension_directory: extensionDir, autoinstall_known_extensions: 'false' });
const conn = await instance.connect();
await conn.run('LOAD ducklake');
await conn.run('LOAD sqlite_scanner');
let open = true;
process.stdin.on('end', () => (open = false)).resume();
console.log(JSON.stringify({ ready: true }));
while (open) {
  try {
    await conn.run(`ATTACH IF NOT EXISTS 'ducklake:sqlite:${catalogPath.replace(/'/g, "''")}' AS lake (READ_ONLY)`);
    const r = await conn.runAndReadAll('SELECT count(*)::INTEGER FROM lake.messages WHERE account = $account', { account });
    console.log(JSON.stringify({ count: r.getRows()[0]![0] }));
    await conn.run('DETACH lake'); // the next read sees the newest snapshot
  } catch (e) {
    console.log(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }));
  }
  await new Promise((r) => setTimeout(r, 200));
}
instance.closeSync();
