/* reader.c - owns file access for the analyzer: one trace file, read sequentially through
 * a window that grows to hold one whole frame (bounded by the largest legal frame), and
 * the zstd decompression of each frame. The file is untrusted: every size is checked
 * against the bytes present and the format's bounds before use. Main thread only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "intercept/trace_format.h"
#include "intercept/varint.h"
#include "reader.h"
#include "util.h"

#define ZSTD_FRAME_MAGIC 0xFD2FB528u
#define RD_WINDOW (4u << 20)

static size_t rd_max_frame(void)
{
	return ZSTD_compressBound(ITF_CHUNK_MAX) + 4096;
}

int rd_open(struct rd *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return az_error(AZ_EIO, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st)) {
		int e = errno;
		close(fd);
		return az_error(AZ_EIO, "%s: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return az_error(AZ_ENOTTRACE, "%s: not a regular file", path);
	}
	r->fd = fd;
	r->path = xstrndup(path, strlen(path));
	r->buf = xmalloc(RD_WINDOW);
	r->dctx = ZSTD_createDCtx();
	if (!r->path || !r->buf || !r->dctx) {
		rd_close(r);
		return az_error(AZ_ENOMEM, "out of memory");
	}
	r->cap = RD_WINDOW;
	/* The header frame: skippable magic, size 24, struct itf_file_hdr. */
	uint8_t h[8 + sizeof(struct itf_file_hdr)];
	ssize_t n = pread(fd, h, sizeof(h), 0);
	if (n < 0) {
		int e = errno;
		rd_close(r);
		return az_error(AZ_EIO, "%s: %s", path, strerror(e));
	}
	if (n < (ssize_t)sizeof(h) || itf_ld32(h) != ITF_SKIP_MAGIC ||
	    itf_ld32(h + 4) != sizeof(struct itf_file_hdr) || memcmp(h + 8, ITF_FILE_MAGIC, 8)) {
		rd_close(r);
		if (n == 0)
			return az_error(AZ_ENOTTRACE, "%s: empty file, not an intercept trace",
					path);
		return az_error(AZ_ENOTTRACE, "%s: not an intercept trace (bad magic)", path);
	}
	r->version = itf_ld32(h + 16);
	if (r->version != ITF_VERSION) {
		uint32_t v = r->version;
		rd_close(r);
		return az_error(AZ_EVERSION,
				"%s: trace format version %u, this analyzer reads version %u", path,
				v, ITF_VERSION);
	}
	r->file_off = sizeof(h);
	return 0;
}

/* fill() : read more bytes into the window after compacting it; grows the window up to
 * need bytes. @return bytes added (0 at EOF) or AZ_EIO / AZ_ENOMEM. */
static int fill(struct rd *r, size_t need)
{
	if (r->off) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->file_off += r->off;
		r->len -= r->off;
		r->off = 0;
	}
	if (need > r->cap) {
		uint8_t *nb = xrealloc(r->buf, need);
		if (!nb)
			return az_error(AZ_ENOMEM, "out of memory reading %s", r->path);
		r->buf = nb;
		r->cap = need;
	}
	if (r->len == r->cap)
		return 0;
	for (;;) {
		ssize_t n = pread(r->fd, r->buf + r->len, r->cap - r->len,
				  (off_t)(r->file_off + r->len));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return az_error(AZ_EIO, "%s: %s", r->path, strerror(errno));
		if (n == 0)
			r->eof = true;
		r->len += (size_t)n;
		return (int)(n > 0);
	}
}

int rd_next(struct rd *r, const uint8_t **chunk, size_t *len)
{
	for (;;) {
		size_t avail = r->len - r->off;
		if (avail < 8) {
			int rc = fill(r, r->cap);
			if (rc < 0)
				return rc;
			if (r->len - r->off == 0)
				return 0;
			if (rc == 0) {
				r->truncated = r->len - r->off > 0;
				return 0;
			}
			continue;
		}
		const uint8_t *p = r->buf + r->off;
		uint32_t magic = itf_ld32(p);
		if ((magic & 0xFFFFFFF0u) == 0x184D2A50u) {
			/* a skippable frame: future metadata; skip it */
			uint64_t size = 8 + (uint64_t)itf_ld32(p + 4);
			if (size > rd_max_frame())
				return az_error(AZ_ECORRUPT, "%s: skippable frame of %llu bytes at offset %llu",
						r->path, (unsigned long long)size,
						(unsigned long long)(r->file_off + r->off));
			if (size > avail) {
				int rc = fill(r, size > r->cap ? size : r->cap);
				if (rc < 0)
					return rc;
				if (rc == 0 && r->len - r->off < size) {
					r->truncated = true;
					return 0;
				}
				continue;
			}
			r->off += size;
			continue;
		}
		if (magic != ZSTD_FRAME_MAGIC)
			return az_error(AZ_ECORRUPT, "%s: no zstd frame at offset %llu (bad magic)",
					r->path, (unsigned long long)(r->file_off + r->off));
		size_t fsize = ZSTD_findFrameCompressedSize(p, avail);
		if (ZSTD_isError(fsize)) {
			/* incomplete, or corrupt: more data decides */
			if (avail >= rd_max_frame())
				return az_error(AZ_ECORRUPT, "%s: frame at offset %llu: %s", r->path,
						(unsigned long long)(r->file_off + r->off),
						ZSTD_getErrorName(fsize));
			size_t want = r->cap;
			if (avail == r->cap)
				want = r->cap * 2 < rd_max_frame() ? r->cap * 2 : rd_max_frame();
			int rc = fill(r, want);
			if (rc < 0)
				return rc;
			if (rc == 0) {
				if (!r->eof) /* window full and still no frame: grow */
					continue;
				r->truncated = true;
				return 0;
			}
			continue;
		}
		unsigned long long csize = ZSTD_getFrameContentSize(p, fsize);
		if (csize == ZSTD_CONTENTSIZE_UNKNOWN || csize == ZSTD_CONTENTSIZE_ERROR ||
		    csize > ITF_CHUNK_MAX || csize < sizeof(struct itf_chunk_hdr))
			return az_error(AZ_ECORRUPT,
					"%s: frame at offset %llu declares a chunk of %llu bytes "
					"(allowed %zu..%u)",
					r->path, (unsigned long long)(r->file_off + r->off), csize,
					sizeof(struct itf_chunk_hdr), ITF_CHUNK_MAX);
		if (csize > r->chunk_cap) {
			uint8_t *nc = xrealloc(r->chunk, csize);
			if (!nc)
				return az_error(AZ_ENOMEM, "out of memory");
			r->chunk = nc;
			r->chunk_cap = csize;
		}
		size_t got = ZSTD_decompressDCtx(r->dctx, r->chunk, csize, p, fsize);
		if (ZSTD_isError(got) || got != csize) {
			/* A damaged last frame of a file that was being written is truncation. */
			if (r->off + fsize == r->len && r->eof) {
				r->truncated = true;
				return 0;
			}
			return az_error(AZ_ECORRUPT, "%s: frame at offset %llu: %s", r->path,
					(unsigned long long)(r->file_off + r->off),
					ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short chunk");
		}
		r->off += fsize;
		r->chunks++;
		*chunk = r->chunk;
		*len = csize;
		return 1;
	}
}

void rd_refresh(struct rd *r)
{
	r->eof = false;
	r->truncated = false;
}

void rd_close(struct rd *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	free(r->chunk);
	free(r->path);
	if (r->dctx)
		ZSTD_freeDCtx(r->dctx);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}
