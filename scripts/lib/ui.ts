// Console output and failure reporting shared by every script.
// Kept free of zx so that tests can import modules that depend on it cheaply.

/** A failure the user can act on: what went wrong, then what to do about it. */
export class Fatal extends Error {
  constructor(
    message: string,
    readonly todo: readonly string[] = [],
    readonly details = '',
  ) {
    super(message);
    this.name = 'Fatal';
  }
}

export function fail(message: string, todo: readonly string[] = [], details = ''): never {
  throw new Fatal(message, todo, details);
}

const started = Date.now();

/** m:ss since `since` (default: since the script started). */
export function elapsed(since = started): string {
  const s = Math.round((Date.now() - since) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export const say = {
  step(title: string): void {
    console.log(`\n==> ${title}  [${elapsed()}]`);
  },
  info(line: string): void {
    console.log(`    ${line}`);
  },
  warn(line: string): void {
    console.error(`warning: ${line}`);
  },
};

/** Last `n` non-empty lines of a command's output, for error messages. */
export function tail(text: string, n = 40): string {
  const lines = text.trimEnd().split('\n');
  const shown = lines.slice(-n);
  const skipped = lines.length - shown.length;
  return (skipped > 0 ? `    … ${skipped} earlier lines omitted\n` : '') + shown.map((l) => `    | ${l}`).join('\n');
}

/**
 * Runs a script's entry point. A Fatal is printed as a message plus "what to do";
 * anything else is a bug in the scripts and keeps its stack trace.
 */
export function main(fn: () => Promise<void>): void {
  fn().catch((error: unknown) => {
    if (error instanceof Fatal) {
      console.error(`\nerror: ${error.message}`);
      if (error.details) console.error(error.details);
      if (error.todo.length > 0) {
        console.error('\nWhat to do:');
        for (const line of error.todo) console.error(`  ${line}`);
      }
    } else {
      console.error('\nerror: unexpected failure in the zmq-fd scripts (please report it):');
      console.error(error);
    }
    process.exitCode = 1;
  });
}
