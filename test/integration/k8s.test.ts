import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { envSchema } from '../../src/env-schema.js';
import { projectRoot } from '../../src/stack/tools.js';

const DIR = join(projectRoot, 'deploy/k8s');
const PY = join(projectRoot, '.tools/py/bin');
if (!existsSync(join(PY, 'kubernetes-validate')))
  throw new Error('kubernetes-validate is missing: run `bash scripts/provision.sh --for-tests` (npm test does)');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');

interface Container {
  command: string[];
  env?: { name: string; value?: string }[];
  livenessProbe?: { httpGet?: { path: string } };
  readinessProbe?: { httpGet?: { path: string } };
  startupProbe?: { httpGet?: { path: string } };
}
type Resource = { kind: string; metadata: { name: string }; data?: Record<string, string>; stringData?: Record<string, string> } & {
  spec?: {
    template?: { spec: { containers: Container[] } };
    scaleTargetRef?: { name: string };
    selector?: { matchLabels: Record<string, string> };
  };
};

/** Every resource of the manifests, read by PyYAML (installed with kubernetes-validate). */
const resources: Resource[] = files.flatMap(
  (f) =>
    JSON.parse(
      execFileSync(
        join(PY, 'python'),
        ['-c', 'import json,sys,yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))', join(DIR, f)],
        {
          encoding: 'utf8',
        },
      ),
    ) as Resource[],
);

test('Kubernetes manifests validate strictly (offline schemas of kubernetes-validate, Kubernetes 1.33)', (t) => {
  const out = execFileSync(join(PY, 'kubernetes-validate'), ['-k', '1.33.0', '--strict', ...files.map((f) => join(DIR, f))], {
    encoding: 'utf8',
  });
  assert.equal((out.match(/passed/g) ?? []).length, resources.length, out);
  // The validator does refuse: a misspelt field in a copy of the API manifest.
  const folder = mkdtempSync(join(tmpdir(), 'k8s-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  const bad = join(folder, 'api.yaml');
  writeFileSync(bad, readFileSync(join(DIR, 'api.yaml'), 'utf8').replace('terminationGracePeriodSeconds', 'terminationGracePeriodSecond'));
  const refused = spawnSync(join(PY, 'kubernetes-validate'), ['-k', '1.33.0', '--strict', bad], { encoding: 'utf8' });
  assert.match(refused.stdout + refused.stderr, /ERROR .*terminationGracePeriodSecond' was unexpected/);
});

test('Kubernetes manifests: API and worker Deployments with probes, an HPA and a PDB each, and only variables the configuration knows', () => {
  const deployments = resources.filter((r) => r.kind === 'Deployment');
  assert.deepEqual(deployments.map((d) => d.metadata.name).sort(), ['gmail-lake-api', 'gmail-lake-worker']);
  const api = deployments.find((d) => d.metadata.name === 'gmail-lake-api')!.spec!.template!.spec.containers[0]!;
  assert.deepEqual(api.command, ['node', 'dist/api/main.js'], 'the compiled API (npm run build in the image)');
  assert.equal(api.livenessProbe?.httpGet?.path, '/healthz');
  assert.equal(api.readinessProbe?.httpGet?.path, '/readyz');
  const worker = deployments.find((d) => d.metadata.name === 'gmail-lake-worker')!.spec!.template!.spec.containers[0]!;
  assert.deepEqual(worker.command, ['node', 'dist/worker/main.js'], 'the compiled worker');
  assert.equal(worker.livenessProbe?.httpGet?.path, '/metrics');
  assert.ok(worker.env?.some((e) => e.name === 'METRICS_PORT'));
  for (const d of deployments) {
    assert.ok(
      resources.some((r) => r.kind === 'HorizontalPodAutoscaler' && r.spec?.scaleTargetRef?.name === d.metadata.name),
      `HPA for ${d.metadata.name}`,
    );
    assert.ok(
      resources.some((r) => r.kind === 'PodDisruptionBudget' && r.metadata.name === d.metadata.name),
      `PDB for ${d.metadata.name}`,
    );
  }
  const known = new Set(Object.keys(envSchema.shape));
  const names = [
    ...resources.filter((r) => r.kind === 'ConfigMap').flatMap((r) => Object.keys(r.data ?? {})),
    ...resources.filter((r) => r.kind === 'Secret' && r.metadata.name === 'gmail-lake').flatMap((r) => Object.keys(r.stringData ?? {})),
    ...deployments.flatMap((d) => d.spec!.template!.spec.containers.flatMap((c) => (c.env ?? []).map((e) => e.name))),
  ];
  assert.deepEqual(
    names.filter((n) => !known.has(n)),
    [],
    'every variable in the manifests is one src/env-schema.ts declares',
  );
  // Secrets only by reference: no password, key or DSN in the ConfigMap.
  const config = resources.find((r) => r.kind === 'ConfigMap')!.data!;
  for (const secret of ['LAKE_PG_DSN', 'AWS_SECRET_ACCESS_KEY', 'AWS_ACCESS_KEY_ID', 'API_KEYS', 'PAYLOAD_KEYS', 'WEBHOOK_SECRET'])
    assert.equal(config[secret], undefined);
});
