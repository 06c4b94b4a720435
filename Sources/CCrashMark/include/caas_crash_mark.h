#ifndef CAAS_CRASH_MARK_H
#define CAAS_CRASH_MARK_H
#include <stddef.h>

// The "working on" mark of a run: one small file naming the item being handled. Setting it is
// one write over a fixed 4 KiB slot, with no fsync and no truncate: the page cache outlives a
// dead process, and after a power loss no item is to blame. When the process receives a fatal signal (a Swift trap is
// SIGILL or SIGTRAP, a bad access SIGSEGV or SIGBUS, abort() SIGABRT, SIGFPE), the handler
// appends "signal N" to every open mark that names an item, then lets the signal go on to the
// handler that was there before (the Swift runtime's backtracer, or the default: the process
// dies as it would have).
//
// A process normally holds one mark (one run). Tests run several gateways in one process, so
// marks are slots: each run writes its own file.

// Opens (creates) the mark file, empties it and, the first time, installs the signal handlers.
// Returns the mark's slot, or -1 with errno set. Read what a dead process left before this.
int caas_mark_open(const char *path);
// Replaces the mark's record with `record` (len bytes). 0, or -1 with errno set.
int caas_mark_set(int mark, const char *record, size_t len);
// Empties the mark: nothing is being worked on. 0, or -1 with errno set.
int caas_mark_clear(int mark);
// Closes the mark's file and frees its slot.
void caas_mark_close(int mark);

#endif
