/**
 * `#/admin/endpoints/:endpointId`: what was sent to one endpoint, a page at a time, by
 * status; any delivery can be sent again now (the same `webhook-id`, fresh retries).
 */
import { useState } from 'react';
import { Link, useParams, useSearchParams } from 'react-router';
import { ErrorNotice } from '../../components/ui/ErrorNotice';
import { Loading } from '../../components/ui/Loading';
import { MoreRows } from '../../components/ui/MoreRows';
import { StatusFilter } from '../../components/ui/StatusFilter';
import { newIdempotencyKey } from '../../lib/api';
import { rows } from '../../lib/pages';
import type { DeliveryStatus } from '../../lib/schemas';
import { DeliveryTable } from './endpoints/DeliveryTable';
import { useDeliveries, useEndpoints, useRetryDelivery } from './endpoints/queries';

const STATUSES: { value: DeliveryStatus | 'all'; label: string }[] = [
  { value: 'all', label: 'All statuses' },
  { value: 'failed', label: 'Failed (out of retries)' },
  { value: 'pending', label: 'Pending' },
  { value: 'delivered', label: 'Delivered' },
];

function statusFrom(text: string | null): DeliveryStatus | null {
  const known = STATUSES.find((status) => status.value === text);
  return known && known.value !== 'all' ? known.value : null;
}

export function DeliveriesPage() {
  const { endpointId = '' } = useParams();
  const id = /^[1-9]\d{0,17}$/.test(endpointId) ? Number(endpointId) : null;
  if (id === null) {
    return (
      <>
        <h1 tabIndex={-1}>Deliveries</h1>
        <p className="notice notice-error" role="alert">
          There is no endpoint “{endpointId}”. <Link to="/admin/endpoints">Back to the endpoints</Link>
        </p>
      </>
    );
  }
  return <Deliveries endpointId={id} />;
}

function Deliveries({ endpointId }: { endpointId: number }) {
  const [params, setParams] = useSearchParams();
  const status = statusFrom(params.get('status'));
  const endpoint = useEndpoints().data?.data.find((item) => item.id === endpointId);
  const deliveries = useDeliveries(endpointId, status);
  const retry = useRetryDelivery(endpointId);
  const [said, setSaid] = useState('');
  const sent = rows(deliveries.data?.pages);

  return (
    <>
      <p className="breadcrumb">
        <Link to="/admin/endpoints">Endpoints</Link>
      </p>
      <h1 tabIndex={-1}>
        Deliveries{endpoint ? ' to ' : ''}
        {endpoint && <span className="mono wrap">{endpoint.url}</span>}
      </h1>
      <StatusFilter
        options={STATUSES}
        value={status ?? 'all'}
        onChange={(value) => setParams({ status: value }, { replace: true })}
      />
      <p role="status" className="hint" data-testid="deliveries-said">
        {said}
      </p>
      {retry.isError && <ErrorNotice error={retry.error} what="The delivery was not retried" />}
      <section className="card" aria-label="Deliveries">
        {deliveries.isPending ? (
          <Loading>Loading deliveries…</Loading>
        ) : !deliveries.data ? (
          <ErrorNotice
            error={deliveries.error}
            what="The deliveries could not be loaded"
            onRetry={() => void deliveries.refetch()}
          />
        ) : sent.length === 0 ? (
          <p className="muted" data-testid="deliveries-empty">
            {status ? `No ${status} deliveries.` : 'Nothing was sent to this endpoint yet.'}
          </p>
        ) : (
          <>
            <DeliveryTable
              deliveries={sent}
              retrying={retry.isPending ? (retry.variables?.input ?? null) : null}
              onRetry={(delivery) => {
                setSaid('');
                retry.mutate(
                  { key: newIdempotencyKey(), input: delivery.id },
                  { onSuccess: (queued) => setSaid(`Delivery #${queued.id} is queued to be sent again now.`) },
                );
              }}
            />
            <MoreRows
              query={deliveries}
              label="Show older deliveries"
              moreFailed="More deliveries could not be loaded"
              refreshFailed="The deliveries could not be refreshed"
            />
          </>
        )}
      </section>
    </>
  );
}
