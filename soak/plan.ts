// What the soaks are and what they report: names, descriptions, samples and
// results. Kept apart from cycles.ts, which loads the harness addon, so that
// `npm run soak` can check the build before it loads the addon.

export type SoakName = 'pair' | 'accept';

export const SOAKS: Record<SoakName, string> = {
  pair: 'socketpair → zmq_connect(fd://N), a new peer socket on the other end → one message → the peer closes → DISCONNECTED, fd N closed, endpoint gone (ENOENT)',
  accept:
    'zmq_bind(fd://L) on a TCP and a UNIX listener the soak made; each cycle a new peer socket connects with tcp:// or ipc:// (alternately), sends one message and closes → ACCEPTED, DISCONNECTED',
};

export interface Sample {
  cycle: number;
  /** Open descriptors of the process (/proc/self/fd). */
  fds: number;
  rssKiB: number;
  /** Pipes of the socket under test (zmq_socket_monitor_pipes_stats); null where that is unsafe. */
  pipes: number | null;
  /** Connections opened minus ended, from the monitor. */
  live: number;
  /** Milliseconds since the soak started. */
  ms: number;
}

export interface SoakResult {
  name: SoakName;
  what: string;
  cycles: number;
  every: number;
  baselineFds: number;
  opened: number;
  ended: number;
  samples: Sample[];
  seconds: number;
  /** Empty when the soak passed. */
  problems: string[];
}

/**
 * RSS is judged only against gross growth: the process's heap grows and
 * shrinks with V8's garbage collection, so a small rise means nothing. A
 * leak of a few hundred bytes per cycle over 100,000 cycles exceeds it.
 */
export const RSS_SLACK_KIB = 64 * 1024;
