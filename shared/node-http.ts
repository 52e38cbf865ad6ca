// node:http, loaded the CommonJS way.
//
// Contract: `nodeHttp` is Node's http module (Deno's node:http on Deno),
// the same object `import * as http from 'node:http'` would give, but
// loaded without building an ES module namespace of it.
//
// Why: an ES import of a built-in reads every export to fill the namespace,
// and Node 24's http exports WebSocket, MessageEvent and CloseEvent as lazy
// getters that load its bundled undici and web streams. The controller uses
// none of them. Measured in a bare node 24.21 (a one-line module, RSS one
// second later): `import 'node:http'` 57.8 MiB (heap 7.3), getBuiltinModule
// 44.6 MiB (heap 4.6), the same undici load the controller's profile showed.
// Types still come from `import type`, which leaves no import behind.
import { createRequire } from 'node:module';

type HttpModule = typeof import('node:http');

function loadHttp(): HttpModule {
  // process.getBuiltinModule: Node >= 20.16 / 22.3; a require otherwise (a
  // built-in resolves from any base path, so no import.meta, which the
  // extension's CommonJS bundle does not have).
  if (typeof process.getBuiltinModule === 'function') return process.getBuiltinModule('node:http') as HttpModule;
  return createRequire('/')('node:http') as HttpModule;
}

export const nodeHttp: HttpModule = loadHttp();
