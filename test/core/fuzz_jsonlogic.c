/*-------------------------------------------------------------------------
 *
 * fuzz_jsonlogic.c
 *	  libFuzzer entry point for the evaluator core (make core-fuzz).
 *
 * Input: JSON text.  A 2-element array is taken as [rule, data]; anything
 * else is a rule evaluated against null data.  The rule is parsed,
 * compiled (segments allowed; "?:" allowed when the input's length is
 * odd, to cover both modes), listed through JLRuleLiteralResults and
 * evaluated with $flagd injection and a fake segment callback whose
 * segment "self" uses the fuzzed rule itself (cycle detection).  The
 * result is serialised, re-parsed and compared with the original, and
 * FFResolve runs on a flag built around the rule.  The arena allocator
 * fails beyond 64 MB so out-of-memory paths are exercised too, and the
 * interrupt callback aborts runaway evaluations.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * test/core/fuzz_jsonlogic.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonlogic.h"
#include "jl_internal.h"

#define FUZZ_MEMORY_LIMIT (64 * 1024 * 1024)

typedef struct FuzzState
{
	size_t		allocated;
	int			interrupts;
	const JLRule *rule;
	const JLValue *data;
} FuzzState;

/*
 * FuzzLookup looks a path up in the fuzzed data.
 */
static const JLValue *
FuzzLookup(void *opaque, const JLPathSegment *segments, size_t nsegments,
		   JLArena *scratch)
{
	FuzzState  *st = opaque;

	return JLLookupValue(st->data, segments, nsegments);
}

/*
 * FuzzAlloc allocates with a global budget.
 */
static void *
FuzzAlloc(void *ctx, size_t size)
{
	FuzzState  *st = ctx;
	size_t	   *p;

	if (size > FUZZ_MEMORY_LIMIT || st->allocated + size > FUZZ_MEMORY_LIMIT)
		return NULL;
	p = malloc(size + sizeof(size_t));
	if (p == NULL)
		return NULL;
	*p = size;
	st->allocated += size;
	return p + 1;
}

/*
 * FuzzRelease frees and returns the budget.
 */
static void
FuzzRelease(void *ctx, void *ptr)
{
	FuzzState  *st = ctx;
	size_t	   *p = (size_t *) ptr - 1;

	st->allocated -= *p;
	free(p);
}

/*
 * FuzzInterrupt aborts after ~2 million evaluation steps.
 */
static bool
FuzzInterrupt(void *opaque)
{
	FuzzState  *st = opaque;

	return ++st->interrupts > 2000;
}

/*
 * FuzzSegment serves segments "in" (+1), "out" (-1), "self" (the fuzzed
 * rule) and "none" (no rule), and any name starting with "b" as one that
 * cannot be evaluated (its name goes into the error message); others are
 * unknown.
 */
static bool
FuzzSegment(void *opaque, const char *name, size_t namelen, const char *key,
			size_t keylen, JLSegmentInfo *info)
{
	FuzzState  *st = opaque;

	info->membership = 0;
	info->rule = NULL;
	if (namelen == 2 && memcmp(name, "in", 2) == 0)
		info->membership = 1;
	else if (namelen == 3 && memcmp(name, "out", 3) == 0)
		info->membership = -1;
	else if (namelen == 4 && memcmp(name, "self", 4) == 0)
		info->rule = st->rule;
	else if (namelen > 0 && name[0] == 'b')
		info->broken = "broken for the fuzzer";
	else if (!(namelen == 4 && memcmp(name, "none", 4) == 0))
		return false;
	return true;
}

/*
 * FuzzValidUtf8 reports whether s is valid UTF-8, as the parser checks it
 * (JLUtf8Length).  JLParse refuses input that is not, so a message that is
 * not was cut inside a character.
 */
static bool
FuzzValidUtf8(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		len = strlen(s);

	while (len > 0)
	{
		size_t		n = JLUtf8Length(p, len);

		if (n == 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/*
 * FuzzCollect is a JLRuleLiteralResults callback that touches its input.
 */
static void
FuzzCollect(void *arg, const JLValue *literal, const char *path)
{
	size_t	   *n = arg;

	*n += strlen(path) + (size_t) literal->type;
}

/*
 * LLVMFuzzerTestOneInput runs one input through the whole pipeline.
 */
int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	FuzzState	st;
	JLAllocator alloc;
	JLArena    *arena;
	JLArena    *scratch;
	JLError		err;
	const JLValue *input;
	const JLValue *rule_json;
	const JLValue *data_json = &JLNullValue;
	JLCompileOptions o;
	JLRule	   *rule;
	JLContext	ctx;
	const JLValue *res;
	size_t		n = 0;

	memset(&st, 0, sizeof(st));
	alloc.alloc = FuzzAlloc;
	alloc.release = FuzzRelease;
	alloc.ctx = &st;
	arena = JLArenaCreate(&alloc);
	scratch = JLArenaCreate(&alloc);
	if (arena == NULL || scratch == NULL)
		abort();

	input = JLParse(arena, (const char *) data, size, 64, &err);
	if (input == NULL)
	{
		if (err.code == JL_OK)
			abort();
		goto done;
	}
	/* serialise / re-parse round trip of any parsed JSON */
	{
		size_t		len;
		char	   *text = JLSerialize(scratch, input, &len);

		if (text != NULL)
		{
			const JLValue *again = JLParse(scratch, text, len, 64, &err);

			if (again == NULL || !JLEqual(again, input))
				abort();
		}
	}
	rule_json = input;
	if (input->type == JL_ARRAY && input->u.array.count == 2)
	{
		rule_json = input->u.array.items[0];
		data_json = input->u.array.items[1];
	}
	memset(&o, 0, sizeof(o));
	o.allow_segments = true;
	o.allow_ternary = (size & 1) != 0;
	o.flagd_lenient = (size & 2) != 0;
	o.max_depth = 64;
	rule = JLCompile(arena, rule_json, &o, &err);
	if (rule == NULL)
	{
		if (err.code == JL_OK || err.path[0] != '$' ||
			!FuzzValidUtf8(err.message) || !FuzzValidUtf8(err.path))
			abort();
		goto done;
	}
	st.rule = rule;
	(void) JLRuleLiteralResults(rule, FuzzCollect, &n);
	for (size_t i = 0; i < JLRuleSegmentCount(rule); i++)
	{
		size_t		len;

		if (JLRuleSegmentName(rule, i, &len) == NULL)
			abort();
	}

	st.data = data_json;
	memset(&ctx, 0, sizeof(ctx));
	ctx.lookup = FuzzLookup;
	ctx.segment = FuzzSegment;
	ctx.interrupt = FuzzInterrupt;
	ctx.opaque = &st;
	res = JLEvaluate(rule, &ctx, scratch, &err);
	if (res == NULL && (err.code == JL_OK || !FuzzValidUtf8(err.message)))
		abort();
	if (res != NULL)
	{
		size_t		len;
		char	   *text = JLSerialize(scratch, res, &len);

		if (text != NULL)
		{
			const JLValue *again = JLParse(scratch, text, len, 10000, &err);

			if (again == NULL && err.code == JL_ERR_SYNTAX)
				abort();
		}
	}
	JLArenaReset(scratch);

	/* resolution with $flagd injection */
	{
		JLContext	c2 = ctx;
		FFFlag		flag;
		FFVariant	vars[2];
		FFResolution out;

		st.interrupts = 0;
		c2.inject_flagd = true;
		c2.flag_key = "fuzz-flag";
		c2.flag_key_len = 9;
		c2.timestamp = 1700000000;
		vars[0].name = "off";
		vars[0].namelen = 3;
		vars[0].value = &JLFalseValue;
		vars[1].name = "on";
		vars[1].namelen = 2;
		vars[1].value = &JLTrueValue;
		memset(&flag, 0, sizeof(flag));
		flag.key = "fuzz-flag";
		flag.keylen = 9;
		flag.enabled = true;
		flag.variants = vars;
		flag.nvariants = 2;
		flag.default_variant = 0;
		flag.targeting = rule;
		FFResolve(&flag, &c2, scratch, &out);
		if (out.reason == FF_REASON_ERROR &&
			(out.error_code == FF_ERROR_NONE || !FuzzValidUtf8(out.error_message)))
			abort();
	}
done:
	JLArenaDestroy(scratch);
	JLArenaDestroy(arena);
	if (st.allocated != 0)
		abort();				/* every chunk returned */
	return 0;
}
