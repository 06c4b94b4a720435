#ifndef CAAS_CLIBPQ_SHIM_H
#define CAAS_CLIBPQ_SHIM_H
// libpq, PostgreSQL's C client. Its header is under /usr/include/postgresql (pkg-config libpq).
#include <libpq-fe.h>

// The server's NOTICEs ("relation already exists, skipping") would go to stderr, which cron
// mails: a connection of the store drops them.
static void caas_pq_ignore_notice(void *context, const char *message) { (void)context; (void)message; }
static inline void caas_pq_quiet(PGconn *c) { PQsetNoticeProcessor(c, caas_pq_ignore_notice, NULL); }

// The error fields are char macros, which Swift does not import.
static inline const char *caas_pq_sqlstate(const PGresult *r) { return PQresultErrorField(r, PG_DIAG_SQLSTATE); }
static inline const char *caas_pq_primary_message(const PGresult *r) { return PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY); }
#endif
