/* main.c - oma's command line: parse options, validate everything, run, exit. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "loader.h"
#include "lock.h"
#include "log.h"
#include "proc.h"
#include "report.h"
#include "runner.h"
#include "util.h"
#include "verify.h"

#ifndef OMA_VERSION
#define OMA_VERSION "0.0.0"
#endif

#define DEFAULT_CONFIG "/etc/oma/oma.conf"

static const struct oma_config *the_config;

static const char *config_getter(const char *section, const char *key)
{
	return the_config ? cfg_get(the_config, section, key) : NULL;
}

static void usage(FILE *out)
{
	(void)fprintf(
	        out,
	        "usage: oma [-h] [-c CONFIG] [-d] [-v] [--check-config] [--check-remote]\n"
	        "           [--print-config] [--verify [FOLDER]] [--dry-run]\n"
	        "\n"
	        "Optimized MySQLDump Archiver - one compressed dump per database, run from cron.\n"
	        "\n"
	        "options:\n"
	        "  -h, --help            show this help message and exit\n"
	        "  -c, --config CONFIG   Path to the configuration file (default: %s)\n"
	        "  -d, --debug           Set log level to debug and override log level from config file\n"
	        "  -v, --version         Print version information and exit\n"
	        "  --check-config        Parse and validate the configuration (and plugins), then exit\n"
	        "  --check-remote        With --check-config: also write, read and remove a probe\n"
	        "                        object at every off-site store ([s3] ...)\n"
	        "  --print-config        Print the effective configuration as JSON, then exit\n"
	        "  --dry-run             Do every check of a run and say what it would dump, reuse\n"
	        "                        and remove, without changing anything or starting mysqldump\n"
	        "  --verify [FOLDER]     Check every dump of a backup folder (default: backup_dir/last\n"
	        "                        of CONFIG): SHA256SUMS, the whole compressed stream, the\n"
	        "                        completion line; exit 0 when all are good, 4 otherwise\n"
	        "\n"
	        "Exit codes: 0 ok or skipped, 1 invalid configuration or failed run condition,\n"
	        "2 not enough disk space, 3 another instance is running, 4 a dump, terminate\n"
	        "condition, reporter or off-site copy failed, or the server could not be reached.\n",
	        DEFAULT_CONFIG);
}

/* Whether `bin` names an executable file, directly (with a '/') or in PATH. */
static int find_executable(const char *bin)
{
	if (bin[0] == '\0')
		return -1;
	if (strchr(bin, '/') != NULL)
		return access(bin, X_OK);
	const char *path = getenv("PATH");
	if (path == NULL || path[0] == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	char *copy = xstrdup(path);
	int rc = -1;
	char *save = NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir != NULL;
	     dir = strtok_r(NULL, ":", &save)) {
		char *full = xasprintf("%s/%s", dir[0] ? dir : ".", bin);
		struct stat st;
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0)
			rc = 0;
		free(full);
		if (rc == 0)
			break;
	}
	free(copy);
	return rc;
}

/* "Invalid configuration: WHY" on stderr, on one line whatever the file
 * held (a key with a newline in its name). */
static void invalid(const char *why)
{
	char *safe = escape_controls(why);
	(void)fprintf(stderr, "Invalid configuration: %s\n", safe);
	free(safe);
}

/* The encrypt plugin in use ([encryption] present and enabled), or NULL. */
static const struct loaded_plugin *encryption(const struct loader *ld)
{
	for (struct loaded_plugin *p = loader_next(ld, OMA_PLUGIN_ENCRYPT, NULL); p != NULL;
	     p = loader_next(ld, OMA_PLUGIN_ENCRYPT, p))
		if (p->initialized)
			return p;
	return NULL;
}

/* [encryption]: the encrypt plugin its `method` names (default "age"),
 * whose table of keys, with `method` added, then checks the section.  A
 * missing plugin is an error, not a warning: asked to encrypt, oma never
 * writes a backup in the clear.  Returns 0, or -1 after printing why. */
static int load_encryption(struct oma_config *cfg, struct loader *ld, const char *dir)
{
	char err[1024];
	const char *method = cfg_get(cfg, "encryption", "method");
	if (method == NULL)
		method = "age";
	struct loaded_plugin *p = NULL;
	int rc = loader_load(ld, dir, OMA_PLUGIN_ENCRYPT, method, &p, err, sizeof(err));
	if (rc == 0)
		rc = cfg_register_encryption(cfg, p->desc->settings, err, sizeof(err));
	if (rc != 0) {
		char *why = strncmp(err, "config ", 7) == 0
		                    ? xstrdup(err)
		                    : xasprintf("config %s: [encryption] method: %s", cfg->path,
		                                err);
		invalid(why);
		free(why);
		return -1;
	}
	return 0;
}

/* Load the plugin of every section but the core's: report-NAME.so in the
 * plugin folder, else store-NAME.so (an off-site target), whose table of
 * keys (if it has one) then checks the section and fills in its defaults.
 * A section without a plugin is only a warning (it may be meant for a
 * plugin not installed here).  Returns 0, or -1 after printing why. */
static int load_section_plugins(struct oma_config *cfg, struct loader *ld, const char *dir)
{
	char err[1024], store_err[1024];
	for (size_t i = 0; cfg_section_name(cfg, i) != NULL; i++) {
		const char *name = cfg_section_name(cfg, i);
		if (strcmp(name, "main") == 0 || strcmp(name, "conditions") == 0)
			continue;
		if (strcmp(name, "encryption") == 0) {
			if (load_encryption(cfg, ld, dir) != 0)
				return -1;
			continue;
		}
		struct loaded_plugin *p = NULL;
		int rc = loader_load(ld, dir, OMA_PLUGIN_REPORT, name, &p, err, sizeof(err));
		if (rc == 1) {
			rc = loader_load(ld, dir, OMA_PLUGIN_STORE, name, &p, store_err,
			                 sizeof(store_err));
			if (rc != 1)
				memcpy(err, store_err, sizeof(err));
		}
		if (rc == 1) {
			char *w = xasprintf(
			        "config %s: [%s] belongs to no installed plugin (%s); ignored",
			        cfg->path, name, err);
			strv_push(&cfg->warnings, w);
			free(w);
			continue;
		}
		if (rc == 0 && p->desc->settings != NULL)
			rc = cfg_register_settings(cfg, name, p->desc->settings, err, sizeof(err));
		if (rc != 0) {
			/* A value's error names the file already; the loader's and
			 * a bad table's do not. */
			char *why = strncmp(err, "config ", 7) == 0
			                    ? xstrdup(err)
			                    : xasprintf("config %s: [%s]: %s", cfg->path, name,
			                                err);
			invalid(why);
			free(why);
			return -1;
		}
	}
	return 0;
}

/* Init the loaded reporters and stores whose sections are enabled (the
 * others stay uninitialised and are never called).  Returns 0, or -1 after
 * printing why. */
static int init_section_plugins(const struct oma_config *cfg, struct loader *ld)
{
	static const int types[] = {OMA_PLUGIN_REPORT, OMA_PLUGIN_STORE, OMA_PLUGIN_ENCRYPT};
	char err[1024];
	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		for (struct loaded_plugin *p = loader_next(ld, types[k], NULL); p != NULL;
		     p = loader_next(ld, types[k], p)) {
			const char *section = types[k] == OMA_PLUGIN_ENCRYPT ? "encryption"
			                                                     : p->desc->name;
			if (!cfg_section_enabled(cfg, section))
				continue;
			if (loader_init(p, loader_host(), err, sizeof(err)) != 0) {
				invalid(err);
				return -1;
			}
		}
	}
	return 0;
}

/* --check-remote: every enabled store proves it can write.  Returns 0, or
 * -1 after printing one line per store that cannot (or with none). */
static int check_remote(const struct oma_config *cfg, const struct loader *ld)
{
	int rc = 0, stores = 0;
	for (struct loaded_plugin *p = loader_next(ld, OMA_PLUGIN_STORE, NULL); p != NULL;
	     p = loader_next(ld, OMA_PLUGIN_STORE, p)) {
		if (!p->initialized)
			continue;
		stores++;
		char err[1024] = "";
		const char *why = err;
		if (p->desc->store->check == NULL)
			why = "this store plugin cannot be checked";
		else if (p->desc->store->check(err, sizeof(err)) == 0)
			continue;
		else if (err[0] == '\0')
			why = "check() failed without a reason";
		char *line = xasprintf("config %s: [%s] remote check failed: %s", cfg->path,
		                       p->desc->name, why);
		invalid(line);
		free(line);
		rc = -1;
	}
	if (stores == 0) {
		char *line = xasprintf("config %s: --check-remote: no off-site store is configured",
		                       cfg->path);
		invalid(line);
		free(line);
		rc = -1;
	}
	return rc;
}

static void on_signal(int sig)
{
	runner_cancel(sig);
}

/* Signals that would end oma on the spot (a closed ssh session's SIGHUP,
 * an admin's SIGUSR1) stop the run instead: children stopped, temporary
 * files removed, logged, exit code 4.  A write past RLIMIT_FSIZE fails
 * with EFBIG instead of killing oma. */
static void install_signals(void)
{
	static const int stop[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM};
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(stop) / sizeof(stop[0]); i++)
		(void)sigaction(stop[i], &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	(void)sigaction(SIGXFSZ, &sa, NULL);
}

/* With fd 0, 1 or 2 closed (a careless cron wrapper), the first file oma
 * opens would become "stdout": point them at /dev/null instead. */
static void open_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		int nul = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (nul >= 0 && nul != fd) {
			(void)dup2(nul, fd);
			close(nul);
		}
	}
}

/* What the command line asks for. */
struct options {
	const char *config_path;
	int debug, check_only, print_only, check_remote;
	int config_given;   /* -c was on the command line */
	int verify;         /* --verify */
	int dry_run;        /* --dry-run */
	const char *folder; /* its FOLDER, or NULL */
};

/* Read the command line into *o.  Returns -1 to go on, else the exit code
 * to end with at once (--help, --version, a wrong option or argument). */
static int parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_CHECK = 1000, OPT_PRINT, OPT_REMOTE, OPT_VERIFY, OPT_DRY };
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"debug", no_argument, NULL, 'd'},
	        {"version", no_argument, NULL, 'v'},
	        {"help", no_argument, NULL, 'h'},
	        {"check-config", no_argument, NULL, OPT_CHECK},
	        {"print-config", no_argument, NULL, OPT_PRINT},
	        {"check-remote", no_argument, NULL, OPT_REMOTE},
	        {"verify", no_argument, NULL, OPT_VERIFY},
	        {"dry-run", no_argument, NULL, OPT_DRY},
	        {NULL, 0, NULL, 0},
	};
	*o = (struct options){.config_path = DEFAULT_CONFIG};
	for (;;) {
		int c = getopt_long(argc, argv, "c:dvh", longopts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'c':
			o->config_path = optarg;
			o->config_given = 1;
			break;
		case 'd':
			o->debug = 1;
			break;
		case 'v':
			(void)printf("%s\n", OMA_VERSION);
			return OMA_EXIT_OK;
		case 'h':
			usage(stdout);
			return OMA_EXIT_OK;
		case OPT_CHECK:
			o->check_only = 1;
			break;
		case OPT_PRINT:
			o->print_only = 1;
			break;
		case OPT_REMOTE:
			o->check_only = 1; /* implies --check-config */
			o->check_remote = 1;
			break;
		case OPT_VERIFY:
			o->verify = 1;
			break;
		case OPT_DRY:
			o->dry_run = 1;
			break;
		default:
			usage(stderr);
			return OMA_EXIT_CONFIG;
		}
	}
	if (o->verify && optind < argc)
		o->folder = argv[optind++];
	if ((o->verify || o->dry_run) &&
	    (o->check_only || o->print_only || o->verify + o->dry_run > 1)) {
		(void)fprintf(stderr, "oma: %s cannot be combined with %s\n",
		              o->verify ? "--verify" : "--dry-run",
		              o->print_only   ? "--print-config"
		              : o->check_only ? "--check-config"
		                              : "--dry-run");
		return OMA_EXIT_CONFIG;
	}
	if (optind < argc) {
		(void)fprintf(stderr, "oma: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return OMA_EXIT_CONFIG;
	}
	return -1;
}

/* Load the compressor [main] compression names (its level checked
 * against its range, or set to its default) and the reporters of the
 * other sections.  Only the plugins this configuration uses are loaded.
 * Returns 0 with *comp set, or -1 after printing why. */
static int load_plugins(struct oma_config *cfg, struct loader *ld, const char *dir,
                        const char *config_path, struct loaded_plugin **comp)
{
	char err[1024];
	int rc = loader_load(ld, dir, OMA_PLUGIN_COMPRESS, cfg->main.compression, comp, err,
	                     sizeof(err));
	if (rc != 0) {
		(void)fprintf(stderr, "Invalid configuration: config %s: [main] compression: %s\n",
		              config_path, err);
		return -1;
	}
	const struct oma_compress_ops *ops = (*comp)->desc->compress;
	if (cfg->main.compression_level < 0) {
		cfg->main.compression_level = ops->default_level;
	} else if (cfg->main.compression_level < ops->min_level ||
	           cfg->main.compression_level > ops->max_level) {
		(void)fprintf(
		        stderr,
		        "Invalid configuration: config %s: [main] compression_level: %ld is outside %d..%d for '%s'\n",
		        config_path, cfg->main.compression_level, ops->min_level, ops->max_level,
		        cfg->main.compression);
		return -1;
	}
	return load_section_plugins(cfg, ld, dir);
}

/* mysqldump_bin and mysql_bin name executable files.  Returns 0, or -1
 * after printing which does not. */
static int check_binaries(const struct oma_config *cfg, const char *config_path)
{
	const char *const bins[][2] = {
	        {"mysqldump_bin", cfg->main.mysqldump_bin},
	        {"mysql_bin", cfg->main.mysql_bin},
	};
	for (size_t i = 0; i < sizeof(bins) / sizeof(bins[0]); i++) {
		if (find_executable(bins[i][1]) != 0) {
			(void)fprintf(
			        stderr,
			        "Invalid configuration: config %s: [main] %s: '%s' is not an executable file%s\n",
			        config_path, bins[i][0], bins[i][1],
			        strchr(bins[i][1], '/') ? "" : " in PATH");
			return -1;
		}
	}
	return 0;
}

/* The rest of the checks before a run: the binaries, then the init of the
 * compressor, of the "sh" condition plugin (loaded here when [conditions]
 * has commands) and of the enabled reporters.  Returns 0 with *cond set
 * (NULL without conditions), or -1 after printing why. */
static int init_plugins(const struct oma_config *cfg, struct loader *ld, const char *dir,
                        const char *config_path, struct loaded_plugin *comp,
                        struct loaded_plugin **cond)
{
	char err[1024];
	*cond = NULL;
	if (check_binaries(cfg, config_path) != 0)
		return -1;
	if (loader_init(comp, loader_host(), err, sizeof(err)) != 0) {
		invalid(err);
		return -1;
	}
	if (cfg->cond.skip.n + cfg->cond.run.n + cfg->cond.terminate.n > 0) {
		int rc = loader_load(ld, dir, OMA_PLUGIN_CONDITION, "sh", cond, err, sizeof(err));
		if (rc != 0) {
			(void)fprintf(stderr,
			              "Invalid configuration: config %s: [conditions]: %s\n",
			              config_path, err);
			return -1;
		}
		if (loader_init(*cond, loader_host(), err, sizeof(err)) != 0) {
			invalid(err);
			return -1;
		}
	}
	if (init_section_plugins(cfg, ld) != 0)
		return -1;
	if (encryption(ld) != NULL && !(comp->desc->compress->flags & OMA_COMPRESS_SINK)) {
		/* A compressor built for oma 0.1 writes to the file itself. */
		char *why =
		        xasprintf("config %s: [encryption]: compressor '%s' (%s) writes its file "
		                  "itself and cannot be combined with encryption; rebuild it "
		                  "for this oma",
		                  config_path, comp->desc->name, comp->path);
		invalid(why);
		free(why);
		return -1;
	}
	return 0;
}

/* --check-config's answer: the configuration's warnings, then OK. */
static void print_check_ok(const struct oma_config *cfg, const char *config_path)
{
	for (size_t i = 0; i < cfg->warnings.n; i++) {
		char *safe = escape_controls(cfg->warnings.v[i]);
		(void)fprintf(stderr, "warning: %s\n", safe);
		free(safe);
	}
	(void)printf("Configuration OK: %s\n", config_path);
}

/* Take the lock_port lock, then the backup folder's (the port lock only
 * keeps out a run with the same lock_port); neither is inherited by the
 * forked reporters.  Returns OMA_EXIT_OK with *lockfd and *dirfd set, or
 * the exit code after printing why (*lockfd may be set then). */
static int take_locks(const struct oma_config *cfg, int *lockfd, int *dirfd)
{
	char err[1024];
	*lockfd = lock_acquire(cfg->main.lock_port, err, sizeof(err));
	if (*lockfd == -2) {
		(void)fprintf(stderr,
		              "Another instance of OMA is already running (port %ld is in use)\n",
		              cfg->main.lock_port);
		return OMA_EXIT_LOCKED;
	}
	if (*lockfd < 0) {
		(void)fprintf(stderr, "oma: %s\n", err);
		return OMA_EXIT_FAILED;
	}
	*dirfd = lock_dir(cfg->main.backup_dir, err, sizeof(err));
	if (*dirfd == -2) {
		(void)fprintf(stderr, "Another instance of OMA is already running (%s)\n", err);
		return OMA_EXIT_LOCKED;
	}
	if (*dirfd < 0) {
		(void)fprintf(stderr, "oma: %s\n", err);
		return OMA_EXIT_FAILED;
	}
	/* Reporters run in forked children: they never hold the locks. */
	(void)proc_private_fd(*lockfd);
	(void)proc_private_fd(*dirfd);
	return OMA_EXIT_OK;
}

/* The runner's view of the plugins. */
static struct run_plugins run_plugins_of(const struct oma_config *cfg, struct loader *ld,
                                         const struct loaded_plugin *comp,
                                         const struct loaded_plugin *cond)
{
	const struct loaded_plugin *enc = encryption(ld);
	return (struct run_plugins){
	        .comp = comp->desc->compress,
	        .comp_name = comp->desc->name,
	        .cond = cond ? cond->desc->condition : NULL,
	        .ld = ld,
	        .report_timeout = (int)cfg->main.report_timeout,
	        .enc = enc != NULL ? enc->desc->encrypt : NULL,
	        .enc_name = enc != NULL ? enc->desc->name : NULL,
	};
}

/* The backup itself, with the plugins loaded and initialised and the locks
 * held.  Returns the exit code. */
static int run_backup(const struct oma_config *cfg, struct loader *ld,
                      const struct loaded_plugin *comp, const struct loaded_plugin *cond)
{
	if (runner_cancelled()) {
		/* Stopped before the run began: nothing was written. */
		(void)fprintf(stderr, "Backup cancelled by signal %d\n", runner_cancelled());
		return OMA_EXIT_FAILED;
	}
	struct run_plugins pl = run_plugins_of(cfg, ld, comp, cond);
	return runner_run(cfg, &pl);
}

/* --dry-run: the locks as a run would take them (the port's is taken and
 * let go at once; the folder's only tried, writing nothing), then the runner's dry
 * run.  Returns the exit code. */
static int dry_run(const struct oma_config *cfg, struct loader *ld,
                   const struct loaded_plugin *comp, const struct loaded_plugin *cond)
{
	char err[1024];
	int lockfd = lock_acquire(cfg->main.lock_port, err, sizeof(err));
	if (lockfd == -2) {
		(void)fprintf(stderr,
		              "Another instance of OMA is already running (port %ld is in use)\n",
		              cfg->main.lock_port);
		return OMA_EXIT_LOCKED;
	}
	if (lockfd < 0) {
		(void)fprintf(stderr, "oma: %s\n", err);
		return OMA_EXIT_FAILED;
	}
	/* Let go at once: a real run starting meanwhile must not be refused. */
	close(lockfd);
	int rc = lock_dir_check(cfg->main.backup_dir, err, sizeof(err));
	int code = OMA_EXIT_OK;
	if (rc == -2) {
		(void)fprintf(stderr, "Another instance of OMA is already running (%s)\n", err);
		code = OMA_EXIT_LOCKED;
	} else if (rc < 0) {
		(void)fprintf(stderr, "oma: %s\n", err);
		code = OMA_EXIT_FAILED;
	} else {
		struct run_plugins pl = run_plugins_of(cfg, ld, comp, cond);
		code = runner_dry_run(cfg, &pl);
	}
	return code;
}

int main(int argc, char **argv)
{
	open_std_fds();
	install_signals();
	struct options o;
	int code = parse_options(argc, argv, &o);
	if (code >= 0)
		return code;

	if (o.verify && o.folder != NULL && !o.config_given) {
		/* A folder on its own, maybe copied to a machine without oma's
		 * configuration: the plugins from the default folder. */
		char *dir = loader_default_dir(NULL);
		code = verify_command(o.folder, dir);
		free(dir);
		return code;
	}
	char err[1024];
	struct oma_config cfg;
	if (cfg_load(o.config_path, &cfg, err, sizeof(err)) != 0) {
		invalid(err);
		return OMA_EXIT_CONFIG;
	}
	the_config = &cfg;
	loader_set_config_getter(config_getter);
	log_set_level(o.debug ? OMA_LOG_DEBUG : cfg.main.log_level);

	/* Validate before running: plugins, compressor, level, binaries. */
	struct loader ld = {0};
	struct loaded_plugin *comp = NULL, *cond = NULL;
	int lockfd = -1, dirfd = -1;
	char *plugin_dir = loader_default_dir(cfg.main.plugin_dir);
	code = OMA_EXIT_CONFIG;
	if (o.verify) {
		char *last = o.folder != NULL ? xstrdup(o.folder)
		                              : xasprintf("%s/last", cfg.main.backup_dir);
		code = verify_command(last, plugin_dir);
		free(last);
		goto out;
	}
	if (load_plugins(&cfg, &ld, plugin_dir, o.config_path, &comp) != 0)
		goto out;
	if (o.print_only) {
		code = cfg_print_json(&cfg, stdout) == 0 ? OMA_EXIT_OK : OMA_EXIT_CONFIG;
		goto out;
	}
	if (init_plugins(&cfg, &ld, plugin_dir, o.config_path, comp, &cond) != 0)
		goto out;
	if (o.check_remote && check_remote(&cfg, &ld) != 0)
		goto out;
	if (o.check_only) {
		print_check_ok(&cfg, o.config_path);
		code = OMA_EXIT_OK;
		goto out;
	}
	if (o.dry_run) {
		code = dry_run(&cfg, &ld, comp, cond);
		goto out;
	}
	code = take_locks(&cfg, &lockfd, &dirfd);
	if (code == OMA_EXIT_OK)
		code = run_backup(&cfg, &ld, comp, cond);
out:
	if (dirfd >= 0)
		close(dirfd);
	if (lockfd >= 0)
		close(lockfd);
	loader_unload(&ld);
	free(plugin_dir);
	cfg_free(&cfg);
	return code;
}
