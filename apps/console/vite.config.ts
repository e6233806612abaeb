import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The console is served by the control plane at `/` (same origin as /graphql), so assets are
// absolute. `vite` (dev) proxies /graphql to a control plane on :4000.
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1024 },
  server: { proxy: { '/graphql': { target: 'http://127.0.0.1:4000', ws: true } } },
});
