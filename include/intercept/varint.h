/* varint.h - LEB128 and zigzag coding used inside trace records (trace_format.h).
 * Header-only and allocation-free: the preload's writer encodes with it, the analyzer
 * decodes with it. Decoders take an end pointer and never read past it. */
#ifndef INTERCEPT_VARINT_H
#define INTERCEPT_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define ITF_VARINT_MAX 10 /* bytes a 64-bit varint can take */

/*! itf_put_u() : append v as an unsigned LEB128 varint at p.
 * @return the position after it. The caller guarantees ITF_VARINT_MAX bytes of room. */
static inline uint8_t *itf_put_u(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/*! itf_zigzag() : map a signed delta to an unsigned value, small magnitudes first. */
static inline uint64_t itf_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t itf_unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/*! itf_put_s() : append a zigzag-coded signed varint. Same contract as itf_put_u(). */
static inline uint8_t *itf_put_s(uint8_t *p, int64_t v)
{
	return itf_put_u(p, itf_zigzag(v));
}

/*! itf_get_u() : decode an unsigned varint at *pp, not reading at or past end.
 * @return 0 and advances *pp on success; -1 when the varint runs past end or is longer
 * than 10 bytes / overflows 64 bits (*pp and *out untouched). */
static inline int itf_get_u(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;
	unsigned shift = 0;
	for (;;) {
		if (p >= end)
			return -1;
		uint8_t b = *p++;
		if (shift == 63 && b > 1)
			return -1;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
		shift += 7;
		if (shift > 63)
			return -1;
	}
	*pp = p;
	*out = v;
	return 0;
}

/*! itf_get_s() : decode a zigzag varint. Same contract as itf_get_u(). */
static inline int itf_get_s(const uint8_t **pp, const uint8_t *end, int64_t *out)
{
	uint64_t u;
	if (itf_get_u(pp, end, &u))
		return -1;
	*out = itf_unzigzag(u);
	return 0;
}

/* Little-endian fixed-width stores and loads (the chunk and section headers). */
static inline void itf_st16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void itf_st32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void itf_st64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t itf_ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t itf_ld32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}
static inline uint64_t itf_ld64(const uint8_t *p)
{
	return (uint64_t)itf_ld32(p) | ((uint64_t)itf_ld32(p + 4) << 32);
}

#endif /* INTERCEPT_VARINT_H */
