/** Who the user is (email and name, decrypted by the service) and what their wallet holds. */
import { Link } from 'react-router';
import { ExpiringList } from '../../../components/account/ExpiringList';
import { ErrorNotice } from '../../../components/ui/ErrorNotice';
import { Loading } from '../../../components/ui/Loading';
import { problemFrom } from '../../../lib/api';
import { formatCredits, formatDateTime } from '../../../lib/format';
import { useProfile } from './queries';

export function customerUrl(customerId: string): string {
  return `https://dashboard.stripe.com/customers/${encodeURIComponent(customerId)}`;
}

export function ProfilePanel({ userId }: { userId: number }) {
  const profile = useProfile(userId);
  const data = profile.data;
  return (
    <section className="card" aria-labelledby="user-profile">
      <h2 id="user-profile">Profile</h2>
      {profile.isPending ? (
        <Loading>Loading the profile…</Loading>
      ) : !data ? (
        problemFrom(profile.error).status === 404 ? (
          <p className="notice notice-error" role="alert" data-testid="user-unknown">
            No user {userId} has a wallet or a Stripe customer here. <Link to="/admin/users">Find another user</Link>
          </p>
        ) : (
          <ErrorNotice error={profile.error} what="The profile could not be loaded" onRetry={() => void profile.refetch()} />
        )
      ) : (
        <>
          {data.personal_data_erased && (
            <p className="notice" data-testid="user-erased">
              <strong>Personal data erased.</strong> This user’s email and name were erased on request; their ledger
              is kept.
            </p>
          )}
          <dl className="facts" data-testid="user-profile">
            <div>
              <dt>Email</dt>
              <dd className="wrap">{data.email ?? <span className="muted">None</span>}</dd>
            </div>
            <div>
              <dt>Name</dt>
              <dd className="wrap">{data.name ?? <span className="muted">None</span>}</dd>
            </div>
            <div>
              <dt>Stripe customer</dt>
              <dd className="wrap">
                {data.stripe_customer_id ? (
                  <a href={customerUrl(data.stripe_customer_id)} target="_blank" rel="noopener noreferrer" className="mono">
                    {data.stripe_customer_id} <span className="visually-hidden">in Stripe’s dashboard (opens in a new tab)</span>
                  </a>
                ) : (
                  <span className="muted">None</span>
                )}
              </dd>
            </div>
            <div>
              <dt>Balance</dt>
              <dd data-testid="user-balance" data-value={data.balance}>
                {formatCredits(data.balance)}
              </dd>
            </div>
            <div>
              <dt>Held</dt>
              <dd data-testid="user-held" data-value={data.held}>
                {formatCredits(data.held)}
              </dd>
            </div>
            <div>
              <dt>Low-balance alert below</dt>
              <dd>
                {data.low_balance_threshold === null ? (
                  <span className="muted">Service default</span>
                ) : (
                  formatCredits(data.low_balance_threshold)
                )}
              </dd>
            </div>
            <div>
              <dt>Personal data erased</dt>
              <dd data-testid="user-erased-flag">{data.personal_data_erased ? 'Yes' : 'No'}</dd>
            </div>
            <div>
              <dt>Wallet updated</dt>
              <dd>{data.updated_at ? formatDateTime(data.updated_at) : <span className="muted">Never</span>}</dd>
            </div>
          </dl>
          <h3 className="spaced">Expiring next</h3>
          <ExpiringList expiring={data.expiring} testId="user-expiring" />
        </>
      )}
    </section>
  );
}
