/* server.h - facts about the MySQL/MariaDB server, asked through mysql_bin. */
#ifndef OMA_SERVER_H
#define OMA_SERVER_H

#include <stdint.h>

#include "config.h"
#include "util.h"

struct server_facts {
	char *datadir;         /* @@datadir, without trailing slash */
	struct strv databases; /* the server's databases minus system schemas and
	                           * '#mysql50#' names, sorted by name as SHOW DATABASES does */
	struct strv folders;   /* folders[i]: the datadir folder of databases[i]
	                           * (MariaDB's filename encoding, e.g. "d@002de", "con@@@") */
};

/* Seconds a query may take by default ([main] server_timeout). */
#define SERVER_TIMEOUT_DEFAULT 60

/* Set how long one server_query() may take, in seconds (0: no limit); a
 * query that takes longer is stopped and fails. */
void server_set_timeout(long seconds);

/* Run `mysql_bin -N -B -e QUERY` (argument vector, no shell) and split its
 * stdout into lines (tab-separated values unescaped per mysql -B rules:
 * \\t \\n \\0 \\\\).  The client is stopped after the timeout
 * (server_set_timeout) or when the run is cancelled (proc_cancel).
 * Returns 0, or -1 with err holding the client's stderr (first line) or the
 * reason it could not run or was stopped. */
int server_query(const char *mysql_bin, const char *query, struct strv *lines, char *err,
                 size_t errlen);

/* Ask the server, in one client process, for its datadir and databases with
 * their folder names (encoded by the server, lower-cased first under
 * lower_case_table_names=1).  Names starting with '#mysql50#' (a datadir
 * folder without a valid encoded name, e.g. lost+found) are left out with a
 * WARNING in the log.  Returns 0 or -1 (err set). */
int server_get_facts(const char *mysql_bin, struct server_facts *f, char *err, size_t errlen);
void server_facts_free(struct server_facts *f);

/* Statements for the client process of server_get_facts_more to run after
 * the facts query, and what they gave. */
struct server_more {
	const char *sql;   /* the statements (NULL: none) */
	struct strv lines; /* their output lines, unescaped (free with strv_free) */
	char err[512];     /* why they did not all run; "" when they did */
};

/* server_get_facts, with more->sql (when more and it are not NULL) run by
 * the same client after the facts query, so that asking for more costs no
 * process and no connection.  Their failure, or the client stopped while
 * they ran, after the facts came does not fail the facts: more->err says
 * why, more->lines holds what they wrote before.  Returns 0, or -1 (err
 * set) as server_get_facts. */
int server_get_facts_more(const char *mysql_bin, struct server_facts *f, struct server_more *more,
                          char *err, size_t errlen);

/* The datadir folder of database `db` in f, or NULL when f has no such
 * database.  The string belongs to f. */
const char *server_folder(const struct server_facts *f, const char *db);

/* Apply do_databases / exclude_databases to f->databases: selected names go
 * to *selected, the others to *skipped.  Names in either list that the
 * server does not have are pushed to *missing (for a warning). */
void server_select(const struct oma_config *cfg, const struct strv *databases,
                   struct strv *selected, struct strv *skipped, struct strv *missing);

/* Check that the datadir can be read (the folder and its entries), and sum
 * the bytes used below it, and below each of the folders named in
 * `folders` (names of top-level folders of the datadir, e.g.
 * server_facts.folders of the selected databases): folder_bytes[i] (an
 * array of folders->n, may be NULL) for folders->v[i], 0 when there is no
 * such folder.  A file with several hard links counts once in *total and
 * once per folder holding it.  folders may be NULL.  On failure err is one
 * line naming the path and what to do ("run oma as root or as the user the
 * server runs as"); nothing is written to *total or folder_bytes then. */
int server_datadir_usage(const char *datadir, const struct strv *folders, uint64_t *total,
                         uint64_t *folder_bytes, char *err, size_t errlen);

#endif
