#define _GNU_SOURCE
#include "caas_crash_mark.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const int fatal_signals[] = {SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE};
#define FATAL_COUNT (sizeof fatal_signals / sizeof fatal_signals[0])
#define SLOTS 64

// What the handler reads: per slot, the file (-1: free) and the length of the record in it,
// where the signal goes (0: nothing is being worked on).
static volatile sig_atomic_t slot_fd[SLOTS];
static volatile sig_atomic_t slot_length[SLOTS];
// Whether the slot's record is longer than SLOT_BYTES (and the file was cut to it).
static volatile sig_atomic_t slot_long[SLOTS];
#define SLOT_BYTES 4096
static struct sigaction previous[FATAL_COUNT];
static int installed = 0;
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((constructor)) static void init_slots(void) {
    for (int i = 0; i < SLOTS; i++) slot_fd[i] = -1;
}

// Async-signal-safe only: pwrite, sigaction, raise.
static void on_fatal(int sig) {
    char line[16] = "signal ";
    int n = 7;
    char digits[4];
    int d = 0;
    for (int s = sig; s > 0 && d < 4; s /= 10) digits[d++] = (char)('0' + s % 10);
    while (d > 0) line[n++] = digits[--d];
    line[n++] = '\n';
    for (int i = 0; i < SLOTS; i++) {
        int fd = slot_fd[i];
        sig_atomic_t at = slot_length[i];
        if (fd >= 0 && at > 0) {
            ssize_t ignored = pwrite(fd, line, (size_t)n, (off_t)at);
            (void)ignored;
        }
    }
    for (size_t i = 0; i < FATAL_COUNT; i++)
        if (fatal_signals[i] == sig) sigaction(sig, &previous[i], NULL);
    // Blocked while this handler runs: delivered to the previous handler when it returns. A
    // fault (SIGILL, SIGSEGV) also happens again when its instruction is retried.
    raise(sig);
}

static void install(void) {
    // A stack overflow is a SIGSEGV with no stack left to run a handler on: keep an alternate
    // stack for this thread (the runs' stages run on the thread that opens the mark), unless the
    // runtime set one.
    stack_t old;
    if (sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE)) {
        size_t size = 64 * 1024;
        void *stack = malloc(size);
        if (stack) {
            stack_t ss;
            memset(&ss, 0, sizeof ss);
            ss.ss_sp = stack;
            ss.ss_size = size;
            sigaltstack(&ss, NULL);
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < FATAL_COUNT; i++) sigaction(fatal_signals[i], &sa, &previous[i]);
    installed = 1;
}

int caas_mark_open(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    // What a dead process left (read before this) must not sign this run's items.
    if (ftruncate(fd, 0) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    pthread_mutex_lock(&slots_lock);
    int slot = -1;
    for (int i = 0; i < SLOTS; i++)
        if (slot_fd[i] < 0) {
            slot = i;
            break;
        }
    if (slot >= 0) {
        slot_length[slot] = 0;
        slot_long[slot] = 0;
        slot_fd[slot] = fd;
        if (!installed) install();
    }
    pthread_mutex_unlock(&slots_lock);
    if (slot < 0) {
        close(fd);
        errno = EMFILE;
    }
    return slot;
}

static int valid(int mark) { return mark >= 0 && mark < SLOTS && slot_fd[mark] >= 0; }

static int write_all(int fd, const char *bytes, size_t len, off_t at) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, bytes + done, len - done, at + (off_t)done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

// A record is written over a fixed slot of SLOT_BYTES, padded with spaces and ending in a line
// end, so that setting the mark is one pwrite and never a truncate (an ftruncate costs ten times
// a pwrite on ext4, and a run sets the mark several times per order). A signal goes at the end of
// the slot, on a line of its own. A record that does not fit (a hostile reference) truncates the
// file and is written whole; the signal then follows it.

int caas_mark_set(int mark, const char *record, size_t len) {
    if (!valid(mark)) {
        errno = EBADF;
        return -1;
    }
    int fd = slot_fd[mark];
    slot_length[mark] = 0;
    if (len < SLOT_BYTES) {
        char slot[SLOT_BYTES];
        memcpy(slot, record, len);
        memset(slot + len, ' ', SLOT_BYTES - len);
        slot[SLOT_BYTES - 1] = '\n';
        // Leaving a long record: what followed the slot must go.
        if (slot_long[mark]) {
            if (ftruncate(fd, SLOT_BYTES) != 0) return -1;
            slot_long[mark] = 0;
        }
        // Known before the write: a signal that comes while it is written still names the item.
        slot_length[mark] = SLOT_BYTES;
        return write_all(fd, slot, SLOT_BYTES, 0);
    }
    if (ftruncate(fd, 0) != 0) return -1;
    slot_long[mark] = 1;
    slot_length[mark] = (sig_atomic_t)len;
    return write_all(fd, record, len, 0);
}

int caas_mark_clear(int mark) {
    if (!valid(mark)) {
        errno = EBADF;
        return -1;
    }
    slot_length[mark] = 0;
    // An empty first line names nothing; what follows it on the slot is never read.
    return write_all(slot_fd[mark], "\n", 1, 0);
}

void caas_mark_close(int mark) {
    if (mark < 0 || mark >= SLOTS) return;
    pthread_mutex_lock(&slots_lock);
    int fd = slot_fd[mark];
    slot_length[mark] = 0;
    slot_fd[mark] = -1;
    pthread_mutex_unlock(&slots_lock);
    if (fd >= 0) close(fd);
}
