/**
 * Routes live in the URL fragment (`/#/credits?checkout=success`), so the service serves the
 * app at `/` alone and no API path can ever be answered with the page. React Router's hash
 * history reads them (`src/routes.tsx`); this module only builds return URLs.
 */

/**
 * An absolute URL of an app page, for Stripe to send the customer back to. The query is
 * written as given, so Stripe's `{CHECKOUT_SESSION_ID}` placeholder stays intact.
 */
export function pageUrl(path: string, query = ''): string {
  const { origin, pathname } = window.location;
  return `${origin}${pathname}#${path}${query ? `?${query}` : ''}`;
}
