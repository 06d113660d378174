/**
 * TanStack Query's cache for the app: what a page fetched stays fresh for a while and is
 * shared between pages; failures that may pass (no answer, 429, 5xx) are retried twice
 * with backoff, answers that will not change (other 4xx) are not. An action (mutation)
 * is retried once, only when no answer came: it carries its idempotency key, so the
 * retry cannot do it twice.
 */
import { QueryClient, type QueryClientConfig } from '@tanstack/react-query';
import { ApiError } from './api';

const QUERY_RETRIES = 2;

/** Whether asking again may get another answer. */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof ApiError)) return false;
  const { status } = error.problem;
  return status === 0 || status === 429 || status >= 500;
}

export function shouldRetryQuery(failures: number, error: unknown): boolean {
  return failures < QUERY_RETRIES && isTransient(error);
}

export function shouldRetryMutation(failures: number, error: unknown): boolean {
  return failures < 1 && error instanceof ApiError && error.problem.status === 0;
}

export function createQueryClient(config: QueryClientConfig = {}): QueryClient {
  return new QueryClient({
    ...config,
    defaultOptions: {
      ...config.defaultOptions,
      queries: {
        staleTime: 10_000,
        retry: shouldRetryQuery,
        refetchOnWindowFocus: false,
        ...config.defaultOptions?.queries,
      },
      mutations: { retry: shouldRetryMutation, ...config.defaultOptions?.mutations },
    },
  });
}
