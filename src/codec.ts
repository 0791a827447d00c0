import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { ACCOUNT_SEARCH_ATTRIBUTE } from './workflows/ids.js';
import type { CodecKey } from './codec-keys.js';

export { type CodecKey, generateCodecKey, parseCodecKeys } from './codec-keys.js';

/**
 * Encrypted Temporal payloads: every payload the client and the worker send (workflow and activity inputs and results,
 * signals, queries, heartbeats, memos, failure messages) is AES-256-GCM-encrypted before it reaches the server, so
 * history and the Web UI show ciphertext. Keys have ids; the first key encrypts, every key decrypts (rotation: put a
 * new key first, keep the old ones while histories encrypted with them are kept). Payloads that are not encrypted
 * (histories written before the codec was turned on) pass through unchanged.
 */
export const ENCODING = 'binary/encrypted';
const KEY_ID = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class AesGcmCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  private readonly current: CodecKey;

  constructor(keys: CodecKey[]) {
    if (keys.length === 0) throw new Error('the payload codec needs at least one key');
    this.current = keys[0]!;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
      const clear = proto.temporal.api.common.v1.Payload.encode(p).finish();
      const data = Buffer.concat([iv, cipher.update(clear), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: Buffer.from(ENCODING), [KEY_ID]: Buffer.from(this.current.id) },
        data,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (Buffer.from(p.metadata?.encoding ?? []).toString() !== ENCODING) return p;
      const id = Buffer.from(p.metadata?.[KEY_ID] ?? []).toString();
      const key = this.byId.get(id);
      if (!key) throw new Error(`payload encrypted with key ${JSON.stringify(id)}, which PAYLOAD_KEYS does not hold`);
      const data = Buffer.from(p.data ?? []);
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const clear = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return proto.temporal.api.common.v1.Payload.decode(clear);
    });
  }
}

/** The failure converter module for encrypted deployments (see src/failure-converter.ts). */
export function failureConverterPath(): string {
  const ts = fileURLToPath(new URL('./failure-converter.ts', import.meta.url));
  return existsSync(ts) ? ts : fileURLToPath(new URL('./failure-converter.js', import.meta.url));
}

/** The data converter of clients and workers: the default one, or with the codec and encoded failures when keys are set. */
export function dataConverterFor(keys: CodecKey[] | undefined): DataConverter | undefined {
  if (!keys?.length) return undefined;
  return { payloadCodecs: [new AesGcmCodec(keys)], failureConverterPath: failureConverterPath() };
}

/**
 * Whether a client encrypts payloads. Then nothing it writes outside payloads names a mailbox: no GmailAccount search
 * attribute (search attributes cannot be encrypted: the server indexes them), no address in schedule notes.
 */
export const encrypts = (client: Client): boolean => client.options.loadedDataConverter.payloadCodecs.some((c) => c instanceof AesGcmCodec);

/** The GmailAccount search attribute of a workflow started by `client`, unless the client encrypts. */
export const accountAttribute = (client: Client, account: string) =>
  encrypts(client) ? {} : { searchAttributes: { [ACCOUNT_SEARCH_ATTRIBUTE]: [account] } };
