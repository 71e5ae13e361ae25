/* reader.h - reading a trace file frame by frame (reader.c): checks the file header frame,
 * finds each zstd frame's end, decompresses it into one chunk. Knows nothing of records. */
#ifndef INTERCEPT_READER_H
#define INTERCEPT_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rd {
	int fd;
	char *path;
	uint8_t *buf;	    /* compressed bytes [0, len) of the window; consumed up to off */
	size_t cap, len, off;
	uint64_t file_off;  /* file offset of buf[0] */
	void *dctx;	    /* ZSTD_DCtx */
	uint8_t *chunk;	    /* last decompressed chunk */
	size_t chunk_cap;
	bool eof;	    /* read() returned 0 */
	bool truncated;	    /* the file ends inside a frame (killed or still being written) */
	uint32_t version;   /* from the file header */
	uint64_t chunks;    /* chunks returned so far */
};

/*! rd_open() : open path (regular files only: FIFOs, devices and directories are refused
 * without blocking) and check its header frame.
 * @return 0, or AZ_EIO / AZ_ENOTTRACE / AZ_EVERSION / AZ_ENOMEM with the message set. */
int rd_open(struct rd *r, const char *path);

/*! rd_next() : decompress the next chunk. On 1, chunk and len hold it until the next call.
 * @return 1, 0 at the end (r->truncated says whether the file ended mid-frame), or
 * AZ_ECORRUPT / AZ_EIO / AZ_ENOMEM with the message set. */
int rd_next(struct rd *r, const uint8_t **chunk, size_t *len);

/*! rd_refresh() : forget a previous end of file, to read what a running process appended
 * since (analyze --follow). */
void rd_refresh(struct rd *r);

void rd_close(struct rd *r);

#endif /* INTERCEPT_READER_H */
