/** The admin console: its own navigation above each admin page. */
import { Suspense } from 'react';
import { Outlet } from 'react-router';
import { Loading } from '../../components/ui/Loading';
import { NavList } from '../../components/ui/NavList';

export const ADMIN_NAV = [
  { to: '/admin', label: 'Dashboard', end: true },
  { to: '/admin/users', label: 'Users', end: false },
  { to: '/admin/webhooks', label: 'Webhooks', end: false },
  { to: '/admin/endpoints', label: 'Endpoints', end: false },
  { to: '/admin/audit', label: 'Audit', end: false },
];

export function AdminLayout() {
  return (
    <>
      <NavList label="Admin" items={ADMIN_NAV} className="subnav" />
      <Suspense fallback={<Loading>Loading the page…</Loading>}>
        <Outlet />
      </Suspense>
    </>
  );
}
