export { AdminFinancialDashboard } from './AdminFinancialDashboard';
export type { AdminFinancialDashboardProps } from './AdminFinancialDashboard';
export type { DateRange } from './DateRangePicker';
export type { AdminDashboard } from './types';
