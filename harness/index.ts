// The harness's typed API: ZeroMQ (zmq.ts), descriptors from the OS (os.ts)
// and bounded waiting (wait.ts), over the addon in src/addon.cpp (addon.ts).
// Tests import this module: `import * as zmq from '../harness/index.ts'`.
export * from './zmq.ts';
export * as os from './os.ts';
export { DEFAULT_TIMEOUT_MS, TimeoutError, waitUntil } from './wait.ts';
// Soak and faults: a raw ZMTP peer and process calls (raw.ts), the v2 monitor with pipe counts (monitor-v2.ts).
export * as raw from './raw.ts';
export { MonitorV2, type EventV2, type EventV2Name } from './monitor-v2.ts';
