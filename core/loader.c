/* loader.c - finds, validates and loads plugins (.so) from a directory. */
#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "log.h"
#include "proc.h"
#include "util.h"

#define NAME_MAX_LEN 64

static const char *(*config_getter)(const char *section, const char *key);

static void host_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void host_log(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

static const char *host_config_get(const char *section, const char *key)
{
	if (config_getter == NULL)
		return NULL;
	return config_getter(section, key);
}

static const struct oma_host host_table = {
	.abi = OMA_PLUGIN_ABI,
	.size = sizeof(struct oma_host),
	.log = host_log,
	.config_get = host_config_get,
	.run = proc_host_run,
};

const struct oma_host *loader_host(void)
{
	return &host_table;
}

void loader_set_config_getter(const char *(*get)(const char *section, const char *key))
{
	config_getter = get;
}

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The absolute path of the running executable, or NULL when /proc is
 * unavailable. */
static char *exe_path(void)
{
	size_t cap = 256;
	for (;;) {
		char *buf = xmalloc(cap);
		ssize_t n = readlink("/proc/self/exe", buf, cap);
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if ((size_t)n < cap) {
			buf[n] = '\0';
			return buf;
		}
		free(buf);
		cap *= 2;
	}
}

/* Cut `path` at its last '/', leaving its directory ("" for "/x"). */
static void cut_last_component(char *path)
{
	char *slash = strrchr(path, '/');
	if (slash != NULL)
		*slash = '\0';
	else
		path[0] = '\0';
}

char *loader_default_dir(const char *configured)
{
	if (configured != NULL)
		return xstrdup(configured);
	const char *env = getenv("OMA_PLUGIN_DIR");
	if (env != NULL && env[0] != '\0')
		return xstrdup(env);

	char *exe = exe_path();
	if (exe == NULL)
		return xstrdup("/usr/local/lib/oma/plugins");
	cut_last_component(exe); /* .../bin */
	char *dir = xasprintf("%s/plugins", exe);
	if (!is_dir(dir)) {
		free(dir);
		cut_last_component(exe); /* PREFIX */
		dir = xasprintf("%s/lib/oma/plugins", exe);
	}
	free(exe);
	return dir;
}

static const char *type_name(uint32_t type)
{
	switch (type) {
	case OMA_PLUGIN_COMPRESS: return "compress";
	case OMA_PLUGIN_REPORT: return "report";
	case OMA_PLUGIN_CONDITION: return "condition";
	default: return "unknown";
	}
}

static int valid_name(const char *name)
{
	size_t n = 0;
	for (; name[n] != '\0'; n++) {
		char c = name[n];
		int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
		if (!ok || n >= NAME_MAX_LEN)
			return 0;
	}
	return n > 0;
}

/* Check the function table of `d` for its type; fills err (prefixed with
 * "plugin FILE: ") and returns -1 when something mandatory is missing. */
static int check_ops(const struct oma_plugin *d, const char *file, char *err, size_t errlen)
{
	const char *what = type_name(d->type);
	const char *missing = NULL;

	switch (d->type) {
	case OMA_PLUGIN_COMPRESS: {
		const struct oma_compress_ops *c = d->compress;
		if (c == NULL) {
			missing = "compress ops";
			break;
		}
		if (c->suffix == NULL)
			missing = "suffix";
		else if (c->open == NULL)
			missing = "open()";
		else if (c->write == NULL)
			missing = "write()";
		else if (c->finish == NULL)
			missing = "finish()";
		else if (c->abort == NULL)
			missing = "abort()";
		if (missing != NULL)
			break;
		if (c->suffix[0] != '.' || c->suffix[1] == '\0') {
			cm_errf(err, errlen, "plugin %s: compress plugin '%s': suffix '%.64s' must be '.' and a name, e.g. \".sql.gz\"",
			        file, d->name, c->suffix);
			return -1;
		}
		if (c->min_level > c->max_level || c->default_level < c->min_level ||
		    c->default_level > c->max_level) {
			cm_errf(err, errlen,
			        "plugin %s: compress plugin '%s': default level %d outside its range %d..%d",
			        file, d->name, c->default_level, c->min_level, c->max_level);
			return -1;
		}
		break;
	}
	case OMA_PLUGIN_REPORT:
		if (d->report == NULL)
			missing = "report ops";
		else if (d->report->report == NULL)
			missing = "report()";
		break;
	case OMA_PLUGIN_CONDITION:
		if (d->condition == NULL)
			missing = "condition ops";
		else if (d->condition->run == NULL)
			missing = "run()";
		else if (d->condition->result_free == NULL)
			missing = "result_free()";
		break;
	default:
		break;
	}
	if (missing != NULL) {
		cm_errf(err, errlen, "plugin %s: %s plugin '%s' has no %s", file, what, d->name, missing);
		return -1;
	}
	return 0;
}

/* Validate the descriptor of `file` without calling into the plugin.
 * Returns 0, or -1 with err set. */
static int check_descriptor(struct loader *ld, const struct oma_plugin *d, const char *file,
                            int want_type, const char *want_name, char *err, size_t errlen)
{
	if (d->abi != OMA_PLUGIN_ABI) {
		cm_errf(err, errlen, "plugin %s: ABI mismatch: expected %d, found %u", file,
		        OMA_PLUGIN_ABI, (unsigned)d->abi);
		return -1;
	}
	if (d->size < sizeof(struct oma_plugin)) {
		cm_errf(err, errlen, "plugin %s: descriptor size %u is smaller than %zu", file,
		        (unsigned)d->size, sizeof(struct oma_plugin));
		return -1;
	}
	if (d->type != OMA_PLUGIN_COMPRESS && d->type != OMA_PLUGIN_REPORT &&
	    d->type != OMA_PLUGIN_CONDITION) {
		cm_errf(err, errlen, "plugin %s: unknown plugin type %u", file, (unsigned)d->type);
		return -1;
	}
	if (d->name == NULL) {
		cm_errf(err, errlen, "plugin %s: %s plugin has no name", file, type_name(d->type));
		return -1;
	}
	if (!valid_name(d->name)) {
		cm_errf(err, errlen, "plugin %s: invalid plugin name '%.80s' (expected 1 to %d of [a-z0-9_-])",
		        file, d->name, NAME_MAX_LEN);
		return -1;
	}
	if (want_name != NULL && ((int)d->type != want_type || strcmp(d->name, want_name) != 0)) {
		cm_errf(err, errlen, "plugin %s: holds %s plugin '%s', expected %s plugin '%s'", file,
		        type_name(d->type), d->name, type_name((uint32_t)want_type), want_name);
		return -1;
	}
	if (check_ops(d, file, err, errlen) != 0)
		return -1;
	struct loaded_plugin *other = loader_find(ld, (int)d->type, d->name);
	if (other != NULL) {
		cm_errf(err, errlen, "plugin %s: duplicate %s plugin '%s' (also in %s)", file,
		        type_name(d->type), d->name, other->path);
		return -1;
	}
	return 0;
}

/* ---- checks before dlopen ------------------------------------------------ */

#if UINTPTR_MAX > 0xffffffffu
typedef Elf64_Ehdr Ehdr;
typedef Elf64_Phdr Phdr;
typedef Elf64_Shdr Shdr;
typedef Elf64_Dyn Dyn;
typedef Elf64_Sym Sym;
typedef Elf64_Rela Rela;
typedef Elf64_Rel Rel;
typedef Elf64_Addr Addr;
#define OUR_CLASS ELFCLASS64
#else
typedef Elf32_Ehdr Ehdr;
typedef Elf32_Phdr Phdr;
typedef Elf32_Shdr Shdr;
typedef Elf32_Dyn Dyn;
typedef Elf32_Sym Sym;
typedef Elf32_Rela Rela;
typedef Elf32_Rel Rel;
typedef Elf32_Addr Addr;
#define OUR_CLASS ELFCLASS32
#endif

/* More entries than any real dynamic section has (a few dozen). */
#define DYN_MAX 1024

/* The e_machine of the running executable (0 when it cannot be read). */
static unsigned our_machine(void)
{
	static unsigned machine = 1u << 31;
	if (machine == 1u << 31) {
		Ehdr eh;
		int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
		machine = fd >= 0 && pread(fd, &eh, sizeof(eh), 0) == (ssize_t)sizeof(eh) ? eh.e_machine : 0;
		if (fd >= 0)
			close(fd);
	}
	return machine;
}

/* Where in the file the `len` bytes at address `addr` of the loaded object
 * come from: they must lie in the part of one PT_LOAD segment that is read
 * from the file (not the zero-filled rest past its p_filesz).  Returns the
 * file offset, or -1. */
static int64_t file_offset(const Phdr *ph, unsigned n, uint64_t addr, uint64_t len)
{
	for (unsigned i = 0; i < n; i++) {
		if (ph[i].p_type != PT_LOAD || addr < ph[i].p_vaddr)
			continue;
		uint64_t in = addr - ph[i].p_vaddr;
		if (in < ph[i].p_filesz && len <= ph[i].p_filesz - in)
			return (int64_t)(ph[i].p_offset + in);
	}
	return -1;
}

/* Slots for the dynamic tags checked below: the standard ones by their
 * value, then the GNU ones. */
enum {
	S_GNU_HASH = DT_NUM,
	S_VERSYM,
	S_VERDEF,
	S_VERDEFNUM,
	S_VERNEED,
	S_VERNEEDNUM,
	S_COUNT
};

static int dyn_slot(int64_t tag)
{
	switch (tag) {
	case DT_GNU_HASH: return S_GNU_HASH;
	case DT_VERSYM: return S_VERSYM;
	case DT_VERDEF: return S_VERDEF;
	case DT_VERDEFNUM: return S_VERDEFNUM;
	case DT_VERNEED: return S_VERNEED;
	case DT_VERNEEDNUM: return S_VERNEEDNUM;
	default: return tag >= 0 && tag < DT_NUM ? (int)tag : -1;
	}
}

static const char *const dyn_names[S_COUNT] = {
	[DT_PLTRELSZ] = "DT_PLTRELSZ", [DT_HASH] = "DT_HASH", [DT_STRTAB] = "DT_STRTAB",
	[DT_SYMTAB] = "DT_SYMTAB", [DT_RELA] = "DT_RELA", [DT_RELASZ] = "DT_RELASZ",
	[DT_RELAENT] = "DT_RELAENT", [DT_STRSZ] = "DT_STRSZ", [DT_SYMENT] = "DT_SYMENT",
	[DT_INIT] = "DT_INIT", [DT_FINI] = "DT_FINI", [DT_REL] = "DT_REL", [DT_RELSZ] = "DT_RELSZ",
	[DT_RELENT] = "DT_RELENT", [DT_PLTREL] = "DT_PLTREL", [DT_JMPREL] = "DT_JMPREL",
	[DT_INIT_ARRAY] = "DT_INIT_ARRAY", [DT_FINI_ARRAY] = "DT_FINI_ARRAY",
	[DT_INIT_ARRAYSZ] = "DT_INIT_ARRAYSZ", [DT_FINI_ARRAYSZ] = "DT_FINI_ARRAYSZ",
	[S_GNU_HASH] = "DT_GNU_HASH", [S_VERSYM] = "DT_VERSYM", [S_VERDEF] = "DT_VERDEF",
	[S_VERDEFNUM] = "DT_VERDEFNUM", [S_VERNEED] = "DT_VERNEED", [S_VERNEEDNUM] = "DT_VERNEEDNUM",
};

/* Tags that are only usable with another one beside them (the second). */
static const int dyn_pairs[][2] = {
	{DT_RELA, DT_RELASZ}, {DT_RELA, DT_RELAENT}, {DT_REL, DT_RELSZ}, {DT_REL, DT_RELENT},
	{DT_JMPREL, DT_PLTRELSZ}, {DT_JMPREL, DT_PLTREL}, {DT_INIT_ARRAY, DT_INIT_ARRAYSZ},
	{DT_FINI_ARRAY, DT_FINI_ARRAYSZ}, {S_VERDEF, S_VERDEFNUM}, {S_VERDEF, S_VERSYM},
	{S_VERNEED, S_VERNEEDNUM}, {S_VERNEED, S_VERSYM},
};

/* Tags holding an address dlopen reads from, and the tag giving the
 * number of bytes there (-1: at least one). */
static const int dyn_addrs[][2] = {
	{DT_STRTAB, DT_STRSZ}, {DT_SYMTAB, -1}, {DT_HASH, -1}, {S_GNU_HASH, -1},
	{DT_RELA, DT_RELASZ}, {DT_REL, DT_RELSZ}, {DT_JMPREL, DT_PLTRELSZ},
	{DT_INIT_ARRAY, DT_INIT_ARRAYSZ}, {DT_FINI_ARRAY, DT_FINI_ARRAYSZ}, {DT_INIT, -1},
	{DT_FINI, -1}, {S_VERSYM, -1}, {S_VERDEF, -1}, {S_VERNEED, -1},
};

/* Whether the dynamic section can be followed by dlopen(): it reads the
 * entries up to DT_NULL, then the tables they point to, trusting every
 * address and size, so a file whose size is right but whose contents are
 * not (zeros from a crash or a full disk after the size was set) kills the
 * process there with SIGSEGV or SIGFPE.  Section headers are not used: a
 * stripped plugin may have none.  Returns 0, or -1 with a short reason in
 * why ("damaged ELF file (...)"). */
static int check_dynamic(int fd, const Phdr *ph, unsigned n, char *why, size_t whylen)
{
	const Phdr *dyn = NULL;
	for (unsigned i = 0; i < n && dyn == NULL; i++)
		if (ph[i].p_type == PT_DYNAMIC)
			dyn = &ph[i];
	if (dyn == NULL) {
		cm_errf(why, whylen, "damaged ELF file (no dynamic section)");
		return -1;
	}
	if (file_offset(ph, n, dyn->p_vaddr, dyn->p_filesz) != (int64_t)dyn->p_offset) {
		cm_errf(why, whylen, "damaged ELF file (dynamic section at byte %llu not in a loaded "
		        "part of the file)", (unsigned long long)dyn->p_offset);
		return -1;
	}

	uint64_t val[S_COUNT] = {0};
	unsigned char seen[S_COUNT] = {0};
	uint64_t max_name = 0;
	int has_name = 0, ended = 0;
	uint64_t count = dyn->p_filesz / sizeof(Dyn);
	if (count > DYN_MAX)
		count = DYN_MAX;
	for (uint64_t i = 0; i < count && !ended; i++) {
		Dyn d;
		if (pread(fd, &d, sizeof(d), (off_t)(dyn->p_offset + i * sizeof(d))) != (ssize_t)sizeof(d)) {
			cm_errf(why, whylen, "cannot read its dynamic section");
			return -1;
		}
		if (d.d_tag == DT_NULL) {
			if (i == 0) {
				cm_errf(why, whylen, "damaged ELF file (empty dynamic section at byte %llu)",
				        (unsigned long long)dyn->p_offset);
				return -1;
			}
			ended = 1;
			continue;
		}
		/* Offsets into the string table. */
		if (d.d_tag == DT_NEEDED || d.d_tag == DT_SONAME || d.d_tag == DT_RPATH ||
		    d.d_tag == DT_RUNPATH) {
			has_name = 1;
			if (d.d_un.d_val > max_name)
				max_name = d.d_un.d_val;
		}
		int slot = dyn_slot(d.d_tag);
		if (slot >= 0) {
			val[slot] = d.d_un.d_val;
			seen[slot] = 1;
		}
	}
	if (!ended) {
		cm_errf(why, whylen, "damaged ELF file (dynamic section at byte %llu not ended by DT_NULL)",
		        (unsigned long long)dyn->p_offset);
		return -1;
	}
	static const int required[] = {DT_STRTAB, DT_SYMTAB, DT_STRSZ};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (!seen[required[i]]) {
			cm_errf(why, whylen, "damaged ELF file (no %s in its dynamic section)",
			        dyn_names[required[i]]);
			return -1;
		}
	}
	if (!seen[DT_HASH] && !seen[S_GNU_HASH]) {
		cm_errf(why, whylen, "damaged ELF file (no DT_HASH or DT_GNU_HASH in its dynamic section)");
		return -1;
	}
	for (size_t i = 0; i < sizeof(dyn_pairs) / sizeof(dyn_pairs[0]); i++) {
		if (seen[dyn_pairs[i][0]] && !seen[dyn_pairs[i][1]]) {
			cm_errf(why, whylen, "damaged ELF file (%s without %s in its dynamic section)",
			        dyn_names[dyn_pairs[i][0]], dyn_names[dyn_pairs[i][1]]);
			return -1;
		}
	}
	/* The entry sizes ld.so assumes (it asserts them: SIGABRT). */
	int bad = -1;
	if (seen[DT_SYMENT] && val[DT_SYMENT] != sizeof(Sym))
		bad = DT_SYMENT;
	else if (seen[DT_RELAENT] && val[DT_RELAENT] != sizeof(Rela))
		bad = DT_RELAENT;
	else if (seen[DT_RELENT] && val[DT_RELENT] != sizeof(Rel))
		bad = DT_RELENT;
	else if (seen[DT_PLTREL] && val[DT_PLTREL] != DT_RELA && val[DT_PLTREL] != DT_REL)
		bad = DT_PLTREL;
	else if (seen[S_VERDEFNUM] && val[S_VERDEFNUM] == 0)
		bad = S_VERDEFNUM;
	else if (seen[S_VERNEEDNUM] && val[S_VERNEEDNUM] == 0)
		bad = S_VERNEEDNUM;
	if (bad >= 0) {
		cm_errf(why, whylen, "damaged ELF file (%s %llu in its dynamic section)", dyn_names[bad],
		        (unsigned long long)val[bad]);
		return -1;
	}
	/* The constructors of a shared object are addresses that need a
	 * relative relocation (in DT_RELA, DT_REL or DT_RELR, not the PLT's
	 * DT_JMPREL) to where it is loaded: with none, the list of entries
	 * was cut short. */
	int relocs = seen[DT_RELA] || seen[DT_REL];
#ifdef DT_RELR
	relocs = relocs || seen[DT_RELR];
#endif
	if (!relocs && ((seen[DT_INIT_ARRAY] && val[DT_INIT_ARRAYSZ] > 0) ||
	                (seen[DT_FINI_ARRAY] && val[DT_FINI_ARRAYSZ] > 0))) {
		cm_errf(why, whylen, "damaged ELF file (constructors but no relocations in its dynamic "
		        "section)");
		return -1;
	}
	/* Address 0 is the ELF header itself, where no table is. */
	for (size_t i = 0; i < sizeof(dyn_addrs) / sizeof(dyn_addrs[0]); i++) {
		int slot = dyn_addrs[i][0], len_slot = dyn_addrs[i][1];
		uint64_t len = len_slot >= 0 ? val[len_slot] : 1;
		if (seen[slot] && (val[slot] == 0 || len == 0 || file_offset(ph, n, val[slot], len) < 0)) {
			cm_errf(why, whylen, "damaged ELF file (%s at 0x%llx, %llu bytes, not in a loaded part "
			        "of the file)", dyn_names[slot], (unsigned long long)val[slot],
			        (unsigned long long)len);
			return -1;
		}
	}
	if (file_offset(ph, n, val[DT_SYMTAB], sizeof(Sym)) < 0) {
		cm_errf(why, whylen, "damaged ELF file (symbol table at 0x%llx not in a loaded part of "
		        "the file)", (unsigned long long)val[DT_SYMTAB]);
		return -1;
	}

	/* The strings (library names) are read up to their NUL. */
	uint64_t strsz = val[DT_STRSZ];
	int64_t at = file_offset(ph, n, val[DT_STRTAB], strsz);
	unsigned char last = 1;
	if (pread(fd, &last, 1, (off_t)(at + (int64_t)strsz - 1)) != 1 || last != '\0' ||
	    (has_name && max_name >= strsz)) {
		cm_errf(why, whylen, "damaged ELF file (string table at 0x%llx not ended by a NUL, or a "
		        "library name past its end)", (unsigned long long)val[DT_STRTAB]);
		return -1;
	}

	/* dlsym() divides by the bucket count: 0 is SIGFPE.  DT_HASH starts
	 * with nbucket, nchain; DT_GNU_HASH with nbuckets, symoffset,
	 * bloom_size, bloom_shift (a Bloom filter of 0 words is read out of
	 * bounds). */
	int gnu = seen[S_GNU_HASH];
	const char *hash_name = dyn_names[gnu ? S_GNU_HASH : DT_HASH];
	uint64_t hash = val[gnu ? S_GNU_HASH : DT_HASH];
	uint32_t head[4] = {0};
	size_t head_len = (gnu ? 4 : 2) * sizeof(uint32_t);
	at = file_offset(ph, n, hash, head_len);
	if (at < 0 || pread(fd, head, head_len, (off_t)at) != (ssize_t)head_len) {
		cm_errf(why, whylen, "damaged ELF file (%s table at 0x%llx not in a loaded part of the "
		        "file)", hash_name, (unsigned long long)hash);
		return -1;
	}
	if (head[0] == 0 || (gnu && head[2] == 0)) {
		cm_errf(why, whylen, "damaged ELF file (%s table at 0x%llx has no %s)", hash_name,
		        (unsigned long long)hash, head[0] == 0 ? "buckets" : "Bloom filter");
		return -1;
	}
	uint64_t hash_len = gnu ? head_len + (uint64_t)head[2] * sizeof(Addr) + (uint64_t)head[0] * 4
	                        : head_len + ((uint64_t)head[0] + head[1]) * 4;
	if (file_offset(ph, n, hash, hash_len) < 0) {
		cm_errf(why, whylen, "damaged ELF file (%s table at 0x%llx, %llu bytes, not in a loaded "
		        "part of the file)", hash_name, (unsigned long long)hash,
		        (unsigned long long)hash_len);
		return -1;
	}
	return 0;
}

/* Whether the open file is a complete ELF shared object for this machine
 * whose dynamic section dlopen() can follow: dlopen maps it, and a file
 * cut short (a truncated copy, a full disk) makes the process die of
 * SIGBUS there instead of failing, one zero-filled past some point of
 * SIGSEGV.  Returns 0, or -1 with a short reason in why. */
static int check_elf(int fd, off_t size, char *why, size_t whylen)
{
	Ehdr eh;
	if (size < (off_t)sizeof(eh) || pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
		cm_errf(why, whylen, "not an ELF file");
		return -1;
	}
	unsigned one = 1;
	int little = *(unsigned char *)&one == 1;
	if (eh.e_ident[EI_CLASS] != OUR_CLASS ||
	    eh.e_ident[EI_DATA] != (little ? ELFDATA2LSB : ELFDATA2MSB) ||
	    (our_machine() != 0 && eh.e_machine != our_machine())) {
		cm_errf(why, whylen, "an ELF file for another kind of machine");
		return -1;
	}
	if (eh.e_type != ET_DYN) {
		cm_errf(why, whylen, "not a shared object (ELF type %u)", (unsigned)eh.e_type);
		return -1;
	}
	uint64_t fsize = (uint64_t)size;
	if (eh.e_phentsize != sizeof(Phdr) || eh.e_phnum == 0 ||
	    (uint64_t)eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Phdr) > fsize ||
	    (eh.e_shnum > 0 && (uint64_t)eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize > fsize)) {
		cm_errf(why, whylen, "truncated or damaged ELF file (headers past its end, %llu bytes)",
		        (unsigned long long)fsize);
		return -1;
	}
	/* Section headers are not needed to load (a plugin may have none),
	 * but when there are some they come last in the file, and the last
	 * one all zeros (only the first one is) means the end of the file was
	 * lost after its size was set. */
	if (eh.e_shnum > 1) {
		Shdr sh, zero;
		memset(&zero, 0, sizeof(zero));
		if (eh.e_shentsize != sizeof(sh) ||
		    pread(fd, &sh, sizeof(sh), (off_t)(eh.e_shoff + (uint64_t)(eh.e_shnum - 1) * sizeof(sh))) !=
		            (ssize_t)sizeof(sh) ||
		    memcmp(&sh, &zero, sizeof(sh)) == 0) {
			cm_errf(why, whylen, "damaged ELF file (section header %u of %u at byte %llu is %s)",
			        (unsigned)eh.e_shnum - 1, (unsigned)eh.e_shnum,
			        (unsigned long long)(eh.e_shoff + (uint64_t)(eh.e_shnum - 1) * eh.e_shentsize),
			        eh.e_shentsize != sizeof(sh) ? "of the wrong size" : "all zeros");
			return -1;
		}
	}
	unsigned n = eh.e_phnum;
	Phdr *ph = xmalloc(n * sizeof(*ph));
	int rc = -1;
	if (pread(fd, ph, n * sizeof(*ph), (off_t)eh.e_phoff) != (ssize_t)(n * sizeof(*ph))) {
		cm_errf(why, whylen, "cannot read its program headers");
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		if ((ph[i].p_type == PT_LOAD || ph[i].p_type == PT_DYNAMIC) &&
		    (ph[i].p_filesz > fsize || ph[i].p_offset > fsize - ph[i].p_filesz)) {
			cm_errf(why, whylen, "truncated ELF file: a segment ends at byte %llu, the file "
			        "has %llu", (unsigned long long)((uint64_t)ph[i].p_offset + ph[i].p_filesz),
			        (unsigned long long)fsize);
			goto out;
		}
	}
	rc = check_dynamic(fd, ph, n, why, whylen);
out:
	free(ph);
	return rc;
}

/* Running as root, oma loads code only from files and folders that only
 * root can change: owned by root, not writable by group or others.
 * Returns 0, or -1 with err set. */
static int check_owner(const char *what, const char *path, const struct stat *st, char *err,
                       size_t errlen)
{
	if (geteuid() != 0)
		return 0;
	if (st->st_uid != 0) {
		cm_errf(err, errlen, "plugin %s %s is owned by uid %u, not root: refusing to load "
		        "code from it as root", what, path, (unsigned)st->st_uid);
		return -1;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		cm_errf(err, errlen, "plugin %s %s is writable by %s (mode %04o): refusing to load "
		        "code from it as root", what, path,
		        (st->st_mode & S_IWOTH) ? "others" : "its group",
		        (unsigned)(st->st_mode & 07777));
		return -1;
	}
	return 0;
}

/* Running as root, every folder above `dir` (a real path, no links), up
 * to /, must be one only root can change too: whoever can write to one
 * can rename what is in it and put a folder of their own in its place.
 * A root-owned folder with the sticky bit (/tmp) is safe there: others
 * can add to it but not rename or remove what root put in it.  Returns 0,
 * or -1 with err set. */
static int check_ancestors(const char *dir, char *err, size_t errlen)
{
	if (geteuid() != 0)
		return 0;
	char *up = xstrdup(dir);
	int rc = 0;
	while (rc == 0 && up[0] != '\0') {
		cut_last_component(up);
		const char *name = up[0] != '\0' ? up : "/";
		struct stat st;
		if (stat(name, &st) != 0) {
			cm_errf(err, errlen, "plugin folder %s: %s", name, strerror(errno));
			rc = -1;
		} else if (!(st.st_uid == 0 && (st.st_mode & S_ISVTX))) {
			rc = check_owner("folder", name, &st, err, errlen);
		}
	}
	free(up);
	return rc;
}

/* Everything that can be checked before dlopen: a regular file, safe to
 * load as root (also the folder it really lives in and every folder
 * above), a complete ELF shared object.  The checks are made on one open descriptor,
 * which is what gets loaded (load_fd): the file at `path` may be another
 * one by then.  Returns 0 with *fdp that descriptor (the caller closes it)
 * and *st its fstat; 1 when the file does not exist (err set); -1 with
 * err set. */
static int check_file(const char *path, int *fdp, struct stat *st, char *err, size_t errlen)
{
	/* A FIFO or device under the plugin's name is refused, not waited on. */
	int fd = open_regular(AT_FDCWD, path, 0);
	if (fd == -2) {
		cm_errf(err, errlen, "plugin %s: not a regular file", path);
		return -1;
	}
	if (fd < 0) {
		cm_errf(err, errlen, "plugin %s: %s", path, strerror(errno));
		return errno == ENOENT ? 1 : -1;
	}
	int rc = -1;
	char *real = realpath(path, NULL);
	char why[256];
	if (fstat(fd, st) != 0 || real == NULL) {
		cm_errf(err, errlen, "plugin %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		cm_errf(err, errlen, "plugin %s: not a regular file", path);
		goto out;
	}
	if (check_owner("file", real, st, err, errlen) != 0)
		goto out;
	char *dir = xstrdup(real);
	cut_last_component(dir);
	struct stat dst;
	if (stat(dir[0] != '\0' ? dir : "/", &dst) != 0) {
		cm_errf(err, errlen, "plugin folder %s: %s", dir, strerror(errno));
		free(dir);
		goto out;
	}
	int owner = check_owner("folder", dir, &dst, err, errlen);
	if (owner == 0)
		owner = check_ancestors(dir, err, errlen);
	free(dir);
	if (owner != 0)
		goto out;
	/* The path checked is the file opened (not swapped in between). */
	struct stat rst;
	if (stat(real, &rst) != 0 || rst.st_dev != st->st_dev || rst.st_ino != st->st_ino) {
		cm_errf(err, errlen, "plugin %s: replaced while it was being checked", path);
		goto out;
	}
	if (check_elf(fd, st->st_size, why, sizeof(why)) != 0) {
		cm_errf(err, errlen, "plugin %s: %s", path, why);
		goto out;
	}
	rc = 0;
out:
	free(real);
	if (rc == 0)
		*fdp = fd;
	else
		close(fd);
	return rc;
}

/* The folder a plugin is loaded from must be as safe as the file, and so
 * must every folder above where it really is. */
static int check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	if (stat(dir, &st) != 0) {
		cm_errf(err, errlen, "plugin dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		cm_errf(err, errlen, "plugin dir %s: not a folder", dir);
		return -1;
	}
	if (check_owner("folder", dir, &st, err, errlen) != 0)
		return -1;
	if (geteuid() != 0)
		return 0;
	char *real = realpath(dir, NULL);
	if (real == NULL) {
		cm_errf(err, errlen, "plugin dir %s: %s", dir, strerror(errno));
		return -1;
	}
	int rc = check_ancestors(real, err, errlen);
	free(real);
	return rc;
}

/* The lowest descriptor number no load has named yet: glibc knows a
 * loaded object by the name it was opened with, and dlopen of a name it
 * has seen gives back that object (also after dlclose: RTLD_NODELETE keeps
 * them), so /proc/self/fd/N of a new plugin must not reuse an N. */
static int next_fd_name;

/* The name "/proc/self/fd/N" (in `name`) under which dlopen opens the
 * checked file `fd` itself, N never named before.  Returns N (the caller
 * closes it; it is fd or a copy of it), or -1 with err set, for `path`:
 * also when /proc is not mounted (then nothing is loaded by name, which
 * would open whatever is at `path` by now). */
static int fd_name(int fd, const struct stat *st, const char *path, char *name, size_t namelen,
                   char *err, size_t errlen)
{
	int num = fd;
	if (fd < next_fd_name) {
		num = fcntl(fd, F_DUPFD_CLOEXEC, next_fd_name);
		if (num < 0) {
			cm_errf(err, errlen, "plugin %s: cannot load: no descriptor number from %d on for "
			        "/proc/self/fd: %s", path, next_fd_name, strerror(errno));
			return -1;
		}
	}
	next_fd_name = num + 1;
	snprintf(name, namelen, "/proc/self/fd/%d", num);
	struct stat pst;
	int found = stat(name, &pst) == 0;
	if (!found || pst.st_dev != st->st_dev || pst.st_ino != st->st_ino) {
		cm_errf(err, errlen, "plugin %s: cannot load it through %s, the file checked: %s (is "
		        "/proc mounted?)", path, name, found ? "another file is there" : strerror(errno));
		if (num != fd)
			close(num);
		return -1;
	}
	return num;
}

/* dlopen the checked file `fd` (closed here) of `path`, validate it and
 * append it to ld.  Returns 0, or -1 with err set (the handle is closed
 * again). */
static int load_fd(struct loader *ld, const char *path, int fd, const struct stat *st,
                   int want_type, const char *want_name, char *err, size_t errlen)
{
	int rc = -1;
	char name[64];
	int num = fd_name(fd, st, path, name, sizeof(name), err, errlen);
	if (num < 0) {
		close(fd);
		return -1;
	}
	(void)dlerror();
	/* RTLD_NODELETE: a plugin's libraries (libcurl, OpenSSL) register
	 * thread-specific data and exit handlers; unmapping them at dlclose
	 * would leave those pointing nowhere. */
	void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (num != fd)
		close(num);
	close(fd);
	if (handle == NULL) {
		const char *why = dlerror();
		if (why == NULL)
			why = "unknown error";
		/* It names the object by the name it was given: say `path` once. */
		size_t len = strlen(name);
		if (strncmp(why, name, len) == 0 && strncmp(why + len, ": ", 2) == 0)
			why += len + 2;
		cm_errf(err, errlen, "plugin %s: cannot load: %s", path, why);
		return -1;
	}
	const struct oma_plugin *d = dlsym(handle, OMA_PLUGIN_SYMBOL);
	if (d == NULL) {
		cm_errf(err, errlen, "plugin %s: no %s symbol (not an oma plugin?)", path, OMA_PLUGIN_SYMBOL);
		goto out;
	}
	rc = check_descriptor(ld, d, path, want_type, want_name, err, errlen);
	if (rc != 0)
		goto out;
	ld->plugins = xrealloc(ld->plugins, (ld->n + 1) * sizeof(*ld->plugins));
	ld->plugins[ld->n] = xmalloc(sizeof(**ld->plugins));
	*ld->plugins[ld->n] = (struct loaded_plugin){
		.path = xstrdup(path),
		.handle = handle,
		.desc = d,
		.initialized = 0,
	};
	ld->n++;
	handle = NULL;
	rc = 0;
out:
	if (handle != NULL)
		dlclose(handle);
	return rc;
}

/* check_file, then load_fd.  Returns 0; 1 when `path` does not exist; -1;
 * err set unless 0. */
static int load_one(struct loader *ld, const char *path, int want_type, const char *want_name,
                    char *err, size_t errlen)
{
	int fd;
	struct stat st;
	int rc = check_file(path, &fd, &st, err, errlen);
	if (rc != 0)
		return rc;
	return load_fd(ld, path, fd, &st, want_type, want_name, err, errlen);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_so_suffix(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && n > 3 && strcmp(name + n - 3, ".so") == 0;
}

/* The sorted paths of the regular "*.so" files in `dir`.  Returns 0, or -1
 * with err set when the folder cannot be read. */
static int list_plugins(const char *dir, struct strv *out, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		cm_errf(err, errlen, "plugin dir %s: %s", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (e == NULL) {
			if (errno != 0) {
				cm_errf(err, errlen, "plugin dir %s: %s", dir, strerror(errno));
				rc = -1;
			}
			break;
		}
		if (!has_so_suffix(e->d_name))
			continue;
		char *path = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			strv_push(out, path);
		free(path);
	}
	closedir(d);
	if (rc != 0) {
		strv_free(out);
		return rc;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_str);
	return 0;
}

const char *loader_type_name(int type)
{
	return type_name((uint32_t)type);
}

int loader_load(struct loader *ld, const char *dir, int type, const char *name,
                struct loaded_plugin **out, char *err, size_t errlen)
{
	*out = loader_find(ld, type, name);
	if (*out != NULL)
		return 0;
	if (!valid_name(name)) {
		cm_errf(err, errlen, "no plugin can be called '%.80s' (1 to %d of [a-z0-9_-])", name,
		        NAME_MAX_LEN);
		return 1;
	}
	if (check_dir(dir, err, errlen) != 0)
		return -1;
	if (ld->dir == NULL)
		ld->dir = xstrdup(dir);
	const char *tn = type_name((uint32_t)type);
	char *path = xasprintf("%s/%s-%s.so", dir, tn, name);
	int rc = load_one(ld, path, type, name, err, errlen);
	if (rc == 1)
		cm_errf(err, errlen, "no %s plugin '%s' (%s-%s.so) in %s", tn, name, tn, name, dir);
	if (rc != 0)
		goto out;
	*out = ld->plugins[ld->n - 1];
out:
	free(path);
	return rc;
}

int loader_load_dir(struct loader *ld, const char *dir, char *err, size_t errlen)
{
	struct strv files = {0};
	int rc = check_dir(dir, err, errlen);
	if (rc == 0)
		rc = list_plugins(dir, &files, err, errlen);
	if (rc != 0)
		goto out;
	free(ld->dir);
	ld->dir = xstrdup(dir);
	for (size_t i = 0; i < files.n; i++) {
		/* A file gone since the listing is an error too (err says so). */
		rc = load_one(ld, files.v[i], 0, NULL, err, errlen);
		if (rc != 0)
			goto out;
	}
out:
	strv_free(&files);
	if (rc != 0) {
		loader_unload(ld);
		return -1;
	}
	return 0;
}

struct loaded_plugin *loader_find(struct loader *ld, int type, const char *name)
{
	for (size_t i = 0; i < ld->n; i++) {
		const struct oma_plugin *d = ld->plugins[i]->desc;
		if ((int)d->type == type && strcmp(d->name, name) == 0)
			return ld->plugins[i];
	}
	return NULL;
}

int loader_init(struct loaded_plugin *p, const struct oma_host *host, char *err, size_t errlen)
{
	if (p->initialized)
		return 0;
	if (p->desc->init != NULL) {
		char why[512];
		why[0] = '\0';
		int rc = p->desc->init(host != NULL ? host : loader_host(), why, sizeof(why));
		why[sizeof(why) - 1] = '\0';
		if (rc != 0) {
			cm_errf(err, errlen, "plugin %s: init of '%s' failed: %s", p->path, p->desc->name,
			        why[0] != '\0' ? why : "no reason given");
			return -1;
		}
	}
	p->initialized = 1;
	return 0;
}

void loader_unload(struct loader *ld)
{
	/* Finish in reverse load order, then close. */
	for (size_t i = ld->n; i-- > 0;) {
		struct loaded_plugin *p = ld->plugins[i];
		if (p->initialized && p->desc->fini != NULL)
			p->desc->fini();
		p->initialized = 0;
	}
	for (size_t i = ld->n; i-- > 0;) {
		dlclose(ld->plugins[i]->handle);
		free(ld->plugins[i]->path);
		free(ld->plugins[i]);
	}
	free(ld->plugins);
	free(ld->dir);
	ld->plugins = NULL;
	ld->dir = NULL;
	ld->n = 0;
}
