/** The demo app shell: navigation, the development sign-in, and one page per route. */
import { lazy, type ReactNode, Suspense, useEffect, useRef } from 'react';
import { useRoute } from './lib/router';
import { useSession } from './lib/session';
import { CreditsPage } from './pages/CreditsPage';
import { PricingPage } from './pages/PricingPage';
import { SignInPage } from './pages/SignInPage';
import { SubscriptionPage } from './pages/SubscriptionPage';

// The dashboard's chart library is loaded only when an admin opens the page.
const AdminPage = lazy(() => import('./pages/AdminPage').then((module) => ({ default: module.AdminPage })));

const NAV = [
  { path: '/', label: 'Pricing' },
  { path: '/credits', label: 'Credits' },
  { path: '/subscription', label: 'Subscription' },
  { path: '/admin', label: 'Admin' },
];

export function App() {
  const route = useRoute();
  const { session, signOut } = useSession();
  const main = useRef<HTMLElement>(null);

  // A new page moves focus to its heading, so keyboard and screen reader users start there.
  useEffect(() => {
    const heading = main.current?.querySelector<HTMLElement>('h1');
    heading?.focus();
  }, [route.path]);

  function page(): ReactNode {
    if (route.path === '/sign-in') {
      return (
        <SignInPage
          onSignedIn={(role) => {
            window.location.hash = role === 'admin' ? '#/admin' : '#/credits';
          }}
        />
      );
    }
    if (route.path === '/' || route.path === '') return <PricingPage />;
    if (!NAV.some((item) => item.path === route.path)) {
      return (
        <>
          <h1 tabIndex={-1}>Page not found</h1>
          <p>
            <a href="#/">Back to pricing</a>
          </p>
        </>
      );
    }
    if (!session) {
      return (
        <>
          <h1 tabIndex={-1}>Please sign in</h1>
          <p>
            <a href="#/sign-in">Sign in</a> to see this page.
          </p>
        </>
      );
    }
    if (route.path === '/credits') return <CreditsPage userId={session.userId} route={route} />;
    if (route.path === '/subscription') {
      return <SubscriptionPage userId={session.userId} route={route} />;
    }
    return (
      <Suspense fallback={<p role="status">Loading the dashboard…</p>}>
        <AdminPage />
      </Suspense>
    );
  }

  return (
    <>
      <a className="skip-link" href="#main" onClick={(event) => {
        event.preventDefault();
        main.current?.focus();
      }}>
        Skip to content
      </a>
      <header className="site-header">
        <a className="brand" href="#/">
          Billing demo
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.path}>
                <a
                  href={`#${item.path}`}
                  aria-current={route.path === item.path ? 'page' : undefined}
                >
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          {session ? (
            <>
              <span data-testid="signed-in-as">
                {session.role === 'admin' ? 'Admin' : `User ${session.userId}`}
              </span>
              <button type="button" className="button link" onClick={signOut}>
                Sign out
              </button>
            </>
          ) : (
            <a href="#/sign-in">Sign in</a>
          )}
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {page()}
      </main>
    </>
  );
}
