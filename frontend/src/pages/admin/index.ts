/** The admin console's pages, loaded together when an admin first opens one. */
export { AdminLayout } from './AdminLayout';
export { AuditPage } from './AuditPage';
export { DeliveriesPage } from './DeliveriesPage';
export { EndpointsPage } from './EndpointsPage';
export { UsersPage } from './UsersPage';
export { UserPage } from './UserPage';
export { WebhooksPage } from './WebhooksPage';
