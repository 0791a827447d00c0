/** An error and its causes, outermost first (at most `max`: cause chains can be cyclic). */
export function causeChain(err: unknown, max = 5): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e && chain.length < max; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}
