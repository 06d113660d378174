/**
 * The app's routes, in the URL fragment (`#/admin/webhooks?status=dead`): one page per
 * entry. A new page is one file under `pages/` and one line here; pages for signed-in
 * users go under `RequireSession`, admin pages under `admin`'s children (their code is
 * loaded only when an admin opens one).
 */
import { lazy } from 'react';
import { type RouteObject, useNavigate, useSearchParams } from 'react-router';
import { useSession } from './lib/session';
import { Layout } from './Layout';
import { BillingPage } from './pages/BillingPage';
import { CreditsPage } from './pages/CreditsPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { PricingPage } from './pages/PricingPage';
import { RequireAdmin, RequireSession, signedIn } from './pages/RequireSession';
import { RouteErrorPage } from './pages/RouteErrorPage';
import { SignInPage } from './pages/SignInPage';
import { SubscriptionPage } from './pages/SubscriptionPage';

// The admin console is one chunk; the dashboard's chart library another, of its own.
const admin = () => import('./pages/admin');
const AdminLayout = lazy(() => admin().then((m) => ({ default: m.AdminLayout })));
const WebhooksPage = lazy(() => admin().then((m) => ({ default: m.WebhooksPage })));
const EndpointsPage = lazy(() => admin().then((m) => ({ default: m.EndpointsPage })));
const DeliveriesPage = lazy(() => admin().then((m) => ({ default: m.DeliveriesPage })));
const AuditPage = lazy(() => admin().then((m) => ({ default: m.AuditPage })));
const UsersPage = lazy(() => admin().then((m) => ({ default: m.UsersPage })));
const UserPage = lazy(() => admin().then((m) => ({ default: m.UserPage })));
const DashboardPage = lazy(() => import('./pages/AdminPage').then((m) => ({ default: m.AdminPage })));

function SignIn() {
  const navigate = useNavigate();
  return <SignInPage onSignedIn={(role) => navigate(role === 'admin' ? '/admin' : '/credits')} />;
}

function Credits() {
  const [params] = useSearchParams();
  return <CreditsPage userId={signedIn(useSession()).userId} awaiting={params.get('session_id')} />;
}

function Billing() {
  return <BillingPage userId={signedIn(useSession()).userId} />;
}

function Subscription() {
  const [params] = useSearchParams();
  return <SubscriptionPage userId={signedIn(useSession()).userId} checkout={params.get('checkout')} />;
}

export const routes: RouteObject[] = [
  {
    element: <Layout />,
    errorElement: <RouteErrorPage />,
    children: [
      { index: true, element: <PricingPage /> },
      { path: 'sign-in', element: <SignIn /> },
      {
        element: <RequireSession />,
        children: [
          { path: 'credits', element: <Credits /> },
          { path: 'subscription', element: <Subscription /> },
          { path: 'billing', element: <Billing /> },
          {
            path: 'admin',
            element: <RequireAdmin />,
            children: [
              {
                element: <AdminLayout />,
                children: [
                  { index: true, element: <DashboardPage /> },
                  { path: 'users', element: <UsersPage /> },
                  { path: 'users/:userId', element: <UserPage /> },
                  { path: 'webhooks', element: <WebhooksPage /> },
                  { path: 'endpoints', element: <EndpointsPage /> },
                  { path: 'endpoints/:endpointId', element: <DeliveriesPage /> },
                  { path: 'audit', element: <AuditPage /> },
                ],
              },
            ],
          },
        ],
      },
      { path: '*', element: <NotFoundPage /> },
    ],
  },
];
