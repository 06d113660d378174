/** The demo app: React Router over the URL fragment, with the routes of `routes.tsx`. */
import { useState } from 'react';
import { createHashRouter, RouterProvider } from 'react-router';
import { routes } from './routes';

export function App() {
  // Made once per mount, from the URL as it is then.
  const [router] = useState(() => createHashRouter(routes));
  return <RouterProvider router={router} />;
}
