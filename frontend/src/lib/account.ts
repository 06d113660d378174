/**
 * One user's account as the service keeps it (balance, grants, holds, history, settings,
 * usage, payments, saved card, subscriptions), through the typed client and TanStack
 * Query. The customer's pages and the admin's user page share these hooks and their cache
 * keys, all under `accountKey(userId)`, so an action invalidates one prefix and every
 * panel showing that user refreshes. Lists a person pages through ask 20 rows at a time.
 */
import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, idempotent, type Keyed, unwrap } from './api';
import { byCursor, PAGE_SIZE } from './pages';
import type { GrantStatus, SettingsInput } from './schemas';

export const accountKey = (userId: number) => ['account', userId] as const;

const user = (userId: number) => ({ path: { user_id: userId } });

export function useBalance(userId: number, options: { refetchInterval?: number | false } = {}) {
  return useQuery({
    queryKey: [...accountKey(userId), 'balance'],
    queryFn: () => unwrap(api.GET('/api/financial/credits/{user_id}', { params: user(userId) })),
    ...options,
  });
}

export function useTransactions(userId: number, options: { refetchInterval?: number | false } = {}) {
  return useInfiniteQuery({
    queryKey: [...accountKey(userId), 'transactions'],
    ...byCursor,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET('/api/financial/credits/{user_id}/transactions', {
          params: { ...user(userId), query: { limit: PAGE_SIZE, cursor: pageParam } },
        }),
      ),
    ...options,
  });
}

export function useGrants(userId: number, status: GrantStatus | null) {
  return useQuery({
    queryKey: [...accountKey(userId), 'grants', status ?? 'all'],
    queryFn: () =>
      unwrap(api.GET('/api/financial/credits/{user_id}/grants', { params: { ...user(userId), query: { status } } })),
    placeholderData: keepPreviousData,
  });
}

export function useActiveHolds(userId: number) {
  return useInfiniteQuery({
    queryKey: [...accountKey(userId), 'holds', 'active'],
    ...byCursor,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET('/api/financial/credits/{user_id}/holds', {
          params: { ...user(userId), query: { status: 'active', limit: PAGE_SIZE, cursor: pageParam } },
        }),
      ),
  });
}

export function useSettings(userId: number) {
  return useQuery({
    queryKey: [...accountKey(userId), 'settings'],
    queryFn: () => unwrap(api.GET('/api/financial/credits/{user_id}/settings', { params: user(userId) })),
  });
}

export function useSaveSettings(userId: number) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: ({ key, input }: Keyed<SettingsInput>) =>
      unwrap(
        api.PUT('/api/financial/credits/{user_id}/settings', {
          params: user(userId),
          body: input,
          headers: idempotent(key),
        }),
      ),
    onSuccess: (saved) => queries.setQueryData([...accountKey(userId), 'settings'], saved),
  });
}

export function useUsage(userId: number, range: { from: string; to: string }) {
  return useQuery({
    queryKey: [...accountKey(userId), 'usage', range.from, range.to],
    queryFn: () =>
      unwrap(api.GET('/api/financial/credits/{user_id}/usage', { params: { ...user(userId), query: range } })),
  });
}

export function usePayments(userId: number) {
  return useInfiniteQuery({
    queryKey: [...accountKey(userId), 'payments'],
    ...byCursor,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET('/api/stripe/invoices/{user_id}', {
          params: { ...user(userId), query: { limit: PAGE_SIZE, cursor: pageParam } },
        }),
      ),
  });
}

export function useSavedCard(userId: number) {
  return useQuery({
    queryKey: [...accountKey(userId), 'saved-card'],
    queryFn: () => unwrap(api.GET('/api/stripe/saved-card/{user_id}', { params: user(userId) })),
  });
}

export function useSubscriptions(userId: number) {
  return useQuery({
    queryKey: [...accountKey(userId), 'subscriptions'],
    queryFn: () => unwrap(api.GET('/api/stripe/subscriptions/{user_id}', { params: user(userId) })),
  });
}

/** Stripe's customer portal for the user: a link made on demand, then left for. */
export function usePortal(userId: number, go: (url: string) => void) {
  return useMutation({
    mutationFn: (returnUrl: string) =>
      unwrap(
        api.GET('/api/stripe/customer-portal', { params: { query: { user_id: userId, return_url: returnUrl } } }),
      ),
    onSuccess: (link) => go(link.url),
  });
}
