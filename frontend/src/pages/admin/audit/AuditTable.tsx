/** A page of audit entries, newest first; each one's details as the service recorded them. */
import { TableScroll } from '../../../components/ui/TableScroll';
import { formatDateTime, formatNumber } from '../../../lib/format';
import type { AuditEntry } from '../../../lib/schemas';

export function AuditTable({ entries }: { entries: AuditEntry[] }) {
  return (
    <TableScroll label="Audit entries">
      <table className="table" data-testid="audit-table">
        <thead>
          <tr>
            <th scope="col">Seq</th>
            <th scope="col">When</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            <th scope="col">Target</th>
            <th scope="col">User</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((entry) => (
            <tr key={entry.id} data-action={entry.action}>
              <td>{entry.seq === null ? <span className="muted">not sealed yet</span> : formatNumber(entry.seq)}</td>
              <td className="nowrap">{formatDateTime(entry.created_at)}</td>
              <td className="mono">{entry.actor}</td>
              <td className="mono">{entry.action}</td>
              <td className="mono wrap">{entry.target}</td>
              <td>{entry.user_id === null ? '—' : formatNumber(entry.user_id)}</td>
              <td>
                {entry.details || entry.request_id ? (
                  <details>
                    <summary>Show</summary>
                    {entry.request_id && (
                      <p className="hint">
                        Request <span className="mono">{entry.request_id}</span>
                      </p>
                    )}
                    {entry.details && <pre className="json">{JSON.stringify(entry.details, null, 2)}</pre>}
                  </details>
                ) : (
                  '—'
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}
