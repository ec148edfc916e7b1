/*-------------------------------------------------------------------------
 *
 * test_conformance.c
 *	  Run the official jsonlogic.com test list (277 cases) through the core.
 *
 * The file lives in the shared reference data (../shared relative to the
 * repository root) and is never copied into the repository; when it is
 * missing the run fails with a message naming the expected path.  The
 * list exercises "?:", which flagd does not have, so it is compiled with
 * allow_ternary.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * test/core/test_conformance.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>

#include "test_util.h"

#define JL_CONFORMANCE_CASES 277

/*
 * t_read_file reads a whole file into malloc'd memory.
 */
static char *
t_read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf;
	long		n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) n + 1);
	if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n)
	{
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = (size_t) n;
	return buf;
}

/*
 * test_conformance runs every [rule, data, expected] triple of tests.json.
 */
void
test_conformance(const char *path)
{
	size_t		len;
	char	   *text = t_read_file(path, &len);
	JLArena    *arena;
	JLError		err;
	const JLValue *all;
	size_t		i;
	int			cases = 0;
	int			ok = 0;

	if (text == NULL)
	{
		t_fail(__FILE__, __LINE__,
			   "conformance: cannot read %s (the jsonlogic.com test list, expected at ../shared/conformance/jsonlogic/tests.json relative to the repository root); the %d conformance cases were not run",
			   path, JL_CONFORMANCE_CASES);
		return;
	}
	arena = JLArenaCreate(NULL);
	all = JLParse(arena, text, len, 0, &err);
	if (all == NULL || all->type != JL_ARRAY)
	{
		t_fail(__FILE__, __LINE__, "conformance: %s does not parse as a JSON array: %s",
			   path, all ? "not an array" : err.message);
		free(text);
		JLArenaDestroy(arena);
		return;
	}
	for (i = 0; i < all->u.array.count; i++)
	{
		const JLValue *c = all->u.array.items[i];
		JLCompileOptions o = {0};
		JLRule	   *rule;
		JLContext	ctx;
		const JLValue *res;
		char	   *rtext;
		char	   *etext;
		char	   *got;

		if (c->type == JL_STRING)
			continue;			/* section comment */
		cases++;
		rtext = JLSerialize(arena, c->u.array.items[0], NULL);
		etext = JLSerialize(arena, c->u.array.items[2], NULL);
		if (c->type != JL_ARRAY || c->u.array.count != 3)
		{
			t_fail(__FILE__, __LINE__, "conformance case %d is not a [rule, data, expected] triple", cases);
			continue;
		}
		o.allow_ternary = true;
		rule = JLCompile(arena, c->u.array.items[0], &o, &err);
		if (rule == NULL)
		{
			t_fail(__FILE__, __LINE__, "conformance case %d %s: compile error at %s: %s",
				   cases, rtext, err.path, err.message);
			continue;
		}
		JLContextInitValue(&ctx, c->u.array.items[1]);
		res = JLEvaluate(rule, &ctx, arena, &err);
		if (res == NULL)
		{
			t_fail(__FILE__, __LINE__, "conformance case %d %s: evaluation error at %s: %s",
				   cases, rtext, err.path, err.message);
			continue;
		}
		if (!JLEqual(res, c->u.array.items[2]))
		{
			got = JLSerialize(arena, res, NULL);
			t_fail(__FILE__, __LINE__, "conformance case %d %s with data %s: got %s, expected %s",
				   cases, rtext, JLSerialize(arena, c->u.array.items[1], NULL), got, etext);
			continue;
		}
		ok++;
		t_passed++;
	}
	if (cases != JL_CONFORMANCE_CASES)
		t_fail(__FILE__, __LINE__, "conformance: %s has %d cases, expected %d",
			   path, cases, JL_CONFORMANCE_CASES);
	printf("conformance: %d/%d jsonlogic.com cases pass\n", ok, cases);
	free(text);
	JLArenaDestroy(arena);
}
