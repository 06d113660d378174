/** The endpoints, each with its deliveries, a new secret, or its removal (both asked first). */
import { Link } from 'react-router';
import { TableScroll } from '../../../components/ui/TableScroll';
import { formatDateTime } from '../../../lib/format';
import type { Endpoint } from '../../../lib/schemas';
import { describeEvents } from './eventTypes';

export type EndpointAction = 'rotate' | 'delete';

export interface EndpointTableProps {
  endpoints: Endpoint[];
  onAction: (action: EndpointAction, endpoint: Endpoint) => void;
}

export function EndpointTable({ endpoints, onAction }: EndpointTableProps) {
  return (
    <TableScroll label="Webhook endpoints">
      <table className="table" data-testid="endpoint-table">
        <thead>
          <tr>
            <th scope="col">URL</th>
            <th scope="col">Events</th>
            <th scope="col">Created</th>
            <th scope="col">Secret</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {endpoints.map((endpoint) => (
            <tr key={endpoint.id} data-endpoint-id={endpoint.id}>
              <td>
                <span className="mono wrap">{endpoint.url}</span>
                {endpoint.description && <span className="hint block">{endpoint.description}</span>}
              </td>
              <td className="mono">{describeEvents(endpoint.events)}</td>
              <td className="nowrap">{formatDateTime(endpoint.created_at)}</td>
              <td>
                {endpoint.previous_secret_until
                  ? `Rotated; the old one signs too until ${formatDateTime(endpoint.previous_secret_until)}`
                  : 'One secret'}
              </td>
              <td>
                <div className="row-actions">
                  <Link
                    className="button secondary small"
                    to={`/admin/endpoints/${endpoint.id}`}
                    aria-label={`Deliveries to ${endpoint.url}`}
                  >
                    Deliveries
                  </Link>
                  <button
                    type="button"
                    className="button secondary small"
                    aria-label={`Rotate secret of ${endpoint.url}`}
                    onClick={() => onAction('rotate', endpoint)}
                  >
                    Rotate secret
                  </button>
                  <button
                    type="button"
                    className="button danger small"
                    aria-label={`Delete ${endpoint.url}`}
                    onClick={() => onAction('delete', endpoint)}
                  >
                    Delete
                  </button>
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}
