/**
 * The failure converter of an encrypted deployment (PAYLOAD_KEYS set): failure messages and stack traces move into an
 * encoded payload, so the payload codec encrypts them too (they can name a mailbox or a query). Loaded by path, as the
 * workflow bundle and the worker need it.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
