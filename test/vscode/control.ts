// A loopback HTTP endpoint through which the extension-host tests (inside
// VS Code) ask the harness to stop and start the live controller, so a test
// can watch the extension notice a controller that is really gone.
// POST <url>/<action>; 204 when done. Bound to 127.0.0.1, closed afterwards.
import { createServer } from 'node:http';

export async function startControlServer(actions: Record<string, () => Promise<void>>): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const action = actions[new URL(req.url ?? '/', 'http://localhost').pathname.slice(1)];
    if (req.method !== 'POST' || !action) {
      res.writeHead(404).end();
      return;
    }
    action().then(
      () => res.writeHead(204).end(),
      (err: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(err instanceof Error ? err.message : String(err)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
