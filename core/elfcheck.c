/* elfcheck.c - whether an open file is an ELF shared object that dlopen() can load without crashing. */
#include "elfcheck.h"

#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "util.h"

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
		machine = fd >= 0 && pread(fd, &eh, sizeof(eh), 0) == (ssize_t)sizeof(eh)
		                  ? eh.e_machine
		                  : 0;
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
enum { S_GNU_HASH = DT_NUM, S_VERSYM, S_VERDEF, S_VERDEFNUM, S_VERNEED, S_VERNEEDNUM, S_COUNT };

static int dyn_slot(int64_t tag)
{
	switch (tag) {
	case DT_GNU_HASH:
		return S_GNU_HASH;
	case DT_VERSYM:
		return S_VERSYM;
	case DT_VERDEF:
		return S_VERDEF;
	case DT_VERDEFNUM:
		return S_VERDEFNUM;
	case DT_VERNEED:
		return S_VERNEED;
	case DT_VERNEEDNUM:
		return S_VERNEEDNUM;
	default:
		return tag >= 0 && tag < DT_NUM ? (int)tag : -1;
	}
}

static const char *const dyn_names[S_COUNT] = {
        [DT_PLTRELSZ] = "DT_PLTRELSZ",
        [DT_HASH] = "DT_HASH",
        [DT_STRTAB] = "DT_STRTAB",
        [DT_SYMTAB] = "DT_SYMTAB",
        [DT_RELA] = "DT_RELA",
        [DT_RELASZ] = "DT_RELASZ",
        [DT_RELAENT] = "DT_RELAENT",
        [DT_STRSZ] = "DT_STRSZ",
        [DT_SYMENT] = "DT_SYMENT",
        [DT_INIT] = "DT_INIT",
        [DT_FINI] = "DT_FINI",
        [DT_REL] = "DT_REL",
        [DT_RELSZ] = "DT_RELSZ",
        [DT_RELENT] = "DT_RELENT",
        [DT_PLTREL] = "DT_PLTREL",
        [DT_JMPREL] = "DT_JMPREL",
        [DT_INIT_ARRAY] = "DT_INIT_ARRAY",
        [DT_FINI_ARRAY] = "DT_FINI_ARRAY",
        [DT_INIT_ARRAYSZ] = "DT_INIT_ARRAYSZ",
        [DT_FINI_ARRAYSZ] = "DT_FINI_ARRAYSZ",
        [S_GNU_HASH] = "DT_GNU_HASH",
        [S_VERSYM] = "DT_VERSYM",
        [S_VERDEF] = "DT_VERDEF",
        [S_VERDEFNUM] = "DT_VERDEFNUM",
        [S_VERNEED] = "DT_VERNEED",
        [S_VERNEEDNUM] = "DT_VERNEEDNUM",
};

/* Tags that are only usable with another one beside them (the second). */
static const int dyn_pairs[][2] = {
        {DT_RELA, DT_RELASZ},
        {DT_RELA, DT_RELAENT},
        {DT_REL, DT_RELSZ},
        {DT_REL, DT_RELENT},
        {DT_JMPREL, DT_PLTRELSZ},
        {DT_JMPREL, DT_PLTREL},
        {DT_INIT_ARRAY, DT_INIT_ARRAYSZ},
        {DT_FINI_ARRAY, DT_FINI_ARRAYSZ},
        {S_VERDEF, S_VERDEFNUM},
        {S_VERDEF, S_VERSYM},
        {S_VERNEED, S_VERNEEDNUM},
        {S_VERNEED, S_VERSYM},
};

/* Tags holding an address dlopen reads from, and the tag giving the
 * number of bytes there (-1: at least one). */
static const int dyn_addrs[][2] = {
        {DT_STRTAB, DT_STRSZ},
        {DT_SYMTAB, -1},
        {DT_HASH, -1},
        {S_GNU_HASH, -1},
        {DT_RELA, DT_RELASZ},
        {DT_REL, DT_RELSZ},
        {DT_JMPREL, DT_PLTRELSZ},
        {DT_INIT_ARRAY, DT_INIT_ARRAYSZ},
        {DT_FINI_ARRAY, DT_FINI_ARRAYSZ},
        {DT_INIT, -1},
        {DT_FINI, -1},
        {S_VERSYM, -1},
        {S_VERDEF, -1},
        {S_VERNEED, -1},
};

/* What the entries of a dynamic section say (read_dynamic). */
struct dyn_tags {
	uint64_t val[S_COUNT];
	unsigned char seen[S_COUNT];
	uint64_t max_name; /* the largest string table offset of a library name */
	int has_name;      /* an entry names a library (DT_NEEDED, DT_SONAME, ...) */
};

/* The PT_DYNAMIC header among the `n` program headers `ph`, which must lie
 * in a loaded part of the file.  Returns 0 with *dynp set, or -1 with why
 * set. */
static int find_dynamic(const Phdr *ph, unsigned n, const Phdr **dynp, char *why, size_t whylen)
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
		cm_errf(why, whylen,
		        "damaged ELF file (dynamic section at byte %llu not in a loaded "
		        "part of the file)",
		        (unsigned long long)dyn->p_offset);
		return -1;
	}
	*dynp = dyn;
	return 0;
}

/* Read the entries of the dynamic section `dyn` up to its DT_NULL (at most
 * DYN_MAX) into *t.  Returns 0, or -1 with why set when one cannot be read
 * or there is no DT_NULL after the first entry. */
static int read_dynamic(int fd, const Phdr *dyn, struct dyn_tags *t, char *why, size_t whylen)
{
	memset(t, 0, sizeof(*t));
	int ended = 0;
	uint64_t count = dyn->p_filesz / sizeof(Dyn);
	if (count > DYN_MAX)
		count = DYN_MAX;
	for (uint64_t i = 0; i < count && !ended; i++) {
		Dyn d;
		if (pread(fd, &d, sizeof(d), (off_t)(dyn->p_offset + i * sizeof(d))) !=
		    (ssize_t)sizeof(d)) {
			cm_errf(why, whylen, "cannot read its dynamic section");
			return -1;
		}
		if (d.d_tag == DT_NULL) {
			if (i == 0) {
				cm_errf(why, whylen,
				        "damaged ELF file (empty dynamic section at byte %llu)",
				        (unsigned long long)dyn->p_offset);
				return -1;
			}
			ended = 1;
			continue;
		}
		/* Offsets into the string table. */
		if (d.d_tag == DT_NEEDED || d.d_tag == DT_SONAME || d.d_tag == DT_RPATH ||
		    d.d_tag == DT_RUNPATH) {
			t->has_name = 1;
			if (d.d_un.d_val > t->max_name)
				t->max_name = d.d_un.d_val;
		}
		int slot = dyn_slot(d.d_tag);
		if (slot >= 0) {
			t->val[slot] = d.d_un.d_val;
			t->seen[slot] = 1;
		}
	}
	if (!ended) {
		cm_errf(why, whylen,
		        "damaged ELF file (dynamic section at byte %llu not ended by DT_NULL)",
		        (unsigned long long)dyn->p_offset);
		return -1;
	}
	return 0;
}

/* The tags dlopen needs are there, with the tags they need beside them
 * and the values ld.so assumes.  Returns 0, or -1 with why set. */
static int check_tags(const struct dyn_tags *t, char *why, size_t whylen)
{
	const uint64_t *val = t->val;
	const unsigned char *seen = t->seen;
	static const int required[] = {DT_STRTAB, DT_SYMTAB, DT_STRSZ};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (!seen[required[i]]) {
			cm_errf(why, whylen, "damaged ELF file (no %s in its dynamic section)",
			        dyn_names[required[i]]);
			return -1;
		}
	}
	if (!seen[DT_HASH] && !seen[S_GNU_HASH]) {
		cm_errf(why, whylen,
		        "damaged ELF file (no DT_HASH or DT_GNU_HASH in its dynamic section)");
		return -1;
	}
	for (size_t i = 0; i < sizeof(dyn_pairs) / sizeof(dyn_pairs[0]); i++) {
		if (seen[dyn_pairs[i][0]] && !seen[dyn_pairs[i][1]]) {
			cm_errf(why, whylen,
			        "damaged ELF file (%s without %s in its dynamic section)",
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
		cm_errf(why, whylen, "damaged ELF file (%s %llu in its dynamic section)",
		        dyn_names[bad], (unsigned long long)val[bad]);
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
		cm_errf(why, whylen,
		        "damaged ELF file (constructors but no relocations in its dynamic "
		        "section)");
		return -1;
	}
	return 0;
}

/* Every table the entries point to lies in a loaded part of the file, and
 * the string table ends with a NUL after every library name.  Returns 0,
 * or -1 with why set. */
static int check_tables(int fd, const Phdr *ph, unsigned n, const struct dyn_tags *t, char *why,
                        size_t whylen)
{
	const uint64_t *val = t->val;
	/* Address 0 is the ELF header itself, where no table is. */
	for (size_t i = 0; i < sizeof(dyn_addrs) / sizeof(dyn_addrs[0]); i++) {
		int slot = dyn_addrs[i][0], len_slot = dyn_addrs[i][1];
		uint64_t len = len_slot >= 0 ? val[len_slot] : 1;
		if (t->seen[slot] &&
		    (val[slot] == 0 || len == 0 || file_offset(ph, n, val[slot], len) < 0)) {
			cm_errf(why, whylen,
			        "damaged ELF file (%s at 0x%llx, %llu bytes, not in a loaded part "
			        "of the file)",
			        dyn_names[slot], (unsigned long long)val[slot],
			        (unsigned long long)len);
			return -1;
		}
	}
	if (file_offset(ph, n, val[DT_SYMTAB], sizeof(Sym)) < 0) {
		cm_errf(why, whylen,
		        "damaged ELF file (symbol table at 0x%llx not in a loaded part of "
		        "the file)",
		        (unsigned long long)val[DT_SYMTAB]);
		return -1;
	}

	/* The strings (library names) are read up to their NUL. */
	uint64_t strsz = val[DT_STRSZ];
	int64_t at = file_offset(ph, n, val[DT_STRTAB], strsz);
	unsigned char last = 1;
	if (pread(fd, &last, 1, (off_t)(at + (int64_t)strsz - 1)) != 1 || last != '\0' ||
	    (t->has_name && t->max_name >= strsz)) {
		cm_errf(why, whylen,
		        "damaged ELF file (string table at 0x%llx not ended by a NUL, or a "
		        "library name past its end)",
		        (unsigned long long)val[DT_STRTAB]);
		return -1;
	}
	return 0;
}

/* dlsym() divides by the bucket count: 0 is SIGFPE.  DT_HASH starts with
 * nbucket, nchain; DT_GNU_HASH with nbuckets, symoffset, bloom_size,
 * bloom_shift (a Bloom filter of 0 words is read out of bounds).  The
 * whole table must lie in a loaded part of the file.  Returns 0, or -1
 * with why set. */
static int check_hash(int fd, const Phdr *ph, unsigned n, const struct dyn_tags *t, char *why,
                      size_t whylen)
{
	int gnu = t->seen[S_GNU_HASH];
	const char *hash_name = dyn_names[gnu ? S_GNU_HASH : DT_HASH];
	uint64_t hash = t->val[gnu ? S_GNU_HASH : DT_HASH];
	uint32_t head[4] = {0};
	size_t head_len = (gnu ? 4 : 2) * sizeof(uint32_t);
	int64_t at = file_offset(ph, n, hash, head_len);
	if (at < 0 || pread(fd, head, head_len, (off_t)at) != (ssize_t)head_len) {
		cm_errf(why, whylen,
		        "damaged ELF file (%s table at 0x%llx not in a loaded part of the "
		        "file)",
		        hash_name, (unsigned long long)hash);
		return -1;
	}
	if (head[0] == 0 || (gnu && head[2] == 0)) {
		cm_errf(why, whylen, "damaged ELF file (%s table at 0x%llx has no %s)", hash_name,
		        (unsigned long long)hash, head[0] == 0 ? "buckets" : "Bloom filter");
		return -1;
	}
	uint64_t hash_len = gnu ? head_len + (uint64_t)head[2] * sizeof(Addr) +
	                                    (uint64_t)head[0] * 4
	                        : head_len + ((uint64_t)head[0] + head[1]) * 4;
	if (file_offset(ph, n, hash, hash_len) < 0) {
		cm_errf(why, whylen,
		        "damaged ELF file (%s table at 0x%llx, %llu bytes, not in a loaded "
		        "part of the file)",
		        hash_name, (unsigned long long)hash, (unsigned long long)hash_len);
		return -1;
	}
	return 0;
}

/* Whether the dynamic section can be followed by dlopen(): it reads the
 * entries up to DT_NULL, then the tables they point to, trusting every
 * address and size, so a file whose size is right but whose contents are
 * not (zeros from a crash or a full disk after the size was set) kills the
 * process there with SIGSEGV or SIGFPE.  Section headers are not used: a
 * stripped plugin may have none.  Returns 0, or -1 with a short reason in
 * why ("damaged ELF file (...)"). */
static int check_dynamic(int fd, const Phdr *ph, unsigned n, char *why, size_t whylen)
{
	const Phdr *dyn;
	struct dyn_tags t;
	if (find_dynamic(ph, n, &dyn, why, whylen) != 0 ||
	    read_dynamic(fd, dyn, &t, why, whylen) != 0 || check_tags(&t, why, whylen) != 0 ||
	    check_tables(fd, ph, n, &t, why, whylen) != 0 ||
	    check_hash(fd, ph, n, &t, why, whylen) != 0)
		return -1;
	return 0;
}

/* Read the ELF header of `fd` (`size` bytes) into *eh: an ELF shared object
 * for this machine whose program and section headers lie inside the file.
 * Returns 0, or -1 with why set. */
static int read_header(int fd, off_t size, Ehdr *eh, char *why, size_t whylen)
{
	if (size < (off_t)sizeof(*eh) || pread(fd, eh, sizeof(*eh), 0) != (ssize_t)sizeof(*eh) ||
	    memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) {
		cm_errf(why, whylen, "not an ELF file");
		return -1;
	}
	unsigned one = 1;
	int little = *(unsigned char *)&one == 1;
	if (eh->e_ident[EI_CLASS] != OUR_CLASS ||
	    eh->e_ident[EI_DATA] != (little ? ELFDATA2LSB : ELFDATA2MSB) ||
	    (our_machine() != 0 && eh->e_machine != our_machine())) {
		cm_errf(why, whylen, "an ELF file for another kind of machine");
		return -1;
	}
	if (eh->e_type != ET_DYN) {
		cm_errf(why, whylen, "not a shared object (ELF type %u)", (unsigned)eh->e_type);
		return -1;
	}
	uint64_t fsize = (uint64_t)size;
	if (eh->e_phentsize != sizeof(Phdr) || eh->e_phnum == 0 ||
	    (uint64_t)eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Phdr) > fsize ||
	    (eh->e_shnum > 0 &&
	     (uint64_t)eh->e_shoff + (uint64_t)eh->e_shnum * eh->e_shentsize > fsize)) {
		cm_errf(why, whylen,
		        "truncated or damaged ELF file (headers past its end, %llu bytes)",
		        (unsigned long long)fsize);
		return -1;
	}
	return 0;
}

/* Section headers are not needed to load (a plugin may have none), but
 * when there are some they come last in the file, and the last one all
 * zeros (only the first one is) means the end of the file was lost after
 * its size was set.  Returns 0, or -1 with why set. */
static int check_last_section(int fd, const Ehdr *eh, char *why, size_t whylen)
{
	if (eh->e_shnum <= 1)
		return 0;
	Shdr sh, zero;
	memset(&zero, 0, sizeof(zero));
	uint64_t last = (uint64_t)(eh->e_shnum - 1);
	if (eh->e_shentsize != sizeof(sh) ||
	    pread(fd, &sh, sizeof(sh), (off_t)(eh->e_shoff + last * sizeof(sh))) !=
	            (ssize_t)sizeof(sh) ||
	    memcmp(&sh, &zero, sizeof(sh)) == 0) {
		cm_errf(why, whylen,
		        "damaged ELF file (section header %u of %u at byte %llu is %s)",
		        (unsigned)eh->e_shnum - 1, (unsigned)eh->e_shnum,
		        (unsigned long long)(eh->e_shoff + last * eh->e_shentsize),
		        eh->e_shentsize != sizeof(sh) ? "of the wrong size" : "all zeros");
		return -1;
	}
	return 0;
}

/* The loaded and dynamic segments among the `n` program headers `ph` end
 * inside the file of `fsize` bytes.  Returns 0, or -1 with why set. */
static int check_segments(const Phdr *ph, unsigned n, uint64_t fsize, char *why, size_t whylen)
{
	for (unsigned i = 0; i < n; i++) {
		if ((ph[i].p_type == PT_LOAD || ph[i].p_type == PT_DYNAMIC) &&
		    (ph[i].p_filesz > fsize || ph[i].p_offset > fsize - ph[i].p_filesz)) {
			cm_errf(why, whylen,
			        "truncated ELF file: a segment ends at byte %llu, the file "
			        "has %llu",
			        (unsigned long long)((uint64_t)ph[i].p_offset + ph[i].p_filesz),
			        (unsigned long long)fsize);
			return -1;
		}
	}
	return 0;
}

int elfcheck_file(int fd, off_t size, char *why, size_t whylen)
{
	Ehdr eh;
	if (read_header(fd, size, &eh, why, whylen) != 0 ||
	    check_last_section(fd, &eh, why, whylen) != 0)
		return -1;
	unsigned n = eh.e_phnum;
	Phdr *ph = xmalloc(n * sizeof(*ph));
	int rc = -1;
	if (pread(fd, ph, n * sizeof(*ph), (off_t)eh.e_phoff) != (ssize_t)(n * sizeof(*ph))) {
		cm_errf(why, whylen, "cannot read its program headers");
		goto out;
	}
	if (check_segments(ph, n, (uint64_t)size, why, whylen) != 0)
		goto out;
	rc = check_dynamic(fd, ph, n, why, whylen);
out:
	free(ph);
	return rc;
}
