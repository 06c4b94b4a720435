// A crash at every durable boundary, for the crash tests: loaded with LD_PRELOAD into
// caas-gateway, it counts fsync, fdatasync and syncfs calls (every SQLite commit and every atomic
// file write ends in one; syncfs makes a fold's batch of expedientes durable) and, with
// CAAS_KILL_AT_FSYNC=K, kills the process with SIGKILL right after the K-th returns: what that
// call made durable is on disk, nothing after it ran. With CAAS_FSYNC_COUNT_FILE=path the number
// of calls is written there when the process exits.
// Built by the tests with `cc -shared -fPIC -o libkillat.so killat.c -ldl`; test tooling only.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static atomic_long calls;

static void boundary(void) {
    long n = atomic_fetch_add(&calls, 1) + 1;
    const char *at = getenv("CAAS_KILL_AT_FSYNC");
    if (at && atol(at) == n) kill(getpid(), SIGKILL);
}

// Each call goes to the real function, then counts as a boundary.
#define BOUNDARY(name)                                                   \
    int name(int fd) {                                                   \
        static int (*real)(int);                                         \
        if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, #name);         \
        int r = real(fd);                                                \
        boundary();                                                      \
        return r;                                                        \
    }

BOUNDARY(fsync)
BOUNDARY(fdatasync)
BOUNDARY(syncfs)

__attribute__((destructor)) static void report(void) {
    const char *path = getenv("CAAS_FSYNC_COUNT_FILE");
    if (!path) return;
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "%ld\n", atomic_load(&calls));
    fclose(f);
}
