/**
 * The whole app in a component test, as `main.tsx` mounts it, at a URL fragment, answered
 * by a fake service, with somebody signed in or nobody; and what a test of it undoes.
 */
import { QueryClientProvider } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import { vi } from 'vitest';
import { App } from '../App';
import { createQueryClient } from '../lib/queryClient';
import { SessionProvider } from '../lib/session';
import { stripeService } from '../services/stripe';
import { fakeApi } from './fakeApi';

export interface AppAt {
  /** Where the app opens (`#/credits`). */
  hash: string;
  /** Signed in as user 7 with this role, or nobody. */
  role?: 'user' | 'admin' | null;
}

/** The app, and the fake service behind it (to ask what was sent). */
export function renderApp(routes: Parameters<typeof fakeApi>[0], { hash, role = null }: AppAt) {
  const api = fakeApi(routes);
  vi.stubGlobal('fetch', api.fetch);
  if (role) {
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    sessionStorage.setItem('billing.session', JSON.stringify({ token: 't', userId: 7, role, expiresAt }));
  }
  window.location.hash = hash;
  render(
    <QueryClientProvider client={createQueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <SessionProvider>
        <App />
      </SessionProvider>
    </QueryClientProvider>,
  );
  return api;
}

/** After each test: the real fetch, nobody signed in, no fragment. */
export function leaveApp() {
  vi.unstubAllGlobals();
  stripeService.setAuth(null);
  window.location.hash = '';
}
