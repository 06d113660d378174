/**
 * Routes live in the URL fragment (`/#/credits?checkout=success`), so the service serves the
 * app at `/` alone and no API path can ever be answered with the page.
 */
import { useEffect, useState } from 'react';

export interface Route {
  path: string;
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?', 2);
  return { path: path.startsWith('/') ? path : `/${path}`, params: new URLSearchParams(query) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const update = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}

/**
 * An absolute URL of an app page, for Stripe to send the customer back to. The query is
 * written as given, so Stripe's `{CHECKOUT_SESSION_ID}` placeholder stays intact.
 */
export function pageUrl(path: string, query = ''): string {
  const { origin, pathname } = window.location;
  return `${origin}${pathname}#${path}${query ? `?${query}` : ''}`;
}
