#ifndef CAAS_SPAWN_H
#define CAAS_SPAWN_H

#include <sys/types.h>

/// Starts `path` (looked up in PATH when `search_path` is set) with `argv` and `envp`, with
/// `in_fd`, `out_fd` and `err_fd` as its standard input, output and error, in `directory` when it
/// is not NULL, and with no other descriptor of this process: glibc's closefrom file action closes
/// everything from 3 up in the child, whichever thread opened it and whether or not it was
/// close-on-exec. SIGPIPE is back to its default (the Swift runtime ignores it, and an ignored
/// signal survives exec). Returns 0 or an errno value, as posix_spawn does.
int caas_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], const char *directory,
               int in_fd, int out_fd, int err_fd, int search_path);

/// pipe2(fds, O_CLOEXEC): a pipe neither end of which leaks into any child. 0, or -1 with errno.
int caas_pipe_cloexec(int fds[2]);

/// open(path, flags | O_CLOEXEC, mode). The descriptor, or -1 with errno.
int caas_open_cloexec(const char *path, int flags, mode_t mode);

#endif
