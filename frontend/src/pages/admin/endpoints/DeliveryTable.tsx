/** A page of one endpoint's deliveries, newest first, each one to send again on demand. */
import { TableScroll } from '../../../components/ui/TableScroll';
import { StatusBadge } from '../../../components/ui/StatusBadge';
import { formatDateTime, formatNumber } from '../../../lib/format';
import type { Delivery } from '../../../lib/schemas';

export interface DeliveryTableProps {
  deliveries: Delivery[];
  /** The delivery being retried now, if any. */
  retrying: number | null;
  onRetry: (delivery: Delivery) => void;
}

function answer(delivery: Delivery): string {
  if (delivery.last_status_code !== null) return `HTTP ${delivery.last_status_code}`;
  return delivery.last_error ?? '—';
}

function when(delivery: Delivery): string {
  if (delivery.delivered_at) return `Delivered ${formatDateTime(delivery.delivered_at)}`;
  if (delivery.status === 'pending' && delivery.next_attempt_at) {
    return `Next try ${formatDateTime(delivery.next_attempt_at)}`;
  }
  return '—';
}

export function DeliveryTable({ deliveries, retrying, onRetry }: DeliveryTableProps) {
  return (
    <TableScroll label="Deliveries">
      <table className="table" data-testid="delivery-table">
        <thead>
          <tr>
            <th scope="col">Delivery</th>
            <th scope="col">Event</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last answer</th>
            <th scope="col">Created</th>
            <th scope="col">Delivered / next</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          {deliveries.map((delivery) => (
            <tr key={delivery.id} data-delivery-id={delivery.id} data-status={delivery.status}>
              <td>
                <span className="mono">#{delivery.id}</span>
                <span className="hint block mono wrap">{delivery.message_id}</span>
              </td>
              <td className="mono">{delivery.type}</td>
              <td>
                <StatusBadge status={delivery.status} />
              </td>
              <td data-testid="delivery-attempts">{formatNumber(delivery.attempts)}</td>
              <td className="clip" title={delivery.last_error ?? undefined}>
                {answer(delivery)}
              </td>
              <td className="nowrap">{formatDateTime(delivery.created_at)}</td>
              <td className="nowrap">{when(delivery)}</td>
              <td>
                <button
                  type="button"
                  className="button secondary small"
                  aria-label={`Retry delivery ${delivery.id}`}
                  aria-disabled={retrying !== null}
                  onClick={() => {
                    if (retrying === null) onRetry(delivery);
                  }}
                >
                  {retrying === delivery.id ? 'Retrying…' : 'Retry'}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}
