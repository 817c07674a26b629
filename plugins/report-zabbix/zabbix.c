/* zabbix.c - report plugin "zabbix": the summary line and the log to a Zabbix trapper item (settings, init, retries). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <oma/plugin.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/errbuf.h"
#include "common/setting.h"
#include "native.h"
#include "sender.h"
#include "value.h"
#include "zabbix.h"

/*
 * Settings, [zabbix]:
 *   item_key      the trapper item (the plugin runs only when it is set)
 *   sender_bin    zabbix_sender to run (transport "sender"), looked up in PATH
 *   agent_conf    the agent's configuration file
 *   transport     "sender" (default, as upstream): run
 *                 `sender_bin -c agent_conf -k item_key -o VALUE`;
 *                 "native": speak the Zabbix sender protocol over TCP, so
 *                 zabbix_sender need not be installed
 *   server_active native only: replaces ServerActive of agent_conf
 *   hostname      native only: replaces Hostname of agent_conf
 *   timeout       seconds for one attempt: one zabbix_sender call (killed
 *                 after it), or one connection and exchange (default 10)
 *   retries       further attempts after a failure (default 3), after a pause
 *                 of 2, 4, 6 ... seconds (upstream: 10 attempts, 2..20 s)
 *
 * Every attempt and pause stays within ZBX_BUDGET_S seconds in all, well
 * below the core's limit for a reporter.  A rejected value (exit code 2,
 * "failed: 1") is retried like any failure, as upstream does: a new item
 * is known to the server only after its configuration cache was updated.
 *
 * The value: the summary line, "\n", the log file, cut to fit (value.c).
 * Transports: sender.c runs zabbix_sender, native.c speaks the protocol
 * (proto.c) to the servers of agent_conf (agentconf.c).
 */

#define ZBX_BUDGET_S 100 /* the whole report, retries and pauses included */

enum transport { TRANSPORT_SENDER, TRANSPORT_NATIVE };

struct settings {
	char *item_key;
	char *sender_bin;
	char *agent_conf;
	enum transport transport;
	int timeout; /* seconds */
	int retries;
	struct native native; /* transport "native" */
	int ready;
};

static const struct oma_host *H;
static struct settings S;

void zbx_log(int level, const char *fmt, ...)
{
	if (H == NULL || H->log == NULL)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	H->log(level, "%s", msg);
}

int zbx_ms_left(double deadline, int cap_ms)
{
	double left = (deadline - cm_now_s()) * 1000.0;
	if (left <= 0)
		return 0;
	if (left > cap_ms)
		return cap_ms;
	return (int)left + 1;
}

/* ---- settings ----------------------------------------------------------- */

static void settings_free(void)
{
	free(S.item_key);
	free(S.sender_bin);
	free(S.agent_conf);
	native_free(&S.native);
	memset(&S, 0, sizeof(S));
}

static const char *get(const char *key)
{
	return cm_setting(H, "zabbix", key);
}

static const char *const transports[] = {"sender", "native", NULL};

/* The keys of [zabbix], upstream's three first.  The core checks the
 * file against this table and gives the defaults through config_get. */
static const struct oma_setting zabbix_settings[] = {
        {.key = "item_key",
         .type = OMA_SETTING_STRING,
         .flags = OMA_SETTING_SWITCH,
         .def = "",
         .help = "the trapper item; the report is sent only when it is set"},
        {.key = "sender_bin",
         .type = OMA_SETTING_STRING,
         .def = "zabbix_sender",
         .help = "zabbix_sender to run (transport \"sender\"), looked up in PATH"},
        {.key = "agent_conf",
         .type = OMA_SETTING_STRING,
         .def = "/etc/zabbix/zabbix_agentd.conf",
         .help = "the agent's configuration (server, host name)"},
        {.key = "transport",
         .type = OMA_SETTING_STRING,
         .def = "sender",
         .choices = transports,
         .help = "\"sender\" runs zabbix_sender; \"native\" speaks the protocol itself"},
        {.key = "server_active",
         .type = OMA_SETTING_STRING,
         .def = "",
         .help = "native only: replaces ServerActive of agent_conf"},
        {.key = "hostname",
         .type = OMA_SETTING_STRING,
         .def = "",
         .help = "native only: replaces Hostname of agent_conf"},
        {.key = "timeout",
         .type = OMA_SETTING_INT,
         .def = "10",
         .min = 1,
         .max = 300,
         .help = "seconds for one attempt"},
        {.key = "retries",
         .type = OMA_SETTING_INT,
         .def = "3",
         .min = 0,
         .max = 10,
         .help = "further attempts after a failure"},
        {.key = NULL},
};

/* ---- plugin interface --------------------------------------------------- */

/* Read and check the settings.  Fails on a bad value, a missing
 * zabbix_sender (transport "sender") or an unusable agent_conf ("native"). */
static int zabbix_init(const struct oma_host *host, char *err, size_t errlen)
{
	H = host;
	settings_free();
	const char *v = get("item_key");
	S.item_key = strdup(v != NULL ? v : "");
	v = get("sender_bin");
	S.sender_bin = strdup(v != NULL ? v : "");
	v = get("agent_conf");
	S.agent_conf = strdup(v != NULL ? v : "");
	if (S.item_key == NULL || S.sender_bin == NULL || S.agent_conf == NULL) {
		cm_errf(err, errlen, "zabbix: out of memory");
		goto fail;
	}
	v = get("transport");
	S.transport = v != NULL && strcmp(v, "native") == 0 ? TRANSPORT_NATIVE : TRANSPORT_SENDER;
	char why[300];
	if (cm_setting_int(H, "zabbix", "timeout", &S.timeout, why, sizeof(why)) != 0 ||
	    cm_setting_int(H, "zabbix", "retries", &S.retries, why, sizeof(why)) != 0) {
		cm_errf(err, errlen, "zabbix: %s", why);
		goto fail;
	}
	if (S.transport == TRANSPORT_SENDER) {
		if (host->size < offsetof(struct oma_host, run) + sizeof(host->run) ||
		    host->run == NULL) {
			cm_errf(err, errlen,
			        "zabbix: transport \"sender\" needs an oma core that runs "
			        "commands for plugins (0.2 or later); use transport = \"native\"");
			goto fail;
		}
		if (!sender_found(S.sender_bin)) {
			cm_errf(err, errlen,
			        "zabbix: [zabbix] sender_bin: '%s' is not an executable file%s (install zabbix-sender, or set transport = \"native\")",
			        S.sender_bin, strchr(S.sender_bin, '/') ? "" : " in PATH");
			goto fail;
		}
		const char *keys[] = {"server_active", "hostname"};
		for (size_t i = 0; i < 2; i++) {
			v = get(keys[i]);
			if (v != NULL && *v != '\0')
				zbx_log(OMA_LOG_WARNING,
				        "Zabbix: [zabbix] %s is used by transport = \"native\" only; zabbix_sender reads %s",
				        keys[i], S.agent_conf);
		}
	} else if (native_setup(&S.native, S.agent_conf, get("server_active"), get("hostname"), err,
	                        errlen) != 0) {
		goto fail;
	}
	S.ready = 1;
	return 0;
fail:
	settings_free();
	return -1;
}

static void zabbix_fini(void)
{
	settings_free();
	H = NULL;
}

/* Send the report's value with the configured transport, retrying with a
 * growing pause.  Fails when it was not delivered within the attempts. */
static int zabbix_report(const struct oma_report *r, char *err, size_t errlen)
{
	if (!S.ready) {
		cm_errf(err, errlen, "zabbix: report before a successful init");
		return -1;
	}
	double deadline = cm_now_s() + ZBX_BUDGET_S;
	struct cm_buf value = {0}, req = {0};
	int *done = NULL;
	int rc = -1;
	if (value_for(r, &value, err, errlen) != 0)
		goto out;
	if (S.transport == TRANSPORT_NATIVE) {
		if (native_request(&S.native, S.item_key, value.p, &req, err, errlen) != 0)
			goto out;
		done = calloc(S.native.ndests ? S.native.ndests : 1, sizeof(*done));
		if (done == NULL) {
			cm_errf(err, errlen, "zabbix: out of memory building the request");
			goto out;
		}
	}
	const char *how = S.transport == TRANSPORT_NATIVE ? "the Zabbix sender protocol"
	                                                  : S.sender_bin;
	char why[1024] = "";
	int attempt;
	for (attempt = 1;; attempt++) {
		int left = zbx_ms_left(deadline, ZBX_BUDGET_S * 1000) / 1000;
		int t = S.timeout < left ? S.timeout : (left > 0 ? left : 1);
		int arc;
		if (S.transport == TRANSPORT_NATIVE) {
			arc = native_attempt(&S.native, &req, done, t, why, sizeof(why));
		} else {
			struct sender snd = {.bin = S.sender_bin,
			                     .conf = S.agent_conf,
			                     .key = S.item_key};
			arc = sender_run(H, &snd, value.p, t, why, sizeof(why));
		}
		if (arc == 0) {
			zbx_log(OMA_LOG_DEBUG, "Zabbix: value of %zu bytes sent to item '%s' (%s)",
			        value.len, S.item_key, why);
			rc = 0;
			goto out;
		}
		if (attempt > S.retries)
			break;
		int pause = 2 * attempt;
		if (cm_now_s() + pause + 1 > deadline) {
			zbx_log(OMA_LOG_WARNING, "Zabbix: %s failed: %s, no time left for a retry",
			        how, why);
			break;
		}
		zbx_log(OMA_LOG_WARNING, "Zabbix: %s failed: %s, retry in %d seconds", how, why,
		        pause);
		struct timespec ts = {.tv_sec = pause};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	cm_errf(err, errlen, "zabbix: %s failed: giving up after %d tr%s: %s", how, attempt,
	        attempt == 1 ? "y" : "ies", why);
out:
	cm_buf_free(&value);
	cm_buf_free(&req);
	free(done);
	return rc;
}

static const struct oma_report_ops zabbix_ops = {
        .report = zabbix_report,
};

OMA_PLUGIN_DEFINE(.type = OMA_PLUGIN_REPORT, .name = "zabbix", .version = "1.0",
                  .init = zabbix_init, .fini = zabbix_fini, .report = &zabbix_ops,
                  .settings = zabbix_settings);
