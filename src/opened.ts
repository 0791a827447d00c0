/** Something opened on first use and kept (a failed open is tried again on the next use), closed once at the end. */
export interface Opened<T extends { close(): void }> {
  get: () => Promise<T>;
  /** Closes it if it was opened (after `before`, given it). */
  close: (before?: (value: T) => Promise<void>) => Promise<void>;
}

/** `failed` maps an error of the open (e.g. to an HTTP answer); it is thrown as it is by default. */
export function opened<T extends { close(): void }>(
  open: () => Promise<T>,
  failed: (e: unknown) => never = (e) => {
    throw e;
  },
): Opened<T> {
  let value: Promise<T> | undefined;
  return {
    get: async () => {
      value ??= open();
      try {
        return await value;
      } catch (e) {
        value = undefined;
        return failed(e);
      }
    },
    close: async (before) => {
      const v = await value?.catch(() => undefined);
      if (v && before) await before(v);
      v?.close();
    },
  };
}
