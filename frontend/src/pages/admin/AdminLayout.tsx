/** The admin console: its own navigation above each admin page. */
import { Suspense } from 'react';
import { NavLink, Outlet } from 'react-router';
import { Loading } from '../../components/ui/Loading';

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
      <nav aria-label="Admin" className="subnav">
        <ul>
          {ADMIN_NAV.map((item) => (
            <li key={item.to}>
              <NavLink to={item.to} end={item.end}>
                {item.label}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <Suspense fallback={<Loading>Loading the page…</Loading>}>
        <Outlet />
      </Suspense>
    </>
  );
}
