/**
 * `#/admin/audit`: who did what, newest first, by actor, action, target, user and time,
 * a page at a time by the log's cursor; and the state of its hash chain.
 */
import { useSearchParams } from 'react-router';
import { ErrorNotice } from '../../components/ui/ErrorNotice';
import { Loading } from '../../components/ui/Loading';
import { MoreRows } from '../../components/ui/MoreRows';
import { rows } from '../../lib/pages';
import { AuditFilterForm } from './audit/AuditFilterForm';
import { AuditTable } from './audit/AuditTable';
import { ChainStatus } from './audit/ChainStatus';
import { filtersFrom } from './audit/filters';
import { type AuditFilters, useAuditLog } from './audit/queries';

function toParams(filters: AuditFilters): Record<string, string> {
  return Object.fromEntries(Object.entries(filters).map(([name, value]) => [name, String(value)]));
}

export function AuditPage() {
  const [params, setParams] = useSearchParams();
  const filters = filtersFrom(params);
  const log = useAuditLog(filters);
  const entries = rows(log.data?.pages);
  const filtered = Object.keys(filters).length > 0;

  return (
    <>
      <h1 tabIndex={-1}>Audit log</h1>
      <ChainStatus />
      <section className="card" aria-labelledby="audit-entries">
        <h2 id="audit-entries">Entries</h2>
        <AuditFilterForm
          key={params.toString()}
          filters={filters}
          onApply={(next) => setParams(toParams(next))}
        />
        {log.isPending ? (
          <Loading>Loading entries…</Loading>
        ) : !log.data ? (
          <ErrorNotice error={log.error} what="The audit log could not be loaded" onRetry={() => void log.refetch()} />
        ) : entries.length === 0 ? (
          <p className="muted" data-testid="audit-empty">
            {filtered ? 'No entries match these filters.' : 'The audit log is empty.'}
          </p>
        ) : (
          <>
            <AuditTable entries={entries} />
            <MoreRows
              query={log}
              label="Show older entries"
              moreFailed="More entries could not be loaded"
              refreshFailed="The audit log could not be refreshed"
            />
          </>
        )}
      </section>
    </>
  );
}
