/**
 * A user's grants by status, in consumption order (what is spent first, first), with
 * their source, what remains, priority and expiry; an active grant can be voided (what
 * remains of it leaves the balance) after a confirmation that asks why.
 */
import { useId, useState } from 'react';
import { ConfirmDialog } from '../../../components/ui/ConfirmDialog';
import { ErrorNotice } from '../../../components/ui/ErrorNotice';
import { Loading } from '../../../components/ui/Loading';
import { StatusFilter } from '../../../components/ui/StatusFilter';
import { TableScroll } from '../../../components/ui/TableScroll';
import { useGrants } from '../../../lib/account';
import { newIdempotencyKey } from '../../../lib/api';
import { formatCredits, formatDateTime, formatNumber } from '../../../lib/format';
import type { Grant, GrantStatus, Voided } from '../../../lib/schemas';
import { useVoidGrant } from './queries';

const STATUSES: { value: GrantStatus | 'all'; label: string }[] = [
  { value: 'active', label: 'Active' },
  { value: 'depleted', label: 'Depleted' },
  { value: 'expired', label: 'Expired' },
  { value: 'voided', label: 'Voided' },
  { value: 'all', label: 'All' },
];
const SOURCES: Record<string, string> = {
  purchase: 'Purchase',
  subscription: 'Subscription',
  topup: 'Top-up',
  auto_topup: 'Auto top-up',
  admin: 'Admin grant',
  promotion: 'Promotion',
};
const STATUS_WORDS: Record<string, string> = {
  active: 'Active',
  depleted: 'Depleted',
  expired: 'Expired',
  voided: 'Voided',
};

export function GrantsPanel({ userId, onVoided }: { userId: number; onVoided: (voided: Voided) => void }) {
  const [status, setStatus] = useState<GrantStatus | 'all'>('active');
  const [voiding, setVoiding] = useState<Grant | null>(null);
  const grants = useGrants(userId, status === 'all' ? null : status);
  const list = grants.data?.data ?? [];
  const label = STATUSES.find((option) => option.value === status)?.label.toLowerCase() ?? status;

  return (
    <section className="card" aria-labelledby="user-grants" aria-busy={grants.isFetching}>
      <div className="panel-head">
        <h2 id="user-grants">Grants</h2>
        <StatusFilter options={STATUSES} value={status} onChange={setStatus} />
      </div>
      {grants.isPending ? (
        <Loading>Loading grants…</Loading>
      ) : !grants.data ? (
        <ErrorNotice error={grants.error} what="The grants could not be loaded" onRetry={() => void grants.refetch()} />
      ) : list.length === 0 ? (
        <p className="muted" data-testid="grants-empty">
          {status === 'all' ? 'No grants yet.' : `No ${label} grants.`}
        </p>
      ) : (
        <>
          {grants.isError && <ErrorNotice error={grants.error} what="The grants could not be refreshed" />}
          <TableScroll label="Table of grants">
            <table className="table" data-testid="grants-table">
              <thead>
                <tr>
                  <th scope="col">Grant</th>
                  <th scope="col">Source</th>
                  <th scope="col" className="number">
                    Remaining
                  </th>
                  <th scope="col" className="number">
                    Priority
                  </th>
                  <th scope="col">Expires</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((grant) => (
                  <tr key={grant.id} data-grant-id={grant.id} data-status={grant.status}>
                    <th scope="row" className="nowrap">
                      #{grant.id}
                      <span className="block hint">{formatDateTime(grant.created_at)}</span>
                    </th>
                    <td>{SOURCES[grant.source] ?? grant.source}</td>
                    <td className="number nowrap" data-value={grant.remaining}>
                      {formatNumber(grant.remaining)} <span className="muted">of {formatNumber(grant.amount)}</span>
                    </td>
                    <td className="number">{formatNumber(grant.priority)}</td>
                    <td className="nowrap" data-expires-at={grant.expires_at ?? ''}>
                      {grant.expires_at ? formatDateTime(grant.expires_at) : <span className="muted">Never</span>}
                    </td>
                    <td>
                      <span className={`badge badge-${grant.status}`}>{STATUS_WORDS[grant.status] ?? grant.status}</span>
                    </td>
                    <td>
                      {grant.status === 'active' && (
                        <button type="button" className="button secondary small" onClick={() => setVoiding(grant)}>
                          Void <span className="visually-hidden">{`grant #${grant.id}`}</span>
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        </>
      )}
      {voiding && (
        <VoidDialog
          userId={userId}
          grant={voiding}
          onClose={() => setVoiding(null)}
          onVoided={(voided) => {
            setVoiding(null);
            onVoided(voided);
          }}
        />
      )}
    </section>
  );
}

interface VoidDialogProps {
  userId: number;
  grant: Grant;
  onVoided: (voided: Voided) => void;
  onClose: () => void;
}

function VoidDialog({ userId, grant, onVoided, onClose }: VoidDialogProps) {
  const [key] = useState(newIdempotencyKey);
  const [reason, setReason] = useState('');
  const [missing, setMissing] = useState(false);
  const remove = useVoidGrant(userId);
  const fieldId = useId();

  const error = missing ? (
    <p className="notice notice-error" role="alert">
      Say why the grant is voided.
    </p>
  ) : remove.isError ? (
    <ErrorNotice error={remove.error} what="The grant was not voided" />
  ) : null;

  return (
    <ConfirmDialog
      title={`Void grant #${grant.id}?`}
      confirmLabel="Void grant"
      busyLabel="Voiding…"
      danger
      busy={remove.isPending}
      error={error}
      onConfirm={() => {
        if (!reason.trim()) {
          setMissing(true);
          document.getElementById(fieldId)?.focus();
          return;
        }
        setMissing(false);
        remove.mutate({ key, input: { grantId: grant.id, reason: reason.trim() } }, { onSuccess: onVoided });
      }}
      onCancel={onClose}
    >
      <p>
        The {formatCredits(grant.remaining)} that remain of this {SOURCES[grant.source]?.toLowerCase() ?? grant.source}{' '}
        grant leave the user’s balance now. This cannot be undone.
      </p>
      <div className="field">
        <label htmlFor={fieldId}>Reason</label>
        <input
          id={fieldId}
          maxLength={500}
          value={reason}
          aria-invalid={missing || undefined}
          onChange={(event) => setReason(event.target.value)}
        />
      </div>
    </ConfirmDialog>
  );
}
