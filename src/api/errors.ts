import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ERROR_CODES } from './schemas.js';

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The API's one error: a code from the closed set, a message, optional details; rendered by `onError`. */
export class ApiError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(status, { message });
  }
}

export function errorBody(c: Context, code: ErrorCode, message: string, details?: unknown) {
  return {
    error: {
      code,
      message,
      requestId: (c.get('requestId' as never) as string | undefined) ?? '',
      ...(details === undefined ? {} : { details }),
    },
  };
}
