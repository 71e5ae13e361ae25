/* sym.h - symbolization of recorded addresses with elfutils libdw (analyzer/symbolize.c).
 * Single-threaded: one struct sym is used by one thread at a time. Never prints; warnings
 * are collected and handed to the caller (main.c prints them). */
#ifndef INTERCEPT_SYM_H
#define INTERCEPT_SYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One source-level frame. A machine return address can expand to several of these when
 * the call site was inlined: innermost (the inlined callee) first, the function that
 * really owns the code last. Strings belong to the struct sym and live until
 * sym_destroy(). */
struct sym_frame {
	const char *function; /* demangled; NULL when no symbol covers the address */
	const char *file;     /* source file, NULL without DWARF line info */
	uint32_t line;	      /* 0 when unknown */
	bool inlined;	      /* true for every frame but the last of an expansion */
};

struct sym;

/*! sym_create() : @return a new symbolizer, or NULL when out of memory. */
struct sym *sym_create(void);

/*! sym_destroy() : free everything, including all strings ever returned. NULL is fine. */
void sym_destroy(struct sym *s);

/*! sym_add_module() : make a module known under an id chosen by the caller (the trace's
 * module id). path is the file as recorded; bias = runtime address - ELF vaddr; lo/hi is
 * the runtime range; build_id the recorded GNU build-id bytes (may be empty). The file is
 * opened lazily on the first lookup, only if it is a regular file below a sane size (the
 * path comes from an untrusted trace: devices, FIFOs and directories are never opened).
 * When the build-id on disk differs from the recorded one, the module is not used for
 * symbols (frames keep module and address) and one warning is recorded.
 * @return 0, or -ENOMEM / -EINVAL (id 0 or already used). */
int sym_add_module(struct sym *s, uint32_t id, const char *path, uint64_t bias, uint64_t lo,
		   uint64_t hi, const uint8_t *build_id, size_t build_id_len);

/*! sym_lookup() : symbolize the return address ret_addr (a runtime address) that lies in
 * module id. Looks up ret_addr - 1 so that the call instruction, not the next line, is
 * found. Results are cached per (id, address).
 * @return the number of frames (>= 1) stored in *frames (an array owned by s, valid until
 * sym_destroy()); a frame with function == NULL when nothing is known. Never fails for a
 * known id; returns 0 for an unknown id. */
size_t sym_lookup(struct sym *s, uint32_t id, uint64_t ret_addr, const struct sym_frame **frames);

/*! sym_module_elf_addr() : the ELF virtual address (what addr2line -e MODULE takes) of a
 * runtime address in module id: addr - bias. @return 0 for an unknown id. */
uint64_t sym_module_elf_addr(const struct sym *s, uint32_t id, uint64_t addr);

/*! sym_warnings() : the warnings collected so far (one line each, without a prefix or
 * newline, e.g. "/usr/lib/x.so: build-id differs from the trace; not symbolized").
 * @return the count; *out points at an array owned by s. */
size_t sym_warnings(const struct sym *s, const char *const **out);

#endif /* INTERCEPT_SYM_H */
