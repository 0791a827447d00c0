import type { Browser, Page } from 'playwright-core';

/**
 * A page with the network off but for `origin` (the API under test): any other request — a CDN, a tracking pixel — is
 * refused and its URL recorded in `elsewhere`.
 */
export async function offlinePage(
  browser: Browser,
  origin: string,
  viewport?: { width: number; height: number },
): Promise<{ page: Page; elsewhere: string[] }> {
  const context = await browser.newContext(viewport ? { viewport } : {});
  const elsewhere: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin)) return route.continue();
    elsewhere.push(url);
    return route.abort();
  });
  return { page: await context.newPage(), elsewhere };
}
