/** `npm run stack`: the local Temporal dev server with a persistent SQLite file under DATA_DIR and the Web UI. */
import { createWriteStream, mkdirSync } from 'node:fs';
import { loadConfig } from '../config.js';
import { startDevServer } from './dev-server.js';

const config = loadConfig();
const [host, port] = config.temporal.address.split(':');
if (host !== '127.0.0.1' && host !== 'localhost') {
  console.error(`TEMPORAL_ADDRESS=${config.temporal.address} is not local; the stack starts a dev server on 127.0.0.1 only.`);
  process.exit(2);
}
// The server's own log goes to a file: on a terminal its shutdown alone prints a screenful of warnings.
mkdirSync(config.dataDir, { recursive: true });
const logFile = `${config.dataDir}/temporal.log`;
const server = await startDevServer({
  dbFile: `${config.dataDir}/temporal.db`,
  port: Number(port),
  uiPort: Number(new URL(config.temporal.uiUrl).port || 8233),
  logStream: createWriteStream(logFile, { flags: 'a' }),
});
console.log(
  `Temporal dev server: ${server.address} (namespace ${config.temporal.namespace}, SQLite ${config.dataDir}/temporal.db, log ${logFile})`,
);
console.log(`Temporal Web UI:     ${server.uiUrl}`);
console.log('Ctrl-C stops it.');
let stopping = false;
const stop = () => {
  if (stopping) return; // Ctrl-C under npm arrives twice
  stopping = true;
  void server.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
