/** Outbound webhook endpoints (create, rotate, delete) and each one's deliveries (retry). */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, idempotent, type Keyed, unwrap } from '../../../lib/api';
import { anyPending, byCursor, PAGE_SIZE, POLL_MS } from '../../../lib/pages';
import type { CreateEndpointRequest, DeliveryStatus } from '../../../lib/schemas';

export const endpointsKey = ['admin', 'endpoints'] as const;
const deliveriesKey = (endpointId: number) => [...endpointsKey, endpointId, 'deliveries'] as const;

export function useEndpoints() {
  return useQuery({
    queryKey: endpointsKey,
    queryFn: () => unwrap(api.GET('/api/admin/webhook-endpoints')),
  });
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

export function useDeliveries(endpointId: number, status: DeliveryStatus | null) {
  return useInfiniteQuery({
    queryKey: [...deliveriesKey(endpointId), status ?? 'all'],
    ...byCursor,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET('/api/admin/webhook-endpoints/{endpoint_id}/deliveries', {
          params: {
            path: { endpoint_id: endpointId },
            query: { status, cursor: pageParam, limit: PAGE_SIZE },
          },
        }),
      ),
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
