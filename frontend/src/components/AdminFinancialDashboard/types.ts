/**
 * The admin dashboard's JSON, as agreed for `GET /api/financial/admin/dashboard`
 * (helpers/interfaces.md). Money in minor units, rates in [0, 1], dates as UTC days.
 * Once the route is in the OpenAPI document the client uses the generated type instead,
 * and the compiler checks this component against it.
 */
export interface RevenueTotal {
  currency: string;
  gross: number;
  refunded: number;
  net: number;
}

export interface DailyRevenue extends RevenueTotal {
  date: string;
}

export interface AdminDashboard {
  range: { from: string; to: string };
  revenue: { by_currency: RevenueTotal[]; daily: DailyRevenue[] };
  recurring: { currency: string; mrr: number; arr: number }[];
  subscriptions: { active: number; new: number; canceled: number; churn_rate: number };
  payments: { succeeded: number; failed: number; failure_rate: number };
  credits: {
    issued: number;
    spent: number;
    expired: number;
    voided: number;
    /** The liability: `liability.paid + liability.promotional + liability.held`. */
    outstanding: number;
    liability: { paid: number; promotional: number; held: number };
    /** `expired`, by the source of the grants that expired unused. */
    breakage: { paid: number; promotional: number };
  };
  top_users: { user_id: number; spent: number }[];
  webhooks: {
    received: number;
    processed: number;
    failed: number;
    dead: number;
    ignored: number;
    lag_p50_seconds: number | null;
    lag_p95_seconds: number | null;
  };
}
