import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { round, type Row } from './scenarios.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a function's code lives, in the words of issue 24's profile: the HTTP client, staging, rows, GC, … */
function areaOf(url: string, name: string): string {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)' || name === '(program)' || name === '(root)') return name;
  if (
    /node_modules\/(gaxios|node-fetch|googleapis|googleapis-common|@googleapis|google-auth-library|gtoken|data-uri-to-buffer|fetch-blob|formdata-polyfill)\//.test(
      url,
    )
  )
    return 'HTTP client (googleapis → gaxios → node-fetch)';
  if (/node_modules\/@duckdb\//.test(url)) return 'DuckDB binding (JS side)';
  if (/node_modules\/@temporalio\//.test(url)) return 'Temporal SDK (JS side)';
  if (/node_modules\/(tsx|esbuild|get-tsconfig)\//.test(url)) return 'tsx loader';
  const ours = /\/src\/(.+)$/.exec(url);
  if (ours) return `src/${ours[1]}`;
  if (isBuiltIn(url)) return BUILT_INS;
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  return mod ? `node_modules/${mod[1]}` : url;
}

const BUILT_INS = 'Node built-ins (JSON, Buffer, streams, http, …)';
const isBuiltIn = (url: string) => url.startsWith('node:') || url === '';

/**
 * The main thread's `.cpuprofile` in `dir` (a process run with `--cpu-prof --cpu-prof-dir=dir`),
 * as self time per area, the built-ins' self time by the area that called them (the nearest caller outside Node: what
 * made the decoding, the writes, the JSON), and the top functions by self time, each with its share of the sampled time.
 * BENCH_KEEP_PROFILE=1 keeps the profile files (their folder is printed) for a closer look in Chrome's DevTools.
 */
export function profileSummary(dir: string, label: string, top = 12): Row[] {
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main one (activities, HTTP, DuckDB's calls);
  // the others are the SDK's workflow threads.
  const file = readdirSync(dir)
    .filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f))
    .sort()
    .at(-1);
  if (!file) throw new Error(`no main-thread .cpuprofile in ${dir}: the process did not exit cleanly`);
  const p = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<ProfileNode, ProfileNode>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(byId.get(c)!, n);
  /** The area of the nearest caller of a built-in that is not one. */
  const callerArea = (n: ProfileNode): string => {
    for (let up = parent.get(n); up; up = parent.get(up)) {
      const { url, functionName } = up.callFrame;
      if (functionName === '(root)') break;
      if (!isBuiltIn(url)) return areaOf(url, functionName);
    }
    return '(the event loop)';
  };
  const self = new Map<ProfileNode, number>();
  p.samples.forEach((id, i) => {
    const n = byId.get(id);
    if (n) self.set(n, (self.get(n) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  let total = 0;
  for (const [n, us] of self) if (n.callFrame.functionName !== '(idle)') total += us;
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  const builtInCallers = new Map<string, number>();
  for (const [n, us] of self) {
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') continue;
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    if (area === BUILT_INS) {
      const caller = callerArea(n);
      builtInCallers.set(caller, (builtInCallers.get(caller) ?? 0) + us);
    }
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^.*\/src\//, 'src/')}:${lineNumber + 1}`;
    functions.set(key, (functions.get(key) ?? 0) + us);
  }
  const share = (us: number) => `${round((100 * us) / total, 1)} %`;
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return [
    ...sorted(areas)
      .slice(0, top)
      .map(([area, us]) => ({ scenario: `${label}: area`, name: area, 'self s': round(us / 1e6, 2), share: share(us) })),
    ...sorted(builtInCallers)
      .slice(0, top)
      .map(([area, us]) => ({ scenario: `${label}: built-ins called by`, name: area, 'self s': round(us / 1e6, 2), share: share(us) })),
    ...sorted(functions)
      .slice(0, 2 * top)
      .map(([fn, us]) => ({ scenario: `${label}: function`, name: fn, 'self s': round(us / 1e6, 2), share: share(us) })),
  ];
}
