/*
 * /usr/bin/env for the musl root of test/libc-musl.test.ts: a package's bin
 * starts with `#!/usr/bin/env node`, and Debian has no musl-built coreutils
 * or busybox. Only what a shebang asks of env: `env PROGRAM ARGS...` runs
 * PROGRAM found on PATH.
 *
 * Linked against musl's libc.so by scripts/fetch-musl.sh with the host's gcc,
 * -nostdlib (so no glibc start files): _start below does what musl's crt1
 * does, handing argc and argv to __libc_start_main.
 */

int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void), void (*fini)(void), void (*ldso_fini)(void));
int execvp(const char *file, char *const argv[]);
int dprintf(int fd, const char *fmt, ...);
int *__errno_location(void);
char *strerror(int e);

static int env_main(int argc, char **argv, char **envp) {
  (void)envp;
  if (argc < 2) {
    dprintf(2, "env: usage: env PROGRAM [ARGS...]\n");
    return 125;
  }
  execvp(argv[1], argv + 1);
  int e = *__errno_location();
  dprintf(2, "env: %s: %s\n", argv[1], strerror(e));
  return e == 2 ? 127 : 126; /* ENOENT: not found */
}

void start_c(long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  __libc_start_main(env_main, argc, argv, 0, 0, 0);
}

__asm__(
    ".text\n"
    ".global _start\n"
    "_start:\n"
    "  xor %rbp, %rbp\n"
    "  mov %rsp, %rdi\n"
    "  andq $-16, %rsp\n"
    "  call start_c\n"
    "  hlt\n");
