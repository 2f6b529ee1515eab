// `install-beacon-collector backup --db FILE OUT`: a consistent copy of the SQLite
// database while the collector runs. `VACUUM INTO` reads one snapshot in a single
// read transaction, which WAL lets run beside ingest's commits; sqlite3's
// `.backup` copies page by page and restarts whenever a commit changes the file,
// so under steady ingest it never finishes (issue 20, item 7).
//
// The copy is written beside OUT under a temporary name, fsynced (VACUUM INTO does
// not), and then linked to OUT, which must not exist: an interrupted backup leaves
// no file named OUT, and no backup overwrites another. The copy is created readable
// by its owner only, like the database.
import Database from 'better-sqlite3';
import { closeSync, existsSync, fsyncSync, linkSync, openSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface BackupResult {
  events: number;
  bytes: number;
}

const fsyncPath = (path: string, flags = 'r') => {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
};

export function backupSqlite(file: string, out: string): BackupResult {
  if (!existsSync(file)) throw new Error(`no database at ${file}`);
  if (existsSync(out)) throw new Error(`${out} exists already; a backup never overwrites a file`);
  const partial = join(dirname(out), `.${basename(out)}.partial-${process.pid}`);
  // An empty file of mode 0600 (VACUUM INTO accepts an empty file) that no one else is writing.
  closeSync(openSync(partial, 'wx', 0o600));
  try {
    const db = new Database(file, { fileMustExist: true, timeout: 5000 });
    try {
      db.prepare('VACUUM INTO ?').run(partial);
    } finally {
      db.close();
    }
    fsyncPath(partial, 'r+');
    const copy = new Database(partial, { readonly: true, fileMustExist: true });
    let events: number;
    try {
      const check = copy.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`the copy fails its check: ${String(check)}`);
      events = (copy.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
    } finally {
      copy.close();
    }
    linkSync(partial, out);
    fsyncPath(dirname(out));
    return { events, bytes: statSync(out).size };
  } finally {
    try {
      unlinkSync(partial);
    } catch {
      // Already gone: nothing to clean up.
    }
  }
}
