/**
 * `#/admin/users/:userId`: one user as the admin sees them: profile and wallet, granting
 * credits and voiding grants (each confirmed, each once however often it is retried),
 * their grants, holds, transactions, subscriptions, payments, settings and audit entries.
 */
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import '../../components/account/account.css';
import { formatCredits } from '../../lib/format';
import { AuditPanel, HoldsPanel, PaymentsPanel, SettingsPanel, SubscriptionsPanel, TransactionsPanel } from './users/ActivityPanels';
import { GrantForm } from './users/GrantForm';
import { GrantsPanel } from './users/GrantsPanel';
import { ProfilePanel } from './users/ProfilePanel';

export function UserPage() {
  const { userId = '' } = useParams();
  const id = /^[1-9]\d{0,17}$/.test(userId) && Number.isSafeInteger(Number(userId)) ? Number(userId) : null;
  if (id === null) {
    return (
      <>
        <h1 tabIndex={-1}>User</h1>
        <p className="notice notice-error" role="alert">
          “{userId}” is not a user id. <Link to="/admin/users">Find a user</Link>
        </p>
      </>
    );
  }
  return <User key={id} userId={id} />;
}

function User({ userId }: { userId: number }) {
  const [said, setSaid] = useState('');
  return (
    <>
      <p className="breadcrumb">
        <Link to="/admin/users">Users</Link>
      </p>
      <h1 tabIndex={-1}>User {userId}</h1>
      <p role="status" className="notice-slot" data-testid="user-said">
        {said && <span className="notice notice-success block">{said}</span>}
      </p>
      <ProfilePanel userId={userId} />
      <section className="card" aria-labelledby="user-grant">
        <h2 id="user-grant">Grant credits</h2>
        <GrantForm
          userId={userId}
          onGranted={(granted) =>
            setSaid(
              `Granted ${formatCredits(granted.amount)} (grant #${granted.grant.id}). The balance is now ${formatCredits(granted.balance)}.`,
            )
          }
        />
      </section>
      <GrantsPanel
        userId={userId}
        onVoided={(voided) =>
          setSaid(`Voided grant #${voided.grant.id}. The balance is now ${formatCredits(voided.balance)}.`)
        }
      />
      <div className="account-grid">
        <HoldsPanel userId={userId} />
        <SettingsPanel userId={userId} />
      </div>
      <TransactionsPanel userId={userId} />
      <SubscriptionsPanel userId={userId} />
      <PaymentsPanel userId={userId} />
      <AuditPanel userId={userId} />
    </>
  );
}
