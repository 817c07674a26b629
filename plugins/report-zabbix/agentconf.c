/* agentconf.c - the zabbix plugin's reader of the Zabbix agent configuration (ServerActive, Hostname, Include). */
#include "agentconf.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/errbuf.h"

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 &&
	       (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* ---- ServerActive ----------------------------------------------------- */

void dests_free(struct dest *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < d[i].n; j++) {
			free(d[i].nodes[j].host);
			free(d[i].nodes[j].port);
		}
		free(d[i].nodes);
	}
	free(d);
}

/* Parse one "host", "host:port", "[addr]:port", "[addr]" or bare IPv6
 * entry into *n.  Returns 0, or -1 with err set. */
static int parse_node(char *s, struct node *n, char *err, size_t errlen)
{
	char *host = s, *port = NULL;
	if (*s == '[') {
		char *close = strchr(s, ']');
		if (close == NULL) {
			cm_errf(err, errlen, "'%s': missing ']'", s);
			return -1;
		}
		*close = '\0';
		host = s + 1;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0') {
			cm_errf(err, errlen, "'%s]%s': text after ']'", s, close + 1);
			return -1;
		}
	} else {
		char *colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			*colon = '\0';
			port = colon + 1;
		}
	}
	if (*host == '\0') {
		cm_errf(err, errlen, "empty host name");
		return -1;
	}
	if (port != NULL) {
		char *end = NULL;
		errno = 0;
		long p = strtol(port, &end, 10);
		if (*port == '\0' || errno != 0 || *end != '\0' || p < 1 || p > 65535 ||
		    *port == '+' || *port == '-') {
			cm_errf(err, errlen, "'%s': port '%s' is not 1..65535", host, port);
			return -1;
		}
	}
	n->host = strdup(host);
	n->port = strdup(port != NULL ? port : ZBX_DEFAULT_PORT);
	if (n->host == NULL || n->port == NULL) {
		cm_errf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Split ServerActive into destinations (',') of nodes (';').  Returns 0,
 * or -1 with err set (empty list or entry, bad port, no memory). */
int parse_server_active(const char *text, struct dest **out, size_t *nout, char *err, size_t errlen)
{
	char *copy = strdup(text);
	struct dest *d = NULL;
	size_t nd = 0;
	int rc = -1;
	char why[300] = "";
	if (copy == NULL) {
		cm_errf(err, errlen, "out of memory");
		return -1;
	}
	/* strtok would merge empty fields: walk by hand */
	char *cur = copy;
	for (;;) {
		char *comma = strchr(cur, ',');
		if (comma != NULL)
			*comma = '\0';
		struct dest *grown = realloc(d, (nd + 1) * sizeof(*d));
		if (grown == NULL) {
			cm_errf(err, errlen, "out of memory");
			goto out;
		}
		d = grown;
		memset(&d[nd], 0, sizeof(d[nd]));
		nd++;
		char *ncur = cur;
		for (;;) {
			char *semi = strchr(ncur, ';');
			if (semi != NULL)
				*semi = '\0';
			char *entry = trim(ncur);
			if (*entry == '\0') {
				cm_errf(err, errlen, "ServerActive '%s': empty entry", text);
				goto out;
			}
			struct node *nn = realloc(d[nd - 1].nodes,
			                          (d[nd - 1].n + 1) * sizeof(struct node));
			if (nn == NULL) {
				cm_errf(err, errlen, "out of memory");
				goto out;
			}
			d[nd - 1].nodes = nn;
			memset(&nn[d[nd - 1].n], 0, sizeof(struct node));
			d[nd - 1].n++;
			if (parse_node(entry, &nn[d[nd - 1].n - 1], why, sizeof(why)) != 0) {
				cm_errf(err, errlen, "ServerActive '%s': %s", text, why);
				goto out;
			}
			if (semi == NULL)
				break;
			ncur = semi + 1;
		}
		if (comma == NULL)
			break;
		cur = comma + 1;
	}
	rc = 0;
out:
	free(copy);
	if (rc != 0) {
		dests_free(d, nd);
		return -1;
	}
	*out = d;
	*nout = nd;
	return 0;
}

/* ---- agent_conf ------------------------------------------------------- */

void agentconf_free(struct agentconf *ac)
{
	free(ac->server_active);
	free(ac->hostname);
	free(ac->hostname_item);
	free(ac->tls_connect);
	memset(ac, 0, sizeof(*ac));
}

static int read_conf(const char *path, struct agentconf *ac, int depth, char *err, size_t errlen);

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Include=VALUE: a file, every regular file of a folder (sorted), or the
 * regular files matching a glob pattern.  Returns 0 or -1 with err set. */
static int agentconf_include(const char *value, const char *from, int line, struct agentconf *ac,
                             int depth, char *err, size_t errlen)
{
	if (depth >= ZBX_INCLUDE_DEPTH) {
		cm_errf(err, errlen, "agent_conf %s:%d: Include nested more than %d levels deep",
		        from, line, ZBX_INCLUDE_DEPTH);
		return -1;
	}
	if (strpbrk(value, "*?[") != NULL) {
		glob_t g;
		int grc = glob(value, 0, NULL, &g);
		if (grc == GLOB_NOMATCH)
			return 0;
		if (grc != 0) {
			cm_errf(err, errlen, "agent_conf %s:%d: Include=%s: glob failed", from,
			        line, value);
			return -1;
		}
		int rc = 0;
		for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
			struct stat st;
			if (stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode))
				rc = read_conf(g.gl_pathv[i], ac, depth + 1, err, errlen);
		}
		globfree(&g);
		return rc;
	}
	struct stat st;
	if (stat(value, &st) != 0) {
		cm_errf(err, errlen, "agent_conf %s:%d: Include=%s: %s", from, line, value,
		        strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return read_conf(value, ac, depth + 1, err, errlen);
	DIR *dir = opendir(value);
	if (dir == NULL) {
		cm_errf(err, errlen, "agent_conf %s:%d: Include=%s: %s", from, line, value,
		        strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *p = NULL;
		if (asprintf(&p, "%s/%s", value, e->d_name) < 0) {
			rc = -1;
			break;
		}
		if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
			free(p);
			continue;
		}
		char **nn = realloc(names, (n + 1) * sizeof(*names));
		if (nn == NULL) {
			free(p);
			rc = -1;
			break;
		}
		names = nn;
		names[n++] = p;
	}
	(void)closedir(dir);
	if (rc != 0)
		cm_errf(err, errlen, "agent_conf %s: out of memory", from);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			rc = read_conf(names[i], ac, depth + 1, err, errlen);
		free(names[i]);
	}
	free(names);
	return rc;
}

static int set_field(char **field, const char *value)
{
	char *v = strdup(value);
	if (v == NULL)
		return -1;
	free(*field);
	*field = v;
	return 0;
}

/* Read the agent configuration `path` (and what it includes, `depth`
 * levels below the first file) into *ac.  Returns 0, or -1 with err set
 * (unreadable file, bad Include). */
static int read_conf(const char *path, struct agentconf *ac, int depth, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		cm_errf(err, errlen, "agent_conf %s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, rc = 0;
	while (rc == 0 && getline(&line, &cap, f) >= 0) {
		lineno++;
		char *s = trim(line);
		if (*s == '#' || *s == '\0')
			continue;
		char *eq = strchr(s, '=');
		if (eq == NULL)
			continue; /* the agent refuses such a line; not ours to judge */
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		char **field = NULL;
		if (strcmp(key, "ServerActive") == 0)
			field = &ac->server_active;
		else if (strcmp(key, "Hostname") == 0)
			field = &ac->hostname;
		else if (strcmp(key, "HostnameItem") == 0)
			field = &ac->hostname_item;
		else if (strcmp(key, "TLSConnect") == 0)
			field = &ac->tls_connect;
		else if (strcmp(key, "Include") == 0)
			rc = agentconf_include(value, path, lineno, ac, depth, err, errlen);
		if (field != NULL && set_field(field, value) != 0) {
			cm_errf(err, errlen, "agent_conf %s: out of memory", path);
			rc = -1;
		}
	}
	if (rc == 0 && ferror(f)) {
		cm_errf(err, errlen, "agent_conf %s: cannot read: %s", path, strerror(errno));
		rc = -1;
	}
	free(line);
	(void)fclose(f);
	return rc;
}

int agentconf_read(const char *path, struct agentconf *ac, char *err, size_t errlen)
{
	return read_conf(path, ac, 0, err, errlen);
}
