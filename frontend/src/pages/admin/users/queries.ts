/** The admin's view of users: search, a user's profile, and granting or voiding credits. */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { accountKey } from '../../../lib/account';
import { api, idempotent, type Keyed, unwrap } from '../../../lib/api';
import type { AddCreditsInput } from '../../../lib/schemas';
import { auditKey } from '../audit/queries';

export const usersKey = ['admin', 'users'] as const;

export function useUserSearch(query: string) {
  return useQuery({
    queryKey: [...usersKey, 'search', query],
    queryFn: () => unwrap(api.GET('/api/admin/users', { params: { query: { query } } })),
    enabled: query.length > 0,
    placeholderData: keepPreviousData,
  });
}

export function useProfile(userId: number) {
  return useQuery({
    queryKey: [...accountKey(userId), 'profile'],
    queryFn: () => unwrap(api.GET('/api/admin/users/{user_id}', { params: { path: { user_id: userId } } })),
  });
}

function useRefreshUser(userId: number) {
  const queries = useQueryClient();
  return () =>
    Promise.all([
      queries.invalidateQueries({ queryKey: accountKey(userId) }),
      queries.invalidateQueries({ queryKey: usersKey }),
      queries.invalidateQueries({ queryKey: auditKey }),
    ]);
}

export function useAddCredits(userId: number) {
  const refresh = useRefreshUser(userId);
  return useMutation({
    mutationFn: ({ key, input }: Keyed<AddCreditsInput>) =>
      unwrap(
        api.POST('/api/financial/credits/{user_id}/add', {
          params: { path: { user_id: userId } },
          body: input,
          headers: idempotent(key),
        }),
      ),
    onSuccess: () => void refresh(),
  });
}

export function useVoidGrant(userId: number) {
  const refresh = useRefreshUser(userId);
  return useMutation({
    mutationFn: ({ key, input }: Keyed<{ grantId: number; reason: string }>) =>
      unwrap(
        api.POST('/api/financial/credits/{user_id}/grants/{grant_id}/void', {
          params: { path: { user_id: userId, grant_id: input.grantId } },
          body: { reason: input.reason },
          headers: idempotent(key),
        }),
      ),
    onSuccess: () => void refresh(),
  });
}
