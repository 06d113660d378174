/** Gates in the routes table: a page for signed-in users, and the admin console for admins. */
import { Outlet } from 'react-router';
import { type Session, useSession } from '../lib/session';

/** The session of a page under `RequireSession`, which renders nothing without one. */
export function signedIn(state: { session: Session | null }): Session {
  if (!state.session) throw new Error('this page is rendered under <RequireSession> only');
  return state.session;
}

export function RequireSession() {
  const { session } = useSession();
  if (session) return <Outlet />;
  return (
    <>
      <h1 tabIndex={-1}>Please sign in</h1>
      <p>
        <a href="#/sign-in">Sign in</a> to see this page.
      </p>
    </>
  );
}

export function RequireAdmin() {
  const { session } = useSession();
  if (session?.role === 'admin') return <Outlet />;
  return (
    <>
      <h1 tabIndex={-1}>Admin</h1>
      <p className="notice">
        This page is for admins. <a href="#/sign-in">Sign in as the admin</a> to see it.
      </p>
    </>
  );
}
