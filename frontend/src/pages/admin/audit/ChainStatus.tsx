/** The audit log's hash chain, verified by the service now: sealed through a head, or broken. */
import { ErrorNotice } from '../../../components/ui/ErrorNotice';
import { Loading } from '../../../components/ui/Loading';
import { formatNumber } from '../../../lib/format';
import { useAuditChain } from './queries';

export function ChainStatus() {
  const chain = useAuditChain();
  const data = chain.data;
  return (
    <section className="card" aria-labelledby="audit-chain" data-testid="audit-chain">
      <h2 id="audit-chain">Hash chain</h2>
      {chain.isPending ? (
        <Loading>Verifying the chain…</Loading>
      ) : !data ? (
        <ErrorNotice error={chain.error} what="The chain could not be verified" onRetry={() => void chain.refetch()} />
      ) : data.broken ? (
        <div className="notice notice-error" role="alert" data-state="broken">
          <p className="notice-text">
            <strong>Broken at seq {formatNumber(data.broken.seq)}:</strong> {data.broken.reason}
          </p>
          <p className="notice-text">
            Entry {formatNumber(data.broken.id)}; {formatNumber(data.sealed)} entries before it check out.
          </p>
        </div>
      ) : (
        <div className="notice notice-success" data-state={data.verified ? 'verified' : 'unverified'}>
          <p className="notice-text">
            {data.head_seq > 0 ? (
              <>
                Sealed through seq {formatNumber(data.head_seq)}, head hash{' '}
                <code className="hash" title={data.head_hash}>
                  {data.head_hash}
                </code>
                , {data.verified ? 'verified' : 'not verified'}.
              </>
            ) : (
              'Nothing sealed yet: the log is empty.'
            )}
          </p>
          {data.unsealed > 0 && (
            <p className="notice-text">
              {formatNumber(data.unsealed)} newer {data.unsealed === 1 ? 'entry waits' : 'entries wait'} to be
              sealed (within a second or so).
            </p>
          )}
        </div>
      )}
      <div className="actions">
        <button type="button" className="button secondary" disabled={chain.isFetching} onClick={() => void chain.refetch()}>
          {chain.isFetching && !chain.isPending ? 'Verifying…' : 'Verify again'}
        </button>
      </div>
    </section>
  );
}
