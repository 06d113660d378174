/** The app's shell: skip link, main navigation, who is signed in, and the page. */
import { useQueryClient } from '@tanstack/react-query';
import { Suspense, useRef } from 'react';
import { NavLink, Outlet } from 'react-router';
import { Loading } from './components/ui/Loading';
import { NavList } from './components/ui/NavList';
import { useSession } from './lib/session';
import { usePageFocus } from './lib/usePageFocus';

const NAV = [
  { to: '/', label: 'Pricing', end: true },
  { to: '/credits', label: 'Credits', end: false },
  { to: '/subscription', label: 'Subscription', end: false },
  { to: '/billing', label: 'Billing', end: false },
  { to: '/admin', label: 'Admin', end: false },
];

export function Layout() {
  const { session, signOut } = useSession();
  const queries = useQueryClient();
  const main = useRef<HTMLElement>(null);
  usePageFocus(main);

  return (
    <>
      <a
        className="skip-link"
        href="#main"
        onClick={(event) => {
          event.preventDefault();
          main.current?.focus();
        }}
      >
        Skip to content
      </a>
      <header className="site-header">
        <a className="brand" href="#/">
          Billing demo
        </a>
        <NavList label="Main" items={NAV} />
        <div className="who">
          {session ? (
            <>
              <span data-testid="signed-in-as">
                {session.role === 'admin' ? 'Admin' : `User ${session.userId}`}
              </span>
              <button
                type="button"
                className="button link"
                onClick={() => {
                  signOut();
                  queries.clear(); // nothing one user fetched is shown to the next
                }}
              >
                Sign out
              </button>
            </>
          ) : (
            <NavLink to="/sign-in">Sign in</NavLink>
          )}
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <Suspense fallback={<Loading>Loading the page…</Loading>}>
          <Outlet />
        </Suspense>
      </main>
    </>
  );
}
