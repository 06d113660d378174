/** The admin's financial dashboard; other roles are told to sign in as the admin. */
import { AdminFinancialDashboard } from '../components/AdminFinancialDashboard';
import { useSession } from '../lib/session';

export function AdminPage() {
  const { session } = useSession();
  return (
    <>
      <h1 tabIndex={-1}>Admin dashboard</h1>
      {session?.role === 'admin' ? (
        <AdminFinancialDashboard />
      ) : (
        <p className="notice">
          This page is for admins. <a href="#/sign-in">Sign in as the admin</a> to see it.
        </p>
      )}
    </>
  );
}
