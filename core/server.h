/* server.h - facts about the MySQL/MariaDB server, asked through mysql_bin. */
#ifndef OMA_SERVER_H
#define OMA_SERVER_H

#include <stdint.h>

#include "config.h"
#include "util.h"

struct server_facts {
	char *datadir;            /* @@datadir, without trailing slash */
	struct strv databases;    /* SHOW DATABASES minus system schemas, server order */
};

/* Run `mysql_bin -N -B -e QUERY` (argument vector, no shell) and split its
 * stdout into lines (tab-separated values unescaped per mysql -B rules:
 * \\t \\n \\0 \\\\).  Returns 0, or -1 with err holding the client's stderr
 * (first line) or the reason it could not run. */
int server_query(const char *mysql_bin, const char *query, struct strv *lines,
                 char *err, size_t errlen);

/* Ask the server for its datadir and databases.  Returns 0 or -1 (err set). */
int server_get_facts(const char *mysql_bin, struct server_facts *f, char *err, size_t errlen);
void server_facts_free(struct server_facts *f);

/* Whether `name` is a system schema that is never dumped. */
int server_is_system_db(const char *name);

/* Apply do_databases / exclude_databases to f->databases: selected names go
 * to *selected, the others to *skipped.  Names in either list that the
 * server does not have are pushed to *missing (for a warning). */
void server_select(const struct oma_config *cfg, const struct strv *databases,
                   struct strv *selected, struct strv *skipped, struct strv *missing);

/* Check that the datadir can be read (the folder and its entries), and sum
 * the bytes used below it.  On failure err is one line naming the path and
 * what to do ("run oma as root or as the user the server runs as"). */
int server_datadir_bytes(const char *datadir, uint64_t *bytes, char *err, size_t errlen);

#endif
