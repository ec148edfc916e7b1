/*-------------------------------------------------------------------------
 *
 * jl_eval.c
 *	  Evaluate a compiled JSON Logic rule against a context.
 *
 * A tree walk over the compiled nodes.  Results are JLValue pointers:
 * shared constants for booleans and null, pointers into the rule for
 * literals, into the context for var lookups, and scratch-arena values for
 * computed numbers, strings and arrays.  Recursion depth is bounded and
 * the interrupt callback is polled every JL_INTERRUPT_INTERVAL steps and
 * loop iterations.  Numbers may become Infinity or NaN during evaluation
 * (as in JavaScript); the final result maps them to null because JSON
 * cannot represent them.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/core/jl_eval.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jl_internal.h"

#define JL_STACK_ARGS 8

/*
 * JLEvalFail records an evaluation error (first one wins) and returns
 * false, so that callers can write "return JLEvalFail(...) ? x : NULL".
 */
bool
JLEvalFail(JLEvalState *st, JLErrorCode code, const char *path,
		   const char *fmt,...)
{
	va_list		ap;
	char		msg[256];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	JLSetError(st->err, code, path, "%s", msg);
	return false;
}

/*
 * JLEvalOOM records an allocation failure and returns NULL.
 */
static const JLValue *
JLEvalOOM(JLEvalState *st, const JLNode *node)
{
	JLEvalFail(st, JL_ERR_OUT_OF_MEMORY, node->path, "out of memory during evaluation");
	return NULL;
}

/*
 * JLEvalCheckInterrupt calls the interrupt callback; true if the caller
 * asked to abort (the error is then recorded).
 */
bool
JLEvalCheckInterrupt(JLEvalState *st)
{
	if (st->ctx->interrupt != NULL && st->ctx->interrupt(st->ctx->opaque))
	{
		JLEvalFail(st, JL_ERR_RUNTIME, "$", "evaluation interrupted");
		return true;
	}
	return false;
}

/*
 * JLLoopTick is called once per iteration over user data.
 */
static inline bool
JLLoopTick(JLEvalState *st, size_t i)
{
	if ((i & (JL_INTERRUPT_INTERVAL - 1)) == JL_INTERRUPT_INTERVAL - 1)
		return !JLEvalCheckInterrupt(st);
	return true;
}

/*
 * JLParseIndex parses a canonical array index ("0", "17"; not "01", "-1").
 */
static bool
JLParseIndex(const char *s, size_t len, size_t *out)
{
	size_t		v = 0;
	size_t		i;

	if (len == 0 || len > 15 || (len > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (size_t) (s[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * JLLookupValue descends into v along the path (objects by key, arrays by
 * index); NULL when missing.
 */
const JLValue *
JLLookupValue(const JLValue *v, const JLPathSegment *segs, size_t nsegs)
{
	size_t		i;

	for (i = 0; i < nsegs && v != NULL; i++)
	{
		if (v->type == JL_OBJECT)
			v = JLObjectGet(v, segs[i].ptr, segs[i].len);
		else if (v->type == JL_ARRAY)
		{
			size_t		idx;

			if (!JLParseIndex(segs[i].ptr, segs[i].len, &idx) ||
				idx >= v->u.array.count)
				return NULL;
			v = v->u.array.items[idx];
		}
		else
			return NULL;
	}
	return v;
}

/*
 * JLValueLookup is the lookup callback of JLContextInitValue.
 */
static const JLValue *
JLValueLookup(void *opaque, const JLPathSegment *segments, size_t nsegments,
			  JLArena *scratch)
{
	return JLLookupValue((const JLValue *) opaque, segments, nsegments);
}

/*
 * JLContextInitValue prepares a context over an in-memory value.
 */
void
JLContextInitValue(JLContext *ctx, const JLValue *data)
{
	memset(ctx, 0, sizeof(JLContext));
	ctx->lookup = JLValueLookup;
	ctx->opaque = (void *) data;
}

/*
 * JLFlagdObject builds {"flagKey": ..., "timestamp": ...}.
 */
static const JLValue *
JLFlagdObject(JLEvalState *st)
{
	JLMember	m[2];
	const JLValue *key;
	const JLValue *ts;

	key = JLMakeString(st->scratch, st->ctx->flag_key ? st->ctx->flag_key : "",
					   st->ctx->flag_key ? st->ctx->flag_key_len : 0, false);
	ts = JLMakeNumber(st->scratch, (double) st->ctx->timestamp);
	if (key == NULL || ts == NULL)
		return NULL;
	m[0].key = "flagKey";
	m[0].keylen = 7;
	m[0].value = key;
	m[1].key = "timestamp";
	m[1].keylen = 9;
	m[1].value = ts;
	return JLMakeObject(st->scratch, m, 2);
}

/*
 * JLFlagdValue serves a $flagd reference; NULL with an error on OOM, or
 * &JLNullValue for nothing.
 */
static const JLValue *
JLFlagdValue(JLEvalState *st, JLFlagdRef ref)
{
	switch (ref)
	{
		case JL_FLAGD_FLAGKEY:
			return JLMakeString(st->scratch, st->ctx->flag_key ? st->ctx->flag_key : "",
								st->ctx->flag_key ? st->ctx->flag_key_len : 0, false);
		case JL_FLAGD_TIMESTAMP:
			return JLMakeNumber(st->scratch, (double) st->ctx->timestamp);
		case JL_FLAGD_WHOLE:
			return JLFlagdObject(st);
		default:
			return &JLNullValue;
	}
}

/*
 * JLWholeData returns the root data, with $flagd merged in when the
 * context asks for injection.  NULL only on OOM (error recorded).
 */
static const JLValue *
JLWholeData(JLEvalState *st, const JLNode *node)
{
	const JLContext *ctx = st->ctx;
	const JLValue *data = NULL;
	const JLValue *flagd;
	JLMember   *m;
	size_t		n = 0;
	size_t		i;

	if (ctx->lookup != NULL)
		data = ctx->lookup(ctx->opaque, NULL, 0, st->scratch);
	if (!ctx->inject_flagd)
		return data ? data : &JLNullValue;
	if (data != NULL && data->type != JL_OBJECT && data->type != JL_NULL)
		return data;
	flagd = JLFlagdObject(st);
	if (flagd == NULL)
		return JLEvalOOM(st, node);
	m = JLArenaAlloc(st->scratch, ((data && data->type == JL_OBJECT ? data->u.object.count : 0) + 1) * sizeof(JLMember));
	if (m == NULL)
		return JLEvalOOM(st, node);
	if (data != NULL && data->type == JL_OBJECT)
		for (i = 0; i < data->u.object.count; i++)
			if (!(data->u.object.members[i].keylen == 6 &&
				  memcmp(data->u.object.members[i].key, "$flagd", 6) == 0))
				m[n++] = data->u.object.members[i];
	m[n].key = "$flagd";
	m[n].keylen = 6;
	m[n].value = flagd;
	n++;
	data = JLMakeObject(st->scratch, m, n);
	if (data == NULL)
		return JLEvalOOM(st, node);
	return data;
}

/*
 * JLLookupRoot looks a split path up in the root data, serving $flagd
 * when injected.  Returns NULL when missing (no error).
 */
const JLValue *
JLLookupRoot(JLEvalState *st, const JLPathSegment *segs, size_t nsegs)
{
	const JLContext *ctx = st->ctx;

	if (ctx->inject_flagd && nsegs > 0 && segs[0].len == 6 &&
		memcmp(segs[0].ptr, "$flagd", 6) == 0)
	{
		JLFlagdRef	ref;

		if (!JLClassifyFlagd(segs, nsegs, &ref) || ref == JL_FLAGD_NONE)
			return NULL;
		return JLFlagdValue(st, ref);
	}
	if (ctx->lookup == NULL)
		return NULL;
	return ctx->lookup(ctx->opaque, segs, nsegs, st->scratch);
}

/*
 * JLLookupKey resolves a var path given as a value (string, number...)
 * in the scope (NULL = root).  *oom is set on allocation failure.
 */
static const JLValue *
JLLookupKey(JLEvalState *st, const JLNode *node, const JLValue *key,
			const JLValue *scope, bool *oom)
{
	const char *s;
	size_t		len;
	const JLPathSegment *segs;
	JLPathSegment one;
	size_t		nsegs;

	*oom = false;
	if (key == NULL || key->type == JL_NULL)
		len = 0, s = "";
	else if (key->type == JL_STRING)
	{
		s = key->u.string.ptr;
		len = key->u.string.len;
	}
	else
	{
		JLBuf		buf;

		JLBufInit(&buf, st->scratch, 16);
		JLAppendString(&buf, key, false, 0);
		if (buf.failed)
		{
			*oom = true;
			return NULL;
		}
		s = buf.data;
		len = buf.len;
	}
	if (len == 0)
	{
		if (scope != NULL)
			return scope;
		{
			const JLValue *d = JLWholeData(st, node);

			if (d == NULL)
				*oom = true;
			return d;
		}
	}
	if (memchr(s, '.', len) == NULL)
	{
		one.ptr = s;
		one.len = len;
		segs = &one;
		nsegs = 1;
	}
	else if (!JLSplitPathInto(st->scratch, s, len, &segs, &nsegs))
	{
		*oom = true;
		return NULL;
	}
	if (scope != NULL)
		return JLLookupValue(scope, segs, nsegs);
	return JLLookupRoot(st, segs, nsegs);
}

/*
 * JLVarResult is var's value once its path was looked up: what was found,
 * else the default (the second argument), else null.
 */
static inline const JLValue *
JLVarResult(JLEvalState *st, const JLNode *node, const JLValue *scope,
			const JLValue *found)
{
	if (found == NULL || found->type == JL_NULL)
	{
		if (node->nargs >= 2)
			return JLEvalNode(st, node->args[1], scope);
		return &JLNullValue;
	}
	return found;
}

/*
 * JLEvalVarComputed implements var with a path computed by a rule; out of
 * line, so that the common static case keeps a small stack frame.
 */
static JL_NOINLINE const JLValue *
JLEvalVarComputed(JLEvalState *st, const JLNode *node, const JLValue *scope)
{
	const JLValue *key = JLEvalNode(st, node->args[0], scope);
	const JLValue *found;
	bool		oom;

	if (key == NULL)
		return NULL;
	found = JLLookupKey(st, node, key, scope, &oom);
	if (oom)
		return JLEvalOOM(st, node);
	return JLVarResult(st, node, scope, found);
}

/*
 * JLEvalVar implements var: static paths were split at compile time.
 */
static inline const JLValue *
JLEvalVar(JLEvalState *st, const JLNode *node, const JLValue *scope)
{
	const JLValue *found;

	if (node->u.var.is_static)
	{
		if (node->u.var.nsegs == 0)
		{
			if (scope != NULL)
				return scope;
			return JLWholeData(st, node);
		}
		if (scope != NULL)
			found = JLLookupValue(scope, node->u.var.segs, node->u.var.nsegs);
		else if (node->u.var.flagd != JL_FLAGD_NONE && st->ctx->inject_flagd)
		{
			found = JLFlagdValue(st, node->u.var.flagd);
			if (found == NULL)
				return JLEvalOOM(st, node);
		}
		else
			found = JLLookupStatic(st, node);
	}
	else
		return JLEvalVarComputed(st, node, scope);
	return JLVarResult(st, node, scope, found);
}

/*
 * JLEvalArgs evaluates every argument of node into vals.
 */
static bool
JLEvalArgs(JLEvalState *st, const JLNode *node, const JLValue *scope,
		   const JLValue **vals)
{
	uint32_t	i;

	for (i = 0; i < node->nargs; i++)
	{
		vals[i] = JLEvalNode(st, node->args[i], scope);
		if (vals[i] == NULL)
			return false;
	}
	return true;
}

/*
 * JLArgsBuffer returns storage for n evaluated arguments.
 */
static const JLValue **
JLArgsBuffer(JLEvalState *st, const JLValue **small, uint32_t n)
{
	if (n <= JL_STACK_ARGS)
		return small;
	return JLArenaAlloc(st->scratch, n * sizeof(JLValue *));
}

/*
 * JLNumberResult wraps a double in a scratch value.
 */
static const JLValue *
JLNumberResult(JLEvalState *st, const JLNode *node, double d)
{
	const JLValue *v = JLMakeNumber(st->scratch, d);

	if (v == NULL)
		return JLEvalOOM(st, node);
	return v;
}

/*
 * JLEvalMissingKeys implements missing: the keys (or the first argument when
 * it is an array) whose value is null, missing or "".
 */
static const JLValue *
JLEvalMissingKeys(JLEvalState *st, const JLNode *node, const JLValue *scope,
				  const JLValue **keys, size_t nkeys)
{
	const JLValue **out;
	size_t		n = 0;
	size_t		i;
	const JLValue *arr;

	out = JLArenaAlloc(st->scratch, (nkeys ? nkeys : 1) * sizeof(JLValue *));
	if (out == NULL)
		return JLEvalOOM(st, node);
	for (i = 0; i < nkeys; i++)
	{
		bool		oom;
		const JLValue *v;

		if (!JLLoopTick(st, i))
			return NULL;
		v = JLLookupKey(st, node, keys[i], scope, &oom);
		if (oom)
			return JLEvalOOM(st, node);
		if (v == NULL || v->type == JL_NULL ||
			(v->type == JL_STRING && v->u.string.len == 0))
			out[n++] = keys[i];
	}
	arr = JLMakeArray(st->scratch, out, n);
	if (arr == NULL)
		return JLEvalOOM(st, node);
	return arr;
}

/*
 * JLEvalMerge flattens its arguments one level into a new array.
 */
static const JLValue *
JLEvalMerge(JLEvalState *st, const JLNode *node, const JLValue **vals)
{
	size_t		total = 0;
	size_t		n = 0;
	uint32_t	i;
	const JLValue **items;
	const JLValue *arr;

	for (i = 0; i < node->nargs; i++)
		total += vals[i]->type == JL_ARRAY ? vals[i]->u.array.count : 1;
	items = JLArenaAlloc(st->scratch, (total ? total : 1) * sizeof(JLValue *));
	if (items == NULL)
		return JLEvalOOM(st, node);
	for (i = 0; i < node->nargs; i++)
	{
		if (vals[i]->type == JL_ARRAY)
		{
			if (vals[i]->u.array.count > 0)
				memcpy(items + n, vals[i]->u.array.items,
					   vals[i]->u.array.count * sizeof(JLValue *));
			n += vals[i]->u.array.count;
		}
		else
			items[n++] = vals[i];
	}
	arr = JLMakeArray(st->scratch, items, n);
	if (arr == NULL)
		return JLEvalOOM(st, node);
	return arr;
}

/*
 * JLUtf8Offset returns the byte offset of the chars-th code point.
 */
static size_t
JLUtf8Offset(const char *s, size_t len, size_t chars)
{
	size_t		i = 0;

	while (i < len && chars > 0)
	{
		i++;
		while (i < len && ((unsigned char) s[i] & 0xC0) == 0x80)
			i++;
		chars--;
	}
	return i;
}

/*
 * JLUtf8Count counts code points.
 */
static size_t
JLUtf8Count(const char *s, size_t len)
{
	size_t		n = 0;
	size_t		i;

	for (i = 0; i < len; i++)
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/*
 * JLToInteger is JavaScript's ToIntegerOrInfinity.
 */
static double
JLToInteger(const JLValue *v)
{
	double		d = v ? JLToNumber(v) : 0;

	if (isnan(d))
		return 0;
	return trunc(d);
}

/*
 * JLEvalSubstr implements substr over code points (JavaScript counts
 * UTF-16 units; the two differ only for characters outside the BMP).
 */
static const JLValue *
JLEvalSubstr(JLEvalState *st, const JLNode *node, const JLValue **vals)
{
	JLBuf		buf;
	const char *s;
	size_t		len;
	double		size;
	double		start;
	double		count;
	size_t		b0,
				b1;
	const JLValue *r;

	if (vals[0]->type == JL_STRING)
	{
		s = vals[0]->u.string.ptr;
		len = vals[0]->u.string.len;
	}
	else
	{
		JLBufInit(&buf, st->scratch, 16);
		JLAppendString(&buf, vals[0], false, 0);
		if (buf.failed)
			return JLEvalOOM(st, node);
		s = buf.data;
		len = buf.len;
	}
	size = (double) JLUtf8Count(s, len);
	start = JLToInteger(node->nargs > 1 ? vals[1] : NULL);
	if (start < 0)
		start = size + start < 0 ? 0 : size + start;
	if (start > size)
		start = size;
	if (node->nargs > 2)
	{
		double		end = JLToNumber(vals[2]);

		if (end < 0)
		{
			/* temp = s.substr(start); temp.substr(0, temp.length + end) */
			count = (size - start) + trunc(end);
		}
		else
			count = JLToInteger(vals[2]);
	}
	else
		count = size - start;
	if (isnan(count) || count < 0)
		count = 0;
	if (count > size - start)
		count = size - start;
	b0 = JLUtf8Offset(s, len, (size_t) start);
	b1 = b0 + JLUtf8Offset(s + b0, len - b0, (size_t) count);
	r = JLMakeString(st->scratch, s + b0, b1 - b0, false);
	if (r == NULL)
		return JLEvalOOM(st, node);
	return r;
}

/*
 * JLFindBytes reports whether needle n (nlen > 0) occurs in hay: 1 found,
 * 0 not found, -1 interrupted or out of memory (the error is recorded).
 * Short needles use a direct scan; long ones Knuth-Morris-Pratt, so a
 * 1 MB needle against a 10 MB haystack stays linear.
 */
static int
JLFindBytes(JLEvalState *st, const JLNode *node, const char *hay, size_t hlen,
			const char *n, size_t nlen)
{
	size_t	   *fail;
	size_t		i;
	size_t		k;

	if (nlen > hlen)
		return 0;
	if (nlen <= 64)
	{
		for (i = 0; i + nlen <= hlen; i++)
		{
			if (!JLLoopTick(st, i))
				return -1;
			if (hay[i] == n[0] && memcmp(hay + i, n, nlen) == 0)
				return 1;
		}
		return 0;
	}

	fail = JLArenaAlloc(st->scratch, nlen * sizeof(size_t));
	if (fail == NULL)
	{
		JLEvalOOM(st, node);
		return -1;
	}
	/* fail[i]: length of the longest proper border of n[0..i] */
	fail[0] = 0;
	k = 0;
	for (i = 1; i < nlen; i++)
	{
		if (!JLLoopTick(st, i))
			return -1;
		while (k > 0 && n[i] != n[k])
			k = fail[k - 1];
		if (n[i] == n[k])
			k++;
		fail[i] = k;
	}
	k = 0;
	for (i = 0; i < hlen; i++)
	{
		if (!JLLoopTick(st, i))
			return -1;
		while (k > 0 && hay[i] != n[k])
			k = fail[k - 1];
		if (hay[i] == n[k])
			k++;
		if (k == nlen)
			return 1;
	}
	return 0;
}

/*
 * JLEvalIn implements in: substring test on a string haystack,
 * strict-equality membership on an array haystack, false otherwise.
 */
static JL_NOINLINE const JLValue *
JLEvalIn(JLEvalState *st, const JLNode *node, const JLValue *needle,
		 const JLValue *hay)
{
	size_t		i;

	if (hay == NULL)
		return &JLFalseValue;
	if (node->u.inset.items != NULL && hay == node->args[1]->u.lit.value)
	{
		size_t		lo = 0,
					hi = node->u.inset.count;

		if (needle == NULL || needle->type != JL_STRING)
			return &JLFalseValue;
		while (lo < hi)
		{
			size_t		mid = lo + (hi - lo) / 2;
			const JLValue *m = node->u.inset.items[mid];
			int			c = JLCompareBytes(m->u.string.ptr, m->u.string.len,
										   needle->u.string.ptr, needle->u.string.len);

			if (c == 0)
				return &JLTrueValue;
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		return &JLFalseValue;
	}
	if (hay->type == JL_STRING)
	{
		const char *n;
		size_t		nlen;
		JLBuf		buf;

		if (hay->u.string.len == 0)
			return &JLFalseValue;	/* !b */
		if (needle == NULL)
		{
			n = "undefined";
			nlen = 9;
		}
		else if (needle->type == JL_STRING)
		{
			n = needle->u.string.ptr;
			nlen = needle->u.string.len;
		}
		else
		{
			JLBufInit(&buf, st->scratch, 16);
			JLAppendString(&buf, needle, false, 0);
			if (buf.failed)
				return JLEvalOOM(st, node);
			n = buf.data;
			nlen = buf.len;
		}
		if (nlen == 0)
			return &JLTrueValue;
		switch (JLFindBytes(st, node, hay->u.string.ptr, hay->u.string.len,
							n, nlen))
		{
			case 1:
				return &JLTrueValue;
			case 0:
				return &JLFalseValue;
			default:
				return NULL;
		}
	}
	if (hay->type == JL_ARRAY)
	{
		for (i = 0; i < hay->u.array.count; i++)
		{
			if (!JLLoopTick(st, i))
				return NULL;
			if (JLStrictEqual(needle, hay->u.array.items[i]))
				return &JLTrueValue;
		}
	}
	return &JLFalseValue;
}

/*
 * JLEvalIterator implements map, filter, all, some and none.
 */
static const JLValue *
JLEvalIterator(JLEvalState *st, const JLNode *node, const JLValue *scope)
{
	const JLValue *data = JLEvalNode(st, node->args[0], scope);
	const JLValue **out = NULL;
	size_t		n = 0;
	size_t		i;
	const JLValue *arr;

	if (data == NULL)
		return NULL;
	if (data->type != JL_ARRAY)
	{
		if (node->op == JLOP_MAP || node->op == JLOP_FILTER)
		{
			arr = JLMakeArray(st->scratch, NULL, 0);
			return arr ? arr : JLEvalOOM(st, node);
		}
		return node->op == JLOP_NONE ? &JLTrueValue : &JLFalseValue;
	}
	if (node->op == JLOP_MAP || node->op == JLOP_FILTER)
	{
		out = JLArenaAlloc(st->scratch, (data->u.array.count ? data->u.array.count : 1) * sizeof(JLValue *));
		if (out == NULL)
			return JLEvalOOM(st, node);
	}
	if (node->op == JLOP_ALL && data->u.array.count == 0)
		return &JLFalseValue;
	for (i = 0; i < data->u.array.count; i++)
	{
		const JLValue *item = data->u.array.items[i];
		const JLValue *r;

		if (!JLLoopTick(st, i))
			return NULL;
		r = JLEvalNode(st, node->args[1], item);
		if (r == NULL)
			return NULL;
		switch (node->op)
		{
			case JLOP_MAP:
				out[n++] = r;
				break;
			case JLOP_FILTER:
				if (JLTruthy(r))
					out[n++] = item;
				break;
			case JLOP_ALL:
				if (!JLTruthy(r))
					return &JLFalseValue;
				break;
			case JLOP_SOME:
				if (JLTruthy(r))
					return &JLTrueValue;
				break;
			case JLOP_NONE:
				if (JLTruthy(r))
					return &JLFalseValue;
				break;
			default:
				break;
		}
	}
	switch (node->op)
	{
		case JLOP_ALL:
			return &JLTrueValue;
		case JLOP_SOME:
			return &JLFalseValue;
		case JLOP_NONE:
			return &JLTrueValue;
		default:
			arr = JLMakeArray(st->scratch, out, n);
			return arr ? arr : JLEvalOOM(st, node);
	}
}

/*
 * JLEvalReduce implements reduce with {"current", "accumulator"} scopes.
 */
static const JLValue *
JLEvalReduce(JLEvalState *st, const JLNode *node, const JLValue *scope)
{
	const JLValue *data = JLEvalNode(st, node->args[0], scope);
	const JLValue *acc;
	size_t		i;

	if (data == NULL)
		return NULL;
	if (node->nargs > 2)
	{
		acc = JLEvalNode(st, node->args[2], scope);
		if (acc == NULL)
			return NULL;
	}
	else
		acc = &JLNullValue;
	if (data->type != JL_ARRAY)
		return acc;
	for (i = 0; i < data->u.array.count; i++)
	{
		JLMember   *m;
		JLValue    *obj;

		if (!JLLoopTick(st, i))
			return NULL;
		m = JLArenaAlloc(st->scratch, 2 * sizeof(JLMember));
		obj = JLArenaAlloc(st->scratch, sizeof(JLValue));
		if (m == NULL || obj == NULL)
			return JLEvalOOM(st, node);
		/* sorted by (length, bytes): "current" before "accumulator" */
		m[0].key = "current";
		m[0].keylen = 7;
		m[0].value = data->u.array.items[i];
		m[1].key = "accumulator";
		m[1].keylen = 11;
		m[1].value = acc;
		obj->type = JL_OBJECT;
		obj->u.object.members = m;
		obj->u.object.count = 2;
		acc = JLEvalNode(st, node->args[1], obj);
		if (acc == NULL)
			return NULL;
	}
	return acc;
}

/*
 * JLEvalArith implements + - * / % min max.
 */
static const JLValue *
JLEvalArith(JLEvalState *st, const JLNode *node, const JLValue **vals)
{
	double		r;
	uint32_t	i;

	switch (node->op)
	{
		case JLOP_ADD:
			r = 0;
			for (i = 0; i < node->nargs; i++)
				r += JLParseFloat(vals[i]);
			break;
		case JLOP_MUL:
			r = JLParseFloat(vals[0]);
			for (i = 1; i < node->nargs; i++)
				r *= JLParseFloat(vals[i]);
			break;
		case JLOP_SUB:
			if (node->nargs == 0)
				r = NAN;
			else if (node->nargs == 1)
				r = -JLToNumber(vals[0]);
			else
				r = JLToNumber(vals[0]) - JLToNumber(vals[1]);
			break;
		case JLOP_DIV:
			r = node->nargs >= 2 ? JLToNumber(vals[0]) / JLToNumber(vals[1]) : NAN;
			break;
		case JLOP_MOD:
			r = node->nargs >= 2 ? fmod(JLToNumber(vals[0]), JLToNumber(vals[1])) : NAN;
			break;
		case JLOP_MIN:
		case JLOP_MAX:
			r = node->op == JLOP_MIN ? INFINITY : -INFINITY;
			for (i = 0; i < node->nargs; i++)
			{
				double		d = JLToNumber(vals[i]);

				if (isnan(d))
				{
					r = NAN;
					break;
				}
				if (node->op == JLOP_MIN ? d < r : d > r)
					r = d;
			}
			break;
		default:
			r = NAN;
			break;
	}
	return JLNumberResult(st, node, r);
}

/*
 * JLEvalCompare finishes the operators whose (at most three) arguments
 * JLEvalNodeFull evaluated: equality, relational comparison, negation and
 * in.  a, b and c are NULL where there was no such argument.
 */
static inline const JLValue *
JLEvalCompare(JLEvalState *st, const JLNode *node, const JLValue *a,
			  const JLValue *b, const JLValue *c)
{
	bool		r;
	bool		oe;

	switch (node->op)
	{
		case JLOP_EQ:
		case JLOP_NE:
			r = JLLooseEqual(a, b, st->scratch);
			return JL_BOOL(r == (node->op == JLOP_EQ));
		case JLOP_STRICT_EQ:
		case JLOP_STRICT_NE:
			r = JLStrictEqual(a, b);
			return JL_BOOL(r == (node->op == JLOP_STRICT_EQ));
		case JLOP_LT:
		case JLOP_LE:
			oe = node->op == JLOP_LE;
			r = JLLessThan(a, b, oe, st->scratch);
			if (node->nargs > 2)
				r = r && JLLessThan(b, c, oe, st->scratch);
			return JL_BOOL(r);
		case JLOP_GT:
		case JLOP_GE:
			return JL_BOOL(JLLessThan(b, a, node->op == JLOP_GE, st->scratch));
		case JLOP_NOT:
		case JLOP_NOTNOT:
			r = node->nargs > 0 && JLTruthy(a);
			return JL_BOOL(r == (node->op == JLOP_NOTNOT));
		case JLOP_IN:
			return JLEvalIn(st, node, a, b);
		default:
			break;
	}
	JLEvalFail(st, JL_ERR_RUNTIME, node->path, "internal error: node type %d is not a comparison",
			   (int) node->op);
	return NULL;
}

/*
 * JLEvalOpCold evaluates the operators that JLEvalNodeFull does not: the
 * ones that need an argument buffer, build values or loop.  Out of line, so
 * that its stack frame is not paid by every node.
 */
static JL_NOINLINE const JLValue *
JLEvalOpCold(JLEvalState *st, const JLNode *node, const JLValue *scope)
{
	const JLValue *small[JL_STACK_ARGS];
	const JLValue **vals;
	const JLValue *a;
	uint32_t	i;

	switch (node->op)
	{
		case JLOP_ADD:
		case JLOP_SUB:
		case JLOP_MUL:
		case JLOP_DIV:
		case JLOP_MOD:
		case JLOP_MIN:
		case JLOP_MAX:
			vals = JLArgsBuffer(st, small, node->nargs);
			if (vals == NULL)
				return JLEvalOOM(st, node);
			if (!JLEvalArgs(st, node, scope, vals))
				return NULL;
			return JLEvalArith(st, node, vals);
		case JLOP_CAT:
			{
				JLBuf		buf;
				const JLValue *r;
				size_t		need = 1;

				vals = JLArgsBuffer(st, small, node->nargs);
				if (vals == NULL)
					return JLEvalOOM(st, node);
				if (!JLEvalArgs(st, node, scope, vals))
					return NULL;
				if (node->nargs == 1 && vals[0]->type == JL_STRING)
					return vals[0];
				/*
				 * sized for the strings up front: growing by doubling left
				 * every smaller buffer in the arena, three times the result
				 */
				for (i = 0; i < node->nargs; i++)
					need += vals[i]->type == JL_STRING ? vals[i]->u.string.len : 32;
				JLBufInit(&buf, st->scratch, need);
				for (i = 0; i < node->nargs; i++)
					JLAppendString(&buf, vals[i], true, 0);
				if (buf.failed)
					return JLEvalOOM(st, node);
				r = JLMakeString(st->scratch, buf.data, buf.len, false);
				return r ? r : JLEvalOOM(st, node);
			}
		case JLOP_SUBSTR:
			vals = JLArgsBuffer(st, small, node->nargs);
			if (vals == NULL)
				return JLEvalOOM(st, node);
			if (!JLEvalArgs(st, node, scope, vals))
				return NULL;
			return JLEvalSubstr(st, node, vals);
		case JLOP_MERGE:
			vals = JLArgsBuffer(st, small, node->nargs);
			if (vals == NULL)
				return JLEvalOOM(st, node);
			if (!JLEvalArgs(st, node, scope, vals))
				return NULL;
			return JLEvalMerge(st, node, vals);
		case JLOP_MISSING:
			vals = JLArgsBuffer(st, small, node->nargs);
			if (vals == NULL)
				return JLEvalOOM(st, node);
			if (!JLEvalArgs(st, node, scope, vals))
				return NULL;
			if (node->nargs > 0 && vals[0]->type == JL_ARRAY)
				return JLEvalMissingKeys(st, node, scope, vals[0]->u.array.items,
										 vals[0]->u.array.count);
			return JLEvalMissingKeys(st, node, scope, vals, node->nargs);
		case JLOP_MISSING_SOME:
			{
				const JLValue *opts;
				const JLValue *missing;
				double		need;
				size_t		nopts;

				a = JLEvalNode(st, node->args[0], scope);
				if (a == NULL)
					return NULL;
				opts = JLEvalNode(st, node->args[1], scope);
				if (opts == NULL)
					return NULL;
				need = JLToNumber(a);
				if (opts->type == JL_ARRAY)
				{
					missing = JLEvalMissingKeys(st, node, scope, opts->u.array.items,
												opts->u.array.count);
					nopts = opts->u.array.count;
				}
				else
				{
					missing = JLEvalMissingKeys(st, node, scope, &opts, 1);
					nopts = 1;
				}
				if (missing == NULL)
					return NULL;
				if ((double) (nopts - missing->u.array.count) >= need)
				{
					const JLValue *empty = JLMakeArray(st->scratch, NULL, 0);

					return empty ? empty : JLEvalOOM(st, node);
				}
				return missing;
			}
		case JLOP_MAP:
		case JLOP_FILTER:
		case JLOP_ALL:
		case JLOP_SOME:
		case JLOP_NONE:
			return JLEvalIterator(st, node, scope);
		case JLOP_REDUCE:
			return JLEvalReduce(st, node, scope);
		case JLOP_ARRAY:
			{
				const JLValue **items = JLArenaAlloc(st->scratch, node->nargs * sizeof(JLValue *));
				const JLValue *arr;

				if (items == NULL)
					return JLEvalOOM(st, node);
				if (!JLEvalArgs(st, node, scope, items))
					return NULL;
				arr = JLMakeArray(st->scratch, items, node->nargs);
				return arr ? arr : JLEvalOOM(st, node);
			}
		default:
			break;
	}
	JLEvalFail(st, JL_ERR_RUNTIME, node->path, "internal error: unknown node type %d",
			   (int) node->op);
	return NULL;
}

/*
 * JLEvalNodeFull evaluates one node with depth and interrupt accounting
 * (JLEvalNode in jl_internal.h returns literals and plain vars before
 * calling it).  The operators that flag rules are made of are evaluated
 * here, with their arguments in locals; JLEvalOpCold does the rest.
 */
const JLValue *
JLEvalNodeFull(JLEvalState *st, const JLNode *node, const JLValue *scope)
{
	const JLValue *r;
	const JLValue *a;
	const JLValue *b;
	const JLValue *c;
	uint32_t	i;

	if (node->op == JLOP_LITERAL)
		return node->u.lit.value;
	if (++st->depth > st->max_depth)
	{
		JLEvalFail(st, JL_ERR_TOO_DEEP, node->path,
				   "evaluation exceeds the maximum depth of %d", st->max_depth);
		st->depth--;
		return NULL;
	}
	if ((++st->steps & (JL_INTERRUPT_INTERVAL - 1)) == 0 && JLEvalCheckInterrupt(st))
	{
		st->depth--;
		return NULL;
	}
	switch (node->op)
	{
		case JLOP_VAR:
			r = JLEvalVar(st, node, scope);
			break;
		case JLOP_IF:
			r = &JLNullValue;
			a = NULL;
			for (i = 0; i + 1 < node->nargs; i += 2)
			{
				a = JLEvalNode(st, node->args[i], scope);
				if (a == NULL || JLTruthy(a))
					break;
			}
			if (i + 1 < node->nargs)
				r = a == NULL ? NULL : JLEvalNode(st, node->args[i + 1], scope);
			else if (i < node->nargs)
				r = JLEvalNode(st, node->args[i], scope);
			break;
		case JLOP_AND:
		case JLOP_OR:
			r = &JLNullValue;
			for (i = 0; i < node->nargs; i++)
			{
				r = JLEvalNode(st, node->args[i], scope);
				if (r == NULL || JLTruthy(r) == (node->op == JLOP_OR))
					break;
			}
			break;
		case JLOP_EQ:
		case JLOP_NE:
		case JLOP_STRICT_EQ:
		case JLOP_STRICT_NE:
		case JLOP_LT:
		case JLOP_LE:
		case JLOP_GT:
		case JLOP_GE:
		case JLOP_NOT:
		case JLOP_NOTNOT:
		case JLOP_IN:
			/* every argument is evaluated; the first three are used */
			a = b = c = NULL;
			r = &JLNullValue;
			for (i = 0; i < node->nargs; i++)
			{
				r = JLEvalNode(st, node->args[i], scope);
				if (r == NULL)
					break;
				if (i == 0)
					a = r;
				else if (i == 1)
					b = r;
				else if (i == 2)
					c = r;
			}
			if (r == NULL)
				break;
			r = JLEvalCompare(st, node, a, b, c);
			break;
		case JLOP_FRACTIONAL:
			r = JLEvalFractional(st, node, scope);
			break;
		case JLOP_SEM_VER:
			r = JLEvalSemVer(st, node, scope);
			break;
		case JLOP_STARTS_WITH:
			r = JLEvalStringAffix(st, node, scope, true);
			break;
		case JLOP_ENDS_WITH:
			r = JLEvalStringAffix(st, node, scope, false);
			break;
		case JLOP_IN_SEGMENT:
			r = JLEvalInSegment(st, node, scope);
			break;
		default:
			r = JLEvalOpCold(st, node, scope);
			break;
	}
	st->depth--;
	return r;
}

/*
 * JLHasNonFinite reports whether v contains a NaN or infinite number.
 */
static bool
JLHasNonFinite(const JLValue *v, int depth)
{
	size_t		i;

	if (depth > 10000)
		return false;
	switch (v->type)
	{
		case JL_NUMBER:
			return !isfinite(v->u.number);
		case JL_ARRAY:
			for (i = 0; i < v->u.array.count; i++)
				if (JLHasNonFinite(v->u.array.items[i], depth + 1))
					return true;
			return false;
		case JL_OBJECT:
			for (i = 0; i < v->u.object.count; i++)
				if (JLHasNonFinite(v->u.object.members[i].value, depth + 1))
					return true;
			return false;
		default:
			return false;
	}
}

/*
 * JLFiniteCopy returns v with every non-finite number replaced by null
 * (copying only what changes); NULL on OOM.
 */
static const JLValue *
JLFiniteCopy(JLArena *arena, const JLValue *v, int depth)
{
	size_t		i;

	if (!JLHasNonFinite(v, depth))
		return v;
	switch (v->type)
	{
		case JL_NUMBER:
			return &JLNullValue;
		case JL_ARRAY:
			{
				const JLValue **items = JLArenaAlloc(arena, v->u.array.count * sizeof(JLValue *));

				if (items == NULL)
					return NULL;
				for (i = 0; i < v->u.array.count; i++)
					if ((items[i] = JLFiniteCopy(arena, v->u.array.items[i], depth + 1)) == NULL)
						return NULL;
				return JLMakeArray(arena, items, v->u.array.count);
			}
		case JL_OBJECT:
			{
				JLMember   *m = JLArenaAlloc(arena, v->u.object.count * sizeof(JLMember));
				JLValue    *o = JLArenaAlloc(arena, sizeof(JLValue));

				if (m == NULL || o == NULL)
					return NULL;
				for (i = 0; i < v->u.object.count; i++)
				{
					m[i] = v->u.object.members[i];
					if ((m[i].value = JLFiniteCopy(arena, m[i].value, depth + 1)) == NULL)
						return NULL;
				}
				o->type = JL_OBJECT;
				o->u.object.members = m;
				o->u.object.count = v->u.object.count;
				return o;
			}
		default:
			return v;
	}
}

/*
 * JLEvaluateRaw evaluates a compiled rule and returns the result as
 * computed: a NaN or an infinity stays a number (flag resolution refuses
 * it as a number, where JLEvaluate's null would read as "no decision").
 */
const JLValue *
JLEvaluateRaw(const JLRule *rule, const JLContext *ctx, JLArena *scratch,
			  JLError *err)
{
	JLEvalState st;
	const JLValue *r;

	if (err != NULL)
	{
		err->code = JL_OK;
		err->path[0] = '\0';
		err->message[0] = '\0';
	}
	st.ctx = ctx;
	st.scratch = scratch;
	st.err = err;
	st.depth = 0;
	st.max_depth = ctx->max_depth > 0 ? ctx->max_depth : JL_DEFAULT_MAX_DEPTH;
	st.steps = 0;
	st.nactive = 0;
	r = JLEvalNode(&st, rule->root, NULL);
	if (r == NULL)
	{
		if (err != NULL && err->code == JL_OK)
			JLSetError(err, JL_ERR_RUNTIME, "$", "evaluation failed");
		return NULL;
	}
	return r;
}

/*
 * JLEvaluate evaluates a compiled rule; non-finite numbers in the result
 * become null (as JSON.stringify renders them).
 */
const JLValue *
JLEvaluate(const JLRule *rule, const JLContext *ctx, JLArena *scratch,
		   JLError *err)
{
	const JLValue *r = JLEvaluateRaw(rule, ctx, scratch, err);

	if (r == NULL)
		return NULL;
	if (r->type == JL_NUMBER || r->type == JL_ARRAY || r->type == JL_OBJECT)
	{
		const JLValue *f = JLFiniteCopy(scratch, r, 0);

		if (f == NULL)
		{
			JLSetError(err, JL_ERR_OUT_OF_MEMORY, "$", "out of memory during evaluation");
			return NULL;
		}
		r = f;
	}
	return r;
}
