/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react';
import { defineConfig, loadEnv } from 'vite';

// `npm run dev` proxies the API to the service (`make demo`: port 8000; another one with
// BILLING_API=http://127.0.0.1:8001), so the app calls it from its own origin, as it does
// when the service serves the build.
export default defineConfig(({ mode }) => ({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  server: {
    proxy: { '/api': loadEnv(mode, '.', 'BILLING_').BILLING_API ?? 'http://127.0.0.1:8000' },
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['src/test/setup.ts'],
    restoreMocks: true,
  },
}));
