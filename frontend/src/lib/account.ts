/**
 * One user's account as the service keeps it (balance, grants, holds, history, settings,
 * usage, payments, saved card, subscriptions), through the typed client and TanStack
 * Query. The customer's pages and the admin's user page share these hooks and their cache
 * keys, all under `accountKey(userId)`, so an action invalidates one prefix and every
 * panel showing that user refreshes. Lists a person pages through ask 20 rows at a time.
 */
import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, idempotent, unwrap } from './api';
import type { components } from '../types/stripe';

type Schemas = components['schemas'];

export type Balance = Schemas['CreditBalance'];
export type Expiring = Schemas['ExpiringCredits'];
export type Transaction = Schemas['CreditHistoryItem'];
export type Grant = Schemas['Grant'];
export type GrantStatus = 'active' | 'depleted' | 'expired' | 'voided';
export type Hold = Schemas['Hold'];
export type Settings = Schemas['CreditSettingsView'];
export type SettingsInput = Schemas['CreditSettings'];
export type AutoTopupTerms = Schemas['AutoTopupTerms'];
export type UsageDay = Schemas['UsageDay'];
export type Payment = Schemas['PaymentRecord'];
export type SavedCard = Schemas['SavedCardView'];
export type Subscription = Schemas['SubscriptionView'];
export type AddCreditsInput = Schemas['AddCreditsRequest'];

/** Rows per page of every list here (the service allows up to 50 or 100). */
export const ROWS = 20;

export const accountKey = (userId: number) => ['account', userId] as const;

const next = (last: { has_more: boolean; next_cursor: string | null }) =>
  last.has_more ? last.next_cursor : null;
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
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET('/api/financial/credits/{user_id}/transactions', {
          params: { ...user(userId), query: { limit: ROWS, cursor: pageParam } },
        }),
      ),
    getNextPageParam: next,
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
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET('/api/financial/credits/{user_id}/holds', {
          params: { ...user(userId), query: { status: 'active', limit: ROWS, cursor: pageParam } },
        }),
      ),
    getNextPageParam: next,
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
    mutationFn: ({ key, input }: { key: string; input: SettingsInput }) =>
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
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET('/api/stripe/invoices/{user_id}', {
          params: { ...user(userId), query: { limit: ROWS, cursor: pageParam } },
        }),
      ),
    getNextPageParam: next,
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

/** The rows of every loaded page, in order. */
export function rows<T>(pages: { data: T[] }[] | undefined): T[] {
  return pages?.flatMap((page) => page.data) ?? [];
}
