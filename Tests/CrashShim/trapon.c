// A crash while one item is handled, for the crash isolation tests: loaded with LD_PRELOAD into
// caas-gateway, it watches the run's working-on mark being written (a pwrite that begins with
// "caas-working-on\t") and, when the mark names CAAS_TRAP_ON (a substring of the mark: an order
// reference, a file name, "\tfold\t" for a stage), lets the write through and then dies as
// CAAS_TRAP_HOW says: "trap" (default: a real trap instruction, SIGILL on x86-64 and SIGTRAP on
// arm64, as a Swift overflow or force unwrap is), "segv" (a write through a null pointer),
// "abort", or "kill" (SIGKILL, which leaves no signal in the mark).
// Built by the tests with `cc -shared -fPIC -o libtrapon.so trapon.c -ldl`; test tooling only.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static const char tag[] = "caas-working-on\t";

static void maybe_die(const void *buf, size_t n) {
    const char *target = getenv("CAAS_TRAP_ON");
    if (!target || !*target || n < sizeof tag - 1 || memcmp(buf, tag, sizeof tag - 1) != 0) return;
    if (!memmem(buf, n, target, strlen(target))) return;
    const char *how = getenv("CAAS_TRAP_HOW");
    if (!how || strcmp(how, "trap") == 0) __builtin_trap();
    if (strcmp(how, "segv") == 0) {
        volatile int *nowhere = NULL;
        *nowhere = 1;
    }
    if (strcmp(how, "abort") == 0) abort();
    kill(getpid(), SIGKILL);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t offset) {
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (!real) real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    ssize_t r = real(fd, buf, n, offset);
    maybe_die(buf, n);
    return r;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t offset) {
    static ssize_t (*real)(int, const void *, size_t, off64_t);
    if (!real) real = (ssize_t(*)(int, const void *, size_t, off64_t))dlsym(RTLD_NEXT, "pwrite64");
    ssize_t r = real(fd, buf, n, offset);
    maybe_die(buf, n);
    return r;
}
