/** Outbound webhook endpoints (create, rotate, delete) and each one's deliveries (retry). */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, idempotent, unwrap } from '../../../lib/api';
import {
  type CreateEndpointRequest,
  type DeliveryPage,
  type DeliveryStatus,
  PAGE_SIZE,
  POLL_MS,
} from '../types';

export const endpointsKey = ['admin', 'endpoints'] as const;
const deliveriesKey = (endpointId: number) => [...endpointsKey, endpointId, 'deliveries'] as const;

export function useEndpoints() {
  return useQuery({
    queryKey: endpointsKey,
    queryFn: () => unwrap(api.GET('/api/admin/webhook-endpoints')),
  });
}

/** An action with its idempotency key, made when the admin asked. */
export interface Keyed<T> {
  key: string;
  input: T;
}

// Secrets are in these answers: they are not kept once the page lets go of them.
const FORGET = { gcTime: 0 } as const;

export function useCreateEndpoint() {
  const queries = useQueryClient();
  return useMutation({
    ...FORGET,
    mutationFn: ({ key, input }: Keyed<CreateEndpointRequest>) =>
      unwrap(api.POST('/api/admin/webhook-endpoints', { body: input, headers: idempotent(key) })),
    onSuccess: () => queries.invalidateQueries({ queryKey: endpointsKey, exact: true }),
  });
}

export function useRotateSecret() {
  const queries = useQueryClient();
  return useMutation({
    ...FORGET,
    mutationFn: ({ key, input }: Keyed<number>) =>
      unwrap(
        api.POST('/api/admin/webhook-endpoints/{endpoint_id}/rotate-secret', {
          params: { path: { endpoint_id: input } },
          headers: idempotent(key),
        }),
      ),
    onSuccess: () => queries.invalidateQueries({ queryKey: endpointsKey, exact: true }),
  });
}

export function useDeleteEndpoint() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: ({ key, input }: Keyed<number>) =>
      unwrap(
        api.DELETE('/api/admin/webhook-endpoints/{endpoint_id}', {
          params: { path: { endpoint_id: input } },
          headers: idempotent(key),
        }),
      ),
    onSuccess: () => queries.invalidateQueries({ queryKey: endpointsKey }),
  });
}

function anyPending(pages: DeliveryPage[] | undefined): boolean {
  return pages?.some((page) => page.data.some((delivery) => delivery.status === 'pending')) ?? false;
}

export function useDeliveries(endpointId: number, status: DeliveryStatus | null) {
  return useInfiniteQuery({
    queryKey: [...deliveriesKey(endpointId), status ?? 'all'],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET('/api/admin/webhook-endpoints/{endpoint_id}/deliveries', {
          params: {
            path: { endpoint_id: endpointId },
            query: { status, cursor: pageParam, limit: PAGE_SIZE },
          },
        }),
      ),
    getNextPageParam: (last) => (last.has_more ? last.next_cursor : null),
    // A delivery in flight (first sends, retries) settles soon: look again until it has.
    refetchInterval: (query) => (anyPending(query.state.data?.pages) ? POLL_MS : false),
  });
}

export function useRetryDelivery(endpointId: number) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: ({ key, input }: Keyed<number>) =>
      unwrap(
        api.POST('/api/admin/webhook-deliveries/{delivery_id}/retry', {
          params: { path: { delivery_id: input } },
          headers: idempotent(key),
        }),
      ),
    onSuccess: () => queries.invalidateQueries({ queryKey: deliveriesKey(endpointId) }),
  });
}
