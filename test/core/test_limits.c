/*-------------------------------------------------------------------------
 *
 * test_limits.c
 *	  Arena behaviour, the interrupt callback and out-of-memory handling.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * test/core/test_limits.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>

#include "jl_internal.h"
#include "test_util.h"

/* an allocator that fails after a budget of successful calls */
typedef struct TBudget
{
	int			left;
	int			live;
} TBudget;

/*
 * t_budget_alloc allocates while the budget lasts.
 */
static void *
t_budget_alloc(void *ctx, size_t size)
{
	TBudget    *b = ctx;

	if (b->left <= 0)
		return NULL;
	b->left--;
	b->live++;
	return malloc(size);
}

/*
 * t_budget_release frees.
 */
static void
t_budget_release(void *ctx, void *ptr)
{
	TBudget    *b = ctx;

	b->live--;
	free(ptr);
}

/*
 * t_interrupt aborts on its first call and counts calls.
 */
static bool
t_interrupt(void *opaque)
{
	int		   *calls = opaque;

	(*calls)++;
	return true;
}

/*
 * t_interrupt_lookup serves the data for the interrupt test.
 */
static const JLValue *t_interrupt_data;

static const JLValue *
t_interrupt_lookup(void *opaque, const JLPathSegment *s, size_t n, JLArena *scratch)
{
	return JLLookupValue(t_interrupt_data, s, n);
}

/*
 * test_limits runs the arena, interrupt and OOM checks.
 */
/*
 * test_long_substring checks "in" on string haystacks with needles longer
 * than 64 bytes (the Knuth-Morris-Pratt path): partial matches that fall
 * back, a match at the very end, none, and agreement with strstr on
 * pseudo-random strings over a two-letter alphabet.
 */
static void
test_long_substring(void)
{
	static char rule[8192];
	static char data[65536];
	static char hay[60000];
	static char needle[200];
	unsigned	seed = 12345;
	int			round;
	int			i;

	/* "ab" x 40 + "c" inside "ab" x 200 + "c": found only at the end */
	strcpy(needle, "");
	for (i = 0; i < 40; i++)
		strcat(needle, "ab");
	strcat(needle, "c");
	strcpy(hay, "");
	for (i = 0; i < 200; i++)
		strcat(hay, "ab");
	snprintf(rule, sizeof(rule), "{\"in\": [\"%s\", {\"var\": \"h\"}]}", needle);
	snprintf(data, sizeof(data), "{\"h\": \"%sc\"}", hay);
	T_EVAL(rule, data, "true");
	snprintf(data, sizeof(data), "{\"h\": \"%s\"}", hay);
	T_EVAL(rule, data, "false");
	snprintf(data, sizeof(data), "{\"h\": \"%sa\"}", hay);
	T_EVAL(rule, data, "false");

	for (round = 0; round < 300; round++)
	{
		size_t		hlen = 2000 + round;
		size_t		nlen = 65 + round % 40;
		size_t		start;
		bool		expect;

		for (i = 0; i < (int) hlen; i++)
		{
			seed = seed * 1103515245u + 12345u;
			hay[i] = (seed >> 16) & 1 ? 'a' : 'b';
		}
		hay[hlen] = '\0';
		seed = seed * 1103515245u + 12345u;
		start = (seed >> 16) % (hlen - nlen);
		memcpy(needle, hay + start, nlen);
		needle[nlen] = '\0';
		if (round % 2)
			needle[nlen - 1] = needle[nlen - 1] == 'a' ? 'b' : 'a';
		expect = strstr(hay, needle) != NULL;
		snprintf(rule, sizeof(rule), "{\"in\": [\"%s\", {\"var\": \"h\"}]}", needle);
		snprintf(data, sizeof(data), "{\"h\": \"%s\"}", hay);
		T_EVAL(rule, data, expect ? "true" : "false");
	}
}

void
test_limits(void)
{
	JLArena    *a = JLArenaCreate(NULL);
	size_t		base;
	void	   *p;
	int			i;
	JLError		err;

	test_long_substring();

	/* arena */
	base = JLArenaBytes(a);
	p = JLArenaAlloc(a, 10);
	T_CHECK(p != NULL && ((uintptr_t) p & 7) == 0, "8-byte aligned allocation");
	T_CHECK(JLArenaBytes(a) > base, "arena holds a chunk");
	p = JLArenaAlloc(a, 1 << 20);
	T_CHECK(p != NULL && JLArenaBytes(a) > base + (1 << 20), "large allocation gets its own chunk");
	memset(p, 0xAB, 1 << 20);
	for (i = 0; i < 1000; i++)
		T_CHECK(JLArenaAlloc(a, 100) != NULL, "many small allocations");
	JLArenaReset(a);
	T_CHECK(JLArenaBytes(a) < base + 9000, "reset keeps at most one standard chunk: %zu", JLArenaBytes(a));
	T_CHECK(JLArenaAlloc(a, (size_t) -1) == NULL, "absurd size fails cleanly");
	JLArenaDestroy(a);

	/* interrupt: a loop over 5000 elements polls the callback */
	{
		JLArena    *arena = JLArenaCreate(NULL);
		const char *r = "{\"map\":[{\"var\":\"xs\"},{\"+\":[{\"var\":\"\"},1]}]}";
		JLCompileOptions o = {0};
		JLRule	   *rule;
		JLContext	ctx;
		const JLValue **items = JLArenaAlloc(arena, 5000 * sizeof(JLValue *));
		JLMember	m;
		int			calls = 0;
		const JLValue *res;

		for (i = 0; i < 5000; i++)
			items[i] = JLMakeNumber(arena, i);
		m.key = "xs";
		m.keylen = 2;
		m.value = JLMakeArray(arena, items, 5000);
		t_interrupt_data = JLMakeObject(arena, &m, 1);
		rule = JLCompile(arena, JLParse(arena, r, strlen(r), 0, &err), &o, &err);
		memset(&ctx, 0, sizeof(ctx));
		ctx.lookup = t_interrupt_lookup;
		ctx.interrupt = t_interrupt;
		ctx.opaque = &calls;
		res = JLEvaluate(rule, &ctx, arena, &err);
		T_CHECK(res == NULL && err.code == JL_ERR_RUNTIME && calls == 1 &&
				strcmp(err.message, "evaluation interrupted") == 0,
				"interrupt aborts the evaluation (calls %d, %s)", calls, err.message);
		ctx.interrupt = NULL;
		res = JLEvaluate(rule, &ctx, arena, &err);
		T_CHECK(res != NULL && res->type == JL_ARRAY && res->u.array.count == 5000 &&
				res->u.array.items[4999]->u.number == 5000, "same rule without interrupt");
		JLArenaDestroy(arena);
	}

	/* out of memory at every possible allocation: clean errors, no leaks */
	{
		const char *r = "{\"if\":[{\"in\":[{\"var\":\"c\"},[\"US\",\"CA\",\"DE\",\"FR\"]]},"
		"{\"cat\":[\"x\",{\"var\":\"c\"},{\"map\":[[1,2],{\"*\":[{\"var\":\"\"},2]}]}]},"
		"{\"fractional\":[{\"var\":\"k\"},[\"a\",1],[\"b\",1]]}]}";
		const char *d = "{\"c\":\"FR\",\"k\":\"key\"}";
		int			budget;
		int			successes = 0;
		int			ooms = 0;

		for (budget = 0; budget < 200; budget++)
		{
			TBudget		b = {budget, 0};
			JLAllocator al = {t_budget_alloc, t_budget_release, &b};
			JLArena    *arena = JLArenaCreate(&al);
			const JLValue *rv;
			const JLValue *dv;
			JLRule	   *rule;
			JLContext	ctx;
			JLCompileOptions o = {0};
			const JLValue *res;

			if (arena == NULL)
			{
				ooms++;
				continue;
			}
			rv = JLParse(arena, r, strlen(r), 0, &err);
			if (rv == NULL)
			{
				T_CHECK(err.code == JL_ERR_OUT_OF_MEMORY, "parse fails only for OOM: %s", err.message);
				ooms++;
				goto next;
			}
			dv = JLParse(arena, d, strlen(d), 0, &err);
			if (dv == NULL)
			{
				T_CHECK(err.code == JL_ERR_OUT_OF_MEMORY, "parse fails only for OOM: %s", err.message);
				ooms++;
				goto next;
			}
			rule = JLCompile(arena, rv, &o, &err);
			if (rule == NULL)
			{
				T_CHECK(err.code == JL_ERR_OUT_OF_MEMORY, "compile fails only for OOM: %s", err.message);
				ooms++;
				goto next;
			}
			JLContextInitValue(&ctx, dv);
			res = JLEvaluate(rule, &ctx, arena, &err);
			if (res == NULL)
			{
				T_CHECK(err.code == JL_ERR_OUT_OF_MEMORY, "evaluate fails only for OOM: %s", err.message);
				ooms++;
				goto next;
			}
			T_CHECK(res->type == JL_STRING && res->u.string.len == 6 &&
					memcmp(res->u.string.ptr, "xFR2,4", 6) == 0, "result under a budget");
			successes++;
	next:
			JLArenaDestroy(arena);
			T_CHECK(b.live == 0, "every chunk returned to the allocator");
		}
		T_CHECK(successes > 0 && ooms > 0, "OOM sweep covered failures (%d) and successes (%d)", ooms, successes);
	}

	/* a message cut by its buffer drops a partial UTF-8 character at its end */
	{
		const char *e2 = "ab\xc3\xa9";	/* ab + é (2 bytes) */
		const char *e4 = "a\xf0\x9f\x98\x80";	/* a + 😀 (4 bytes) */

		T_CHECK(JLUtf8TrimTail(e2, 4) == 4, "complete 2-byte character kept");
		T_CHECK(JLUtf8TrimTail(e2, 3) == 2, "lead byte of a 2-byte character dropped");
		T_CHECK(JLUtf8TrimTail(e4, 5) == 5, "complete 4-byte character kept");
		T_CHECK(JLUtf8TrimTail(e4, 4) == 1 && JLUtf8TrimTail(e4, 3) == 1 &&
				JLUtf8TrimTail(e4, 2) == 1, "partial 4-byte character dropped");
		T_CHECK(JLUtf8TrimTail("abc", 3) == 3 && JLUtf8TrimTail("", 0) == 0, "ASCII untouched");
		T_CHECK(JLUtf8TrimTail("\x80\x80", 2) == 2, "stray continuation bytes are left alone");
	}
}
