/*-------------------------------------------------------------------------
 *
 * jl_murmur3.c
 *	  MurmurHash3, x86 32-bit variant, as used by flagd's fractional.
 *
 * Written from the published algorithm description (Austin Appleby's
 * public-domain MurmurHash3): 4-byte little-endian blocks mixed with the
 * c1/c2 constants, a tail of up to 3 bytes, then the fmix32 finaliser.
 * Blocks are read byte by byte, so the result does not depend on host
 * endianness or alignment.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/core/jl_murmur3.c
 *
 *-------------------------------------------------------------------------
 */
#include "jl_internal.h"

/*
 * JLRotl32 rotates x left by r bits.
 */
static inline uint32_t
JLRotl32(uint32_t x, int r)
{
	return (x << r) | (x >> (32 - r));
}

/*
 * JLMurmur3_32 hashes len bytes at data with the given seed.
 */
uint32_t
JLMurmur3_32(const void *data, size_t len, uint32_t seed)
{
	const unsigned char *p = (const unsigned char *) data;
	const uint32_t c1 = 0xcc9e2d51;
	const uint32_t c2 = 0x1b873593;
	uint32_t	h = seed;
	uint32_t	k;
	size_t		nblocks = len / 4;
	size_t		i;

	for (i = 0; i < nblocks; i++)
	{
		const unsigned char *b = p + i * 4;

		k = (uint32_t) b[0] | ((uint32_t) b[1] << 8) |
			((uint32_t) b[2] << 16) | ((uint32_t) b[3] << 24);
		k *= c1;
		k = JLRotl32(k, 15);
		k *= c2;
		h ^= k;
		h = JLRotl32(h, 13);
		h = h * 5 + 0xe6546b64;
	}

	k = 0;
	p += nblocks * 4;
	switch (len & 3)
	{
		case 3:
			k ^= (uint32_t) p[2] << 16;
			/* FALLTHROUGH */
		case 2:
			k ^= (uint32_t) p[1] << 8;
			/* FALLTHROUGH */
		case 1:
			k ^= (uint32_t) p[0];
			k *= c1;
			k = JLRotl32(k, 15);
			k *= c2;
			h ^= k;
	}

	h ^= (uint32_t) len;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}
