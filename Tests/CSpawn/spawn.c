// Swift's Glibc module does not show these (closefrom and pipe2 are GNU extensions), so the tests
// reach them through this file. glibc 2.34 or later (Debian 12 has 2.36).
#define _GNU_SOURCE
#include "caas_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

int caas_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], const char *directory,
               int in_fd, int out_fd, int err_fd, int search_path) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&attributes);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return rc;
    }
    // dup2 onto 0, 1 and 2 clears close-on-exec on the copies; the originals go with closefrom.
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, in_fd, 0);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
    if (rc == 0 && directory != NULL) rc = posix_spawn_file_actions_addchdir_np(&actions, directory);
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);

    sigset_t defaults, empty;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigemptyset(&empty);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attributes, &defaults);
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attributes, &empty);
    if (rc == 0) rc = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    if (rc == 0) {
        rc = search_path ? posix_spawnp(pid, path, &actions, &attributes, argv, envp)
                         : posix_spawn(pid, path, &actions, &attributes, argv, envp);
    }
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

int caas_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int caas_open_cloexec(const char *path, int flags, mode_t mode) { return open(path, flags | O_CLOEXEC, mode); }
