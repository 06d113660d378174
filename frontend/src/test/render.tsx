/**
 * Rendering a page as the app does, for component tests: a fresh query cache (no retries,
 * so an error shows at once) and a router in memory at `url`, with `path` as the page's
 * route pattern (for its `:params`).
 */
import { QueryClientProvider } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import type { ReactElement } from 'react';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { createQueryClient } from '../lib/queryClient';

export function renderPage(page: ReactElement, { url = '/', path = url.split('?')[0] } = {}) {
  const queryClient = createQueryClient({
    defaultOptions: { queries: { retry: false, staleTime: 0 }, mutations: { retry: false } },
  });
  const router = createMemoryRouter([{ path, element: page }], { initialEntries: [url] });
  const result = render(
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return { ...result, router, queryClient };
}
