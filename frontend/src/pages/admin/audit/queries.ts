/** The audit log, filtered and paged by its cursor, and its hash chain verified now. */
import { keepPreviousData, useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../../../lib/api';
import { byCursor, PAGE_SIZE } from '../../../lib/pages';

/** The filters as the API takes them; absent ones are not sent. */
export interface AuditFilters {
  actor?: string;
  action?: string;
  target?: string;
  user_id?: number;
  /** Inclusive, an ISO time with its zone. */
  from?: string;
  /** Exclusive, an ISO time with its zone. */
  to?: string;
}

export const auditKey = ['admin', 'audit'] as const;

export function useAuditLog(filters: AuditFilters) {
  return useInfiniteQuery({
    queryKey: [...auditKey, 'entries', filters],
    ...byCursor,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET('/api/admin/audit', {
          params: { query: { ...filters, cursor: pageParam, limit: PAGE_SIZE } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

export function useAuditChain() {
  return useQuery({
    queryKey: [...auditKey, 'chain'],
    // It walks the whole log: asked once per visit, and again on demand.
    queryFn: () => unwrap(api.GET('/api/admin/audit/chain')),
    staleTime: 60_000,
  });
}
