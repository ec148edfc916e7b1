/*-------------------------------------------------------------------------
 *
 * jl_arena.c
 *	  Bump allocator used for every allocation of the evaluator core.
 *
 * An arena is a list of chunks taken from a caller-supplied allocator.
 * Allocation is a pointer bump; nothing is freed individually.  Reset
 * releases every chunk but the first, which is kept for reuse, so that an
 * evaluation loop that resets its scratch arena after each call does not
 * touch the allocator at all in the steady state.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/core/jl_arena.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jl_internal.h"

#define JL_CHUNK_SIZE 8192
#define JL_ALIGN(n) (((n) + 7) & ~((size_t) 7))

typedef struct JLChunk
{
	struct JLChunk *next;
	size_t		size;			/* usable bytes after the header */
	size_t		used;
	/* data follows, 8-byte aligned */
} JLChunk;

#define JL_CHUNK_HDR JL_ALIGN(sizeof(JLChunk))

struct JLArena
{
	JLAllocator allocator;
	JLChunk    *head;			/* current chunk, newest first */
	size_t		held;			/* bytes held from the allocator */
};

/*
 * JLDefaultAlloc allocates with malloc (the default allocator).
 */
static void *
JLDefaultAlloc(void *ctx, size_t size)
{
	return malloc(size);
}

/*
 * JLDefaultRelease frees with free (the default allocator).
 */
static void
JLDefaultRelease(void *ctx, void *ptr)
{
	free(ptr);
}

/*
 * JLArenaCreate creates an empty arena over the given allocator (malloc
 * when NULL).  Returns NULL when the allocator fails.
 */
JLArena *
JLArenaCreate(const JLAllocator *allocator)
{
	JLAllocator a;
	JLArena    *arena;

	if (allocator != NULL)
		a = *allocator;
	else
	{
		a.alloc = JLDefaultAlloc;
		a.release = JLDefaultRelease;
		a.ctx = NULL;
	}
	arena = a.alloc(a.ctx, sizeof(JLArena));
	if (arena == NULL)
		return NULL;
	arena->allocator = a;
	arena->head = NULL;
	arena->held = sizeof(JLArena);
	return arena;
}

/*
 * JLArenaReset frees everything allocated since creation but keeps one
 * standard-sized chunk for reuse.
 */
void
JLArenaReset(JLArena *arena)
{
	JLChunk    *c = arena->head;
	JLChunk    *keep = NULL;

	while (c != NULL)
	{
		JLChunk    *next = c->next;

		if (keep == NULL && c->size == JL_CHUNK_SIZE)
			keep = c;
		else
		{
			arena->held -= JL_CHUNK_HDR + c->size;
			arena->allocator.release(arena->allocator.ctx, c);
		}
		c = next;
	}
	if (keep != NULL)
	{
		keep->used = 0;
		keep->next = NULL;
	}
	arena->head = keep;
}

/*
 * JLArenaDestroy returns every chunk and the arena itself to the allocator.
 */
void
JLArenaDestroy(JLArena *arena)
{
	JLChunk    *c;
	JLAllocator a;

	if (arena == NULL)
		return;
	c = arena->head;
	while (c != NULL)
	{
		JLChunk    *next = c->next;

		arena->allocator.release(arena->allocator.ctx, c);
		c = next;
	}
	a = arena->allocator;
	a.release(a.ctx, arena);
}

/*
 * JLArenaAlloc returns size bytes, 8-byte aligned, or NULL when the
 * allocator fails.  Requests larger than a quarter chunk get a chunk of
 * their own, inserted behind the current one so it keeps being filled.
 */
void *
JLArenaAlloc(JLArena *arena, size_t size)
{
	JLChunk    *c = arena->head;
	size_t		need = JL_ALIGN(size == 0 ? 1 : size);

	if (need < size)
		return NULL;			/* overflow */
	if (c != NULL && c->size - c->used >= need)
	{
		void	   *p = (char *) c + JL_CHUNK_HDR + c->used;

		c->used += need;
		return p;
	}
	if (need > JL_CHUNK_SIZE / 4)
	{
		JLChunk    *big;

		if (need > SIZE_MAX - JL_CHUNK_HDR)
			return NULL;
		big = arena->allocator.alloc(arena->allocator.ctx, JL_CHUNK_HDR + need);
		if (big == NULL)
			return NULL;
		big->size = need;
		big->used = need;
		arena->held += JL_CHUNK_HDR + need;
		if (c != NULL)
		{
			big->next = c->next;
			c->next = big;
		}
		else
		{
			big->next = NULL;
			arena->head = big;
		}
		return (char *) big + JL_CHUNK_HDR;
	}
	c = arena->allocator.alloc(arena->allocator.ctx, JL_CHUNK_HDR + JL_CHUNK_SIZE);
	if (c == NULL)
		return NULL;
	c->size = JL_CHUNK_SIZE;
	c->used = need;
	c->next = arena->head;
	arena->head = c;
	arena->held += JL_CHUNK_HDR + JL_CHUNK_SIZE;
	return (char *) c + JL_CHUNK_HDR;
}

/*
 * JLArenaBytes reports the bytes currently held from the allocator.
 */
size_t
JLArenaBytes(const JLArena *arena)
{
	return arena->held;
}

/*
 * JLBufInit starts an empty growable buffer in the arena.
 */
void
JLBufInit(JLBuf *buf, JLArena *arena, size_t initial)
{
	buf->arena = arena;
	buf->len = 0;
	buf->cap = initial < 16 ? 16 : initial;
	buf->failed = false;
	buf->data = JLArenaAlloc(arena, buf->cap);
	if (buf->data == NULL)
	{
		buf->failed = true;
		buf->cap = 0;
	}
}

/*
 * JLBufReserve makes room for extra more bytes (plus a terminating NUL).
 */
static bool
JLBufReserve(JLBuf *buf, size_t extra)
{
	size_t		need;
	size_t		cap;
	char	   *data;

	if (buf->failed)
		return false;
	need = buf->len + extra + 1;
	if (need < buf->len)
	{
		buf->failed = true;
		return false;
	}
	if (need <= buf->cap)
		return true;
	cap = buf->cap * 2;
	if (cap < need)
		cap = need;
	data = JLArenaAlloc(buf->arena, cap);
	if (data == NULL)
	{
		buf->failed = true;
		return false;
	}
	memcpy(data, buf->data, buf->len);
	buf->data = data;
	buf->cap = cap;
	return true;
}

/*
 * JLBufAppend appends len bytes; on allocation failure the buffer is
 * marked failed and further appends are ignored.
 */
void
JLBufAppend(JLBuf *buf, const char *data, size_t len)
{
	if (len == 0 || !JLBufReserve(buf, len))
		return;
	memcpy(buf->data + buf->len, data, len);
	buf->len += len;
}

/*
 * JLBufAppendChar appends one byte.
 */
void
JLBufAppendChar(JLBuf *buf, char c)
{
	if (!JLBufReserve(buf, 1))
		return;
	buf->data[buf->len++] = c;
}

/*
 * JLSetError fills an error report (NULL err is allowed and ignored).
 * Only the first error of an operation is kept.
 */
void
JLSetError(JLError *err, JLErrorCode code, const char *path,
		   const char *fmt,...)
{
	va_list		ap;

	if (err == NULL || err->code != JL_OK)
		return;
	err->code = code;
	err->hint = NULL;
	snprintf(err->path, sizeof(err->path), "%s", path ? path : "$");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}
