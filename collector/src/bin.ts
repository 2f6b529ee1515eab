// install-beacon-collector: the receiving end for install-beacon's events.
import { isMainThread, workerData } from 'node:worker_threads';
import { sampleMemory } from './bench-memory.js';
import { benchMemoryFile, parseConfig, parsePrune, USAGE } from './config.js';
import { DRAIN_MS, prune, runCommand, start } from './main.js';
import { serveSqliteWorker, WORKER_FLAG } from './storage/sqlite-worker.js';

declare const __COLLECTOR_VERSION__: string;

async function main(): Promise<void> {
  if (process.argv[2] === 'prune') {
    const p = parsePrune(process.argv.slice(3), process.env, process.cwd());
    if (!p.ok) {
      process.stderr.write(`install-beacon-collector: ${p.error}\n`);
      process.exitCode = 1;
      return;
    }
    // SQLite in this thread: a running collector's writer waits at most its busy timeout (5 s) for this transaction.
    await prune(p.database, p.target, (line) => process.stdout.write(line + '\n')).catch((e: Error) => {
      process.stderr.write(`install-beacon-collector: prune failed: ${e.message}\n`);
      process.exitCode = 1;
    });
    return;
  }
  const parsed = parseConfig(process.argv.slice(2), process.env, process.cwd());
  if (parsed.ok === 'help') {
    process.stdout.write(`install-beacon-collector ${__COLLECTOR_VERSION__}\n\n${USAGE}\n`);
    return;
  }
  if (!parsed.ok) {
    process.stderr.write(`install-beacon-collector: ${parsed.error}\n`);
    process.exitCode = 1;
    return;
  }
  if (parsed.config.command.kind !== 'serve') {
    try {
      await runCommand(parsed.config, (line) => process.stdout.write(line + '\n'));
    } catch (e) {
      process.stderr.write(`install-beacon-collector: ${(e as Error).message}\n`);
      process.exit(1);
    }
    return;
  }
  let running;
  try {
    running = await start(parsed.config, (line) => process.stdout.write(line + '\n'), __filename);
  } catch (e) {
    process.stderr.write(`install-beacon-collector: ${(e as Error).message}\n`);
    // At once, whatever still holds the event loop: under a supervisor (Restart=always) a start that failed must end.
    process.exit(1);
  }
  const stop = () => {
    process.stdout.write('install-beacon-collector: shutting down (committing queued events)\n');
    // The last bound, for a database that does not answer: what is still queued was never acknowledged.
    setTimeout(() => {
      process.stderr.write(`install-beacon-collector: shutdown did not finish in ${(3 * DRAIN_MS) / 1000} s; exiting (unacknowledged events are not stored)\n`);
      process.exit(1);
    }, 3 * DRAIN_MS).unref();
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (!isMainThread && workerData?.[WORKER_FLAG]) {
  serveSqliteWorker(workerData[WORKER_FLAG]);
  // The benchmark's memory samples of this worker's own heap (bench-memory.ts); off unless asked for.
  const memory = benchMemoryFile(process.env, process.cwd());
  if (memory) sampleMemory(memory, 'sqlite worker');
} else void main();
