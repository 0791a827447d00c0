import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readClientFile } from '../../src/cli/login.js';
import { CredentialStore } from '../../src/gmail/credential-store.js';

const dir = mkdtempSync(join(tmpdir(), 'gmail-lake-credentials-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const credentials = (account: string, refresh_token = 'rt-1') => ({
  type: 'authorized_user' as const,
  account,
  client_id: 'cid',
  client_secret: 'secret',
  refresh_token,
});

test('the store keeps one 0600 file per mailbox in a 0700 folder, named by the address, and sees a replaced file', () => {
  const store = new CredentialStore(join(dir, 'credentials'));
  assert.deepEqual(store.accounts(), [], 'no folder yet: no mailbox');
  const path = store.write(credentials('Me.Myself@Gmail.com'));
  assert.equal(path, join(dir, 'credentials', 'me.myself@gmail.com.json'));
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(statSync(store.dir).mode & 0o777, 0o700);
  store.write(credentials('odd/../name@example.com'));
  assert.deepEqual(store.accounts(), ['me.myself@gmail.com', 'odd/../name@example.com'], 'addresses come back as they were');
  assert.ok(
    readdirSync(store.dir).every((f) => !f.includes('/') && !f.startsWith('.')),
    'no path separators, no hidden files',
  );
  const first = store.read('me.myself@gmail.com')!;
  assert.equal(first.credentials.refresh_token, 'rt-1');
  store.write(credentials('me.myself@gmail.com', 'rt-2-longer'));
  utimesSync(path, new Date(), new Date(Date.now() + 5000));
  const second = store.read('ME.MYSELF@gmail.com')!;
  assert.notEqual(second.version, first.version, 'a new login is a new version');
  assert.equal(second.credentials.refresh_token, 'rt-2-longer');
  assert.equal(store.remove('me.myself@gmail.com'), true);
  assert.equal(store.read('me.myself@gmail.com'), undefined);
});

test('a broken credentials file is an error naming the file and the field, never a value', () => {
  const store = new CredentialStore(join(dir, 'broken'));
  store.write(credentials('a@example.com'));
  writeFileSync(store.path('a@example.com'), JSON.stringify({ ...credentials('a@example.com'), refresh_token: '' }));
  assert.throws(() => store.read('a@example.com'), /a@example\.com\.json: refresh_token/);
});

test('login takes the Desktop client file Google hands out and refuses the others with what to do', () => {
  const file = (name: string, json: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, JSON.stringify(json));
    return p;
  };
  const installed = {
    client_id: '123-abc.apps.googleusercontent.com',
    project_id: 'p',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: 'https://oauth2.googleapis.com/token',
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_secret: 'GOCSPX-secret',
    redirect_uris: ['http://localhost'],
  };
  assert.equal(readClientFile(file('desktop.json', { installed })).client_id, installed.client_id);
  assert.throws(() => readClientFile(file('web.json', { web: installed })), /web application's client.*Desktop app/);
  assert.throws(() => readClientFile(file('sa.json', { type: 'service_account' })), /service account's key.*GMAIL_CREDENTIALS_FILE/);
  assert.throws(() => readClientFile(file('user.json', credentials('x@example.com'))), /credentials already, not an OAuth client/);
  assert.throws(() => readClientFile(file('half.json', { installed: { client_id: 'x' } })), /installed\.client_secret/);
  assert.throws(() => readClientFile(join(dir, 'missing.json')), /cannot read the client file/);
});
