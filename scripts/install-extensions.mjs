// Online path of provisioning: `INSTALL <ext>` from DuckDB's own repository into the project's extension directory.
import { DuckDBInstance } from '@duckdb/node-api';

const dir = process.env.DUCKDB_EXTENSION_DIR;
const instance = await DuckDBInstance.create(':memory:', { extension_directory: dir });
const conn = await instance.connect();
for (const ext of process.argv.slice(2)) {
  await conn.run(`INSTALL ${ext}`);
  console.log(`[provision] installed ${ext} from the DuckDB repository`);
}
