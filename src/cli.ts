import { check, explain, listen, machineSwitch, USAGE_ERROR } from './commands.js';
import { nearest } from './suggest.js';
import type { Env } from './env.js';
import { backgroundSend, postinstall, say } from './hook.js';
import { isOn } from './optout.js';
import { VARIABLES } from './template.js';
import { BEACON_VERSION } from './version.js';

// Command dispatch, loaded by bin.ts once the cheap opt-out checks have passed
// (or when a command was asked for).

export const HELP = `install-beacon ${BEACON_VERSION}: honest, anonymous install counts for npm packages

Usage:
  install-beacon [url-template]    postinstall mode: send one install event (always exits 0)
  install-beacon explain [--json]  what an install here would send, and why (never sends)
  install-beacon check [dir]       validate a package's config and setup; print an example URL and a README section
  install-beacon disable|enable    turn install-beacon off/on for every project of this user account
                                   (a file in its config dir; root, sudo and CI users each have their own)
  install-beacon status            show this account's switch, the environment's opt-outs and this project's setting
  install-beacon listen [--port N] a local collector on 127.0.0.1 that prints each request (default port 7707)
  install-beacon --help | --version

Template variables: ${VARIABLES.map((v) => `{${v}}`).join(' ')}
Opt out: DO_NOT_TRACK=1, SCARF_ANALYTICS=false, SCARF_NO_ANALYTICS=1, INSTALL_BEACON_DISABLED=1,
  "installBeacon": {"enabled": false} in your project's package.json, or \`install-beacon disable\`.
Debug: INSTALL_BEACON_DEBUG=1 prints the decision and URL and sends nothing.`;

const COMMANDS = ['explain', 'check', 'disable', 'enable', 'status', 'listen', 'help', '--help', '--version'];

const isUrl = (arg: string | undefined): boolean => !!arg && /^https?:\/\//i.test(arg);

/** True when argv means postinstall mode (no command, or a URL template). */
export function isPostinstallMode(args: string[]): boolean {
  return args.length === 0 || isUrl(args[0]);
}

export async function run(args: string[], binFile: string, env: Env): Promise<number> {
  const [command, ...rest] = args;
  if (isPostinstallMode(args)) {
    await postinstall(command, binFile);
    return 0;
  }
  switch (command) {
    case '__send':
      await backgroundSend(rest[0]);
      return 0;
    case 'explain':
      return explain(rest);
    case 'check':
      return check(rest);
    case 'disable':
    case 'enable':
    case 'status':
      return machineSwitch(command, rest);
    case 'listen':
      return listen(rest);
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(`${HELP}\n`);
      return 0;
    case '--version':
    case '-v':
      process.stdout.write(`${BEACON_VERSION}\n`);
      return 0;
    default:
      // Inside an install a typo in the author's script must not fail the user's install.
      // npx (and npm exec) set npm_lifecycle_event=npx: a person typed that word.
      if (env.npm_lifecycle_event && env.npm_lifecycle_event !== 'npx') {
        if (isOn(env.INSTALL_BEACON_DEBUG)) say(`install-beacon: unknown argument "${command}": nothing sent`);
        return 0;
      }
      {
        const near = nearest(command ?? '', COMMANDS);
        say(`install-beacon: unknown command "${command}"${near ? ` (did you mean "${near}"?)` : ''}\n\n${HELP}`);
      }
      return USAGE_ERROR;
  }
}
