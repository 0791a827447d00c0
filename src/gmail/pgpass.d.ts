/** pgpass 1.0.5 (node-postgres's password-file reader) ships no types. */
declare module 'pgpass' {
  interface ConnInfo {
    host: string;
    port: number | string;
    database: string;
    user: string;
  }
  export default function pgpass(connInfo: ConnInfo, cb: (password: string | undefined) => void): void;
}
