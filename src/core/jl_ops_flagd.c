/*-------------------------------------------------------------------------
 *
 * jl_ops_flagd.c
 *	  flagd's custom JSON Logic operators and the in_segment extension.
 *
 * fractional (v2 bucketing: MurmurHash3 x86 32-bit, seed 0, over UTF-8
 * bytes; bucket = (hash * total weight) >> 32), sem_ver (semver 2.0
 * precedence, v prefix, partial versions, ^ and ~), starts_with and
 * ends_with.  Following flagd, these operators never fail on bad input:
 * they return null.  in_segment asks the context for segment membership
 * and falls back to the segment's own rule.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/core/jl_ops_flagd.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <string.h>

#include "jl_internal.h"

/* ---------------------------------------------------------------------
 * sem_ver
 * --------------------------------------------------------------------- */

/*
 * JLSemVerNumeric checks a numeric identifier (digits, no leading zero).
 */
static bool
JLSemVerNumeric(const char *s, size_t len)
{
	size_t		i;

	if (len == 0 || (len > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/*
 * JLSemVerIdents checks a dot-separated list of pre-release or build
 * identifiers ([0-9A-Za-z-]+, numeric pre-release ones without leading
 * zeros).
 */
static bool
JLSemVerIdents(const char *s, size_t len, bool prerelease)
{
	size_t		start = 0;
	size_t		i;

	if (len == 0)
		return false;
	for (i = 0; i <= len; i++)
	{
		if (i == len || s[i] == '.')
		{
			size_t		n = i - start;
			size_t		k;
			bool		numeric = true;

			if (n == 0)
				return false;
			for (k = start; k < i; k++)
			{
				char		c = s[k];

				if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
					  (c >= 'A' && c <= 'Z') || c == '-'))
					return false;
				if (c < '0' || c > '9')
					numeric = false;
			}
			if (prerelease && numeric && n > 1 && s[start] == '0')
				return false;
			start = i + 1;
		}
	}
	return true;
}

/*
 * JLSemVerParse parses a version: optional v/V prefix, MAJOR[.MINOR[.PATCH
 * [-PRE][+BUILD]]] (partial versions take no pre-release or build).
 */
bool
JLSemVerParse(const char *s, size_t len, JLSemVer *out)
{
	const char *parts[3] = {"0", "0", "0"};
	size_t		plen[3] = {1, 1, 1};
	size_t		i = 0;
	int			np = 0;
	size_t		end;

	if (len > 0 && (s[0] == 'v' || s[0] == 'V'))
		s++, len--;
	end = len;
	/* numeric core */
	while (np < 3)
	{
		size_t		start = i;

		while (i < end && s[i] >= '0' && s[i] <= '9')
			i++;
		if (!JLSemVerNumeric(s + start, i - start))
			return false;
		parts[np] = s + start;
		plen[np] = i - start;
		np++;
		if (i < end && s[i] == '.' && np < 3)
		{
			i++;
			continue;
		}
		break;
	}
	out->pre = NULL;
	out->prelen = 0;
	if (i < end)
	{
		size_t		plus;

		if (np < 3 || (s[i] != '-' && s[i] != '+'))
			return false;
		plus = i;
		while (plus < end && s[plus] != '+')
			plus++;
		if (s[i] == '-')
		{
			if (!JLSemVerIdents(s + i + 1, plus - i - 1, true))
				return false;
			out->pre = s + i + 1;
			out->prelen = plus - i - 1;
		}
		if (plus < end && !JLSemVerIdents(s + plus + 1, end - plus - 1, false))
			return false;
	}
	out->major = parts[0];
	out->majorlen = plen[0];
	out->minor = parts[1];
	out->minorlen = plen[1];
	out->patch = parts[2];
	out->patchlen = plen[2];
	return true;
}

/*
 * JLSemVerOpParse maps an operator string to its enum.
 */
JLSemVerOp
JLSemVerOpParse(const char *s, size_t len)
{
	if (len == 1)
		switch (s[0])
		{
			case '=':
				return JL_SV_EQ;
			case '<':
				return JL_SV_LT;
			case '>':
				return JL_SV_GT;
			case '^':
				return JL_SV_CARET;
			case '~':
				return JL_SV_TILDE;
		}
	if (len == 2 && s[1] == '=')
		switch (s[0])
		{
			case '!':
				return JL_SV_NE;
			case '<':
				return JL_SV_LE;
			case '>':
				return JL_SV_GE;
		}
	return JL_SV_INVALID;
}

/*
 * JLCompareNumericId compares two numeric identifiers without leading
 * zeros: longer is larger, then bytewise -- the order of jsonb keys.
 */
static inline int
JLCompareNumericId(const char *a, size_t alen, const char *b, size_t blen)
{
	return JLCompareKeys(a, alen, b, blen);
}

/*
 * JLIsAllDigits reports whether an identifier is numeric.
 */
static bool
JLIsAllDigits(const char *s, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return len > 0;
}

/*
 * JLComparePre compares pre-release strings by semver precedence (none
 * ranks above any pre-release).
 */
static int
JLComparePre(const JLSemVer *a, const JLSemVer *b)
{
	size_t		i = 0,
				j = 0;

	if (a->pre == NULL || b->pre == NULL)
		return a->pre == b->pre ? 0 : (a->pre == NULL ? 1 : -1);
	for (;;)
	{
		size_t		i2 = i,
					j2 = j;
		bool		an,
					bn;
		int			c;

		if (i >= a->prelen && j >= b->prelen)
			return 0;
		if (i >= a->prelen)
			return -1;
		if (j >= b->prelen)
			return 1;
		while (i2 < a->prelen && a->pre[i2] != '.')
			i2++;
		while (j2 < b->prelen && b->pre[j2] != '.')
			j2++;
		an = JLIsAllDigits(a->pre + i, i2 - i);
		bn = JLIsAllDigits(b->pre + j, j2 - j);
		if (an && bn)
			c = JLCompareNumericId(a->pre + i, i2 - i, b->pre + j, j2 - j);
		else if (an != bn)
			c = an ? -1 : 1;
		else
			c = JLCompareBytes(a->pre + i, i2 - i, b->pre + j, j2 - j);
		if (c != 0)
			return c;
		i = i2 + 1;
		j = j2 + 1;
		/* both ended exactly at the end: handled by the checks above */
		if (i2 >= a->prelen)
			i = a->prelen;
		if (j2 >= b->prelen)
			j = b->prelen;
	}
}

/*
 * JLSemVerCompare orders two versions by semver precedence.
 */
static int
JLSemVerCompare(const JLSemVer *a, const JLSemVer *b)
{
	int			c;

	c = JLCompareNumericId(a->major, a->majorlen, b->major, b->majorlen);
	if (c == 0)
		c = JLCompareNumericId(a->minor, a->minorlen, b->minor, b->minorlen);
	if (c == 0)
		c = JLCompareNumericId(a->patch, a->patchlen, b->patch, b->patchlen);
	if (c == 0)
		c = JLComparePre(a, b);
	return c;
}

/*
 * JLSemVerFromValue parses a version operand (string or number).
 */
static bool
JLSemVerFromValue(JLEvalState *st, const JLValue *v, JLSemVer *out)
{
	if (v->type == JL_STRING)
		return JLSemVerParse(v->u.string.ptr, v->u.string.len, out);
	if (v->type == JL_NUMBER)
	{
		char	   *buf = JLArenaAlloc(st->scratch, 32);
		int			n;

		if (buf == NULL)
			return false;
		n = JLFormatNumber(v->u.number, buf);
		return JLSemVerParse(buf, n, out);
	}
	return false;
}

/*
 * JLEvalSemVer implements sem_ver; null on any invalid operand.
 */
const JLValue *
JLEvalSemVer(JLEvalState *st, const JLNode *node, const JLValue *scope)
{
	JLSemVer	l,
				r;
	JLSemVerOp	op = node->u.semver->svop;
	const JLValue *v;
	int			c;

	if (node->u.semver->left_static)
		l = node->u.semver->left;
	else
	{
		if ((v = JLEvalNode(st, node->args[0], scope)) == NULL)
			return NULL;
		if (!JLSemVerFromValue(st, v, &l))
			return &JLNullValue;
	}
	if (op == JL_SV_INVALID)
	{
		if ((v = JLEvalNode(st, node->args[1], scope)) == NULL)
			return NULL;
		if (v->type != JL_STRING ||
			(op = JLSemVerOpParse(v->u.string.ptr, v->u.string.len)) == JL_SV_INVALID)
			return &JLNullValue;
	}
	if (node->u.semver->right_static)
		r = node->u.semver->right;
	else
	{
		if ((v = JLEvalNode(st, node->args[2], scope)) == NULL)
			return NULL;
		if (!JLSemVerFromValue(st, v, &r))
			return &JLNullValue;
	}
	switch (op)
	{
		case JL_SV_CARET:
			return JL_BOOL(JLCompareNumericId(l.major, l.majorlen, r.major, r.majorlen) == 0);
		case JL_SV_TILDE:
			return JL_BOOL(JLCompareNumericId(l.major, l.majorlen, r.major, r.majorlen) == 0 &&
						   JLCompareNumericId(l.minor, l.minorlen, r.minor, r.minorlen) == 0);
		default:
			break;
	}
	c = JLSemVerCompare(&l, &r);
	switch (op)
	{
		case JL_SV_EQ:
			return JL_BOOL(c == 0);
		case JL_SV_NE:
			return JL_BOOL(c != 0);
		case JL_SV_LT:
			return JL_BOOL(c < 0);
		case JL_SV_LE:
			return JL_BOOL(c <= 0);
		case JL_SV_GT:
			return JL_BOOL(c > 0);
		case JL_SV_GE:
			return JL_BOOL(c >= 0);
		default:
			return &JLNullValue;
	}
}

/* ---------------------------------------------------------------------
 * starts_with / ends_with
 * --------------------------------------------------------------------- */

/*
 * JLEvalStringAffix implements starts_with (prefix) and ends_with: both
 * operands must be strings, else null.
 */
const JLValue *
JLEvalStringAffix(JLEvalState *st, const JLNode *node, const JLValue *scope,
				  bool prefix)
{
	const JLValue *s;
	const JLValue *a;
	size_t		sl,
				al;

	if ((s = JLEvalNode(st, node->args[0], scope)) == NULL)
		return NULL;
	if ((a = JLEvalNode(st, node->args[1], scope)) == NULL)
		return NULL;
	if (s->type != JL_STRING || a->type != JL_STRING)
		return &JLNullValue;
	sl = s->u.string.len;
	al = a->u.string.len;
	if (al > sl)
		return &JLFalseValue;
	if (al == 0)
		return &JLTrueValue;
	if (prefix)
		return JL_BOOL(JLBytesEqual(s->u.string.ptr, a->u.string.ptr, al));
	return JL_BOOL(JLBytesEqual(s->u.string.ptr + sl - al, a->u.string.ptr, al));
}

/* ---------------------------------------------------------------------
 * fractional
 * --------------------------------------------------------------------- */

/*
 * JLBucketOf extracts (variant, weight) from an evaluated bucket; false
 * when it is malformed (the operator then yields null).
 */
static bool
JLBucketOf(const JLValue *b, JLBucket *out)
{
	const JLValue *w;
	double		d;

	if (b->type != JL_ARRAY || b->u.array.count < 1 || b->u.array.count > 2)
		return false;
	out->variant = b->u.array.items[0];
	w = b->u.array.count == 2 ? b->u.array.items[1] : NULL;
	if (w == NULL || w->type == JL_NULL)
	{
		out->weight = 1;
		return true;
	}
	if (w->type != JL_NUMBER)
		return false;
	d = w->u.number;
	if (!isfinite(d) || d > 2147483647.0)
		return false;
	if (d < 0)
	{
		/* a negative whole weight counts as 0 */
		if (d != floor(d))
			return false;
		out->weight = 0;
		return true;
	}
	/* 0 <= d < 2^31: whole when it survives the round trip through int64 */
	if (d != (double) (int64_t) d)
		return false;
	out->weight = (uint64_t) d;
	return true;
}

/*
 * JLFractionalPrepare checks and sums node's buckets from argument first on
 * once, when every one of them is a valid literal bucket, so that
 * evaluations only hash and pick (node->u.frac; left NULL otherwise, and
 * the buckets are then read at each evaluation).  False when out of memory.
 */
bool
JLFractionalPrepare(JLArena *arena, JLNode *node, uint32_t first)
{
	JLFracBuckets *fb;
	uint32_t	i;

	node->u.frac = NULL;
	if (first >= node->nargs)
		return true;
	for (i = first; i < node->nargs; i++)
		if (node->args[i]->op != JLOP_LITERAL)
			return true;
	fb = JLArenaAlloc(arena, offsetof(JLFracBuckets, buckets) +
					  (node->nargs - first) * sizeof(JLBucket));
	if (fb == NULL)
		return false;
	fb->count = 0;
	fb->total = 0;
	for (i = first; i < node->nargs; i++)
	{
		if (!JLBucketOf(node->args[i]->u.lit.value, &fb->buckets[fb->count]))
			return true;		/* not a bucket: evaluated (to null) each time */
		fb->total += fb->buckets[fb->count].weight;
		fb->count++;
	}
	node->u.frac = fb;
	return true;
}

/*
 * JLEvalFractional implements flagd's fractional operator (v2).
 */
const JLValue *
JLEvalFractional(JLEvalState *st, const JLNode *node, const JLValue *scope)
{
	JLBucket	small[8];
	const JLBucket *buckets;
	const JLValue *first;
	const JLValue *seed = NULL;
	uint32_t	start = 0;
	uint32_t	i;
	uint32_t	n = 0;
	uint64_t	total = 0;
	uint64_t	b;
	uint64_t	acc = 0;
	uint32_t	h;

	if (node->nargs == 0)
		return &JLNullValue;
	if ((first = JLEvalNode(st, node->args[0], scope)) == NULL)
		return NULL;
	if (first->type != JL_ARRAY)
	{
		if (first->type == JL_STRING)
			seed = first;
		else if (first->type != JL_NULL)
			return &JLNullValue;
		start = 1;
	}
	if (start == 1 && node->u.frac != NULL)
	{
		/* literal buckets, checked and summed at compile time */
		buckets = node->u.frac->buckets;
		n = node->u.frac->count;
		total = node->u.frac->total;
	}
	else
	{
		JLBucket   *out = small;

		if (node->nargs - start > 8)
		{
			out = JLArenaAlloc(st->scratch, (node->nargs - start) * sizeof(JLBucket));
			if (out == NULL)
			{
				JLEvalFail(st, JL_ERR_OUT_OF_MEMORY, node->path, "out of memory during evaluation");
				return NULL;
			}
		}
		for (i = start; i < node->nargs; i++)
		{
			const JLValue *bv = (i == 0) ? first : JLEvalNode(st, node->args[i], scope);

			if (bv == NULL)
				return NULL;
			if (!JLBucketOf(bv, &out[n]))
				return &JLNullValue;
			total += out[n].weight;
			n++;
		}
		buckets = out;
	}
	if (n == 0 || total == 0 || total > 2147483647u)
		return &JLNullValue;

	if (seed != NULL)
		h = JLMurmur3_32(seed->u.string.ptr, seed->u.string.len, 0);
	else
	{
		/* shorthand: flagKey followed by targetingKey */
		JLPathSegment tk = {"targetingKey", 12};
		const JLValue *key = JLLookupRoot(st, &tk, 1);
		const char *fk = st->ctx->flag_key ? st->ctx->flag_key : "";
		size_t		fklen = st->ctx->flag_key ? st->ctx->flag_key_len : 0;
		char	   *buf;

		if (key == NULL || key->type != JL_STRING || key->u.string.len == 0)
			return &JLNullValue;
		buf = JLArenaAlloc(st->scratch, fklen + key->u.string.len + 1);
		if (buf == NULL)
		{
			JLEvalFail(st, JL_ERR_OUT_OF_MEMORY, node->path, "out of memory during evaluation");
			return NULL;
		}
		if (fklen > 0)
			memcpy(buf, fk, fklen);
		memcpy(buf + fklen, key->u.string.ptr, key->u.string.len);
		h = JLMurmur3_32(buf, fklen + key->u.string.len, 0);
	}
	b = ((uint64_t) h * total) >> 32;
	for (i = 0; i < n; i++)
	{
		acc += buckets[i].weight;
		if (b < acc)
			return buckets[i].variant;
	}
	return &JLNullValue;		/* not reached: b < total */
}

/* ---------------------------------------------------------------------
 * in_segment
 * --------------------------------------------------------------------- */

/*
 * JLEvalInSegment implements in_segment: membership from the context's
 * segment callback, or the segment's rule when the key is in neither
 * list.  Without a string key (no targetingKey, or a key expression that
 * gives something else) the lists cannot match and the rule decides; a
 * segment without a rule then gives null.  A segment evaluated again for
 * the same key while it is being evaluated is a cycle (JL_ERR_RUNTIME);
 * the depth limit backs this up.  A segment the callback reports as broken
 * fails the evaluation (JL_ERR_RUNTIME) before its lists are consulted.
 */
const JLValue *
JLEvalInSegment(JLEvalState *st, const JLNode *node, const JLValue *scope)
{
	const JLValue *key;
	const char *keyptr = NULL;
	size_t		keylen = 0;
	JLSegmentInfo info;
	const JLValue *r;
	int			i;

	if (node->nargs >= 2)
	{
		if ((key = JLEvalNode(st, node->args[1], scope)) == NULL)
			return NULL;
	}
	else
	{
		JLPathSegment tk = {"targetingKey", 12};

		key = JLLookupRoot(st, &tk, 1);
	}
	if (key != NULL && key->type == JL_STRING)
	{
		keyptr = key->u.string.ptr;
		keylen = key->u.string.len;
	}
	if (st->ctx->segment == NULL)
		return &JLNullValue;
	info.membership = 0;
	info.rule = NULL;
	info.broken = NULL;
	if (!st->ctx->segment(st->ctx->opaque, node->u.segment.name,
						  node->u.segment.namelen, keyptr, keylen, &info))
		return &JLNullValue;
	if (info.broken != NULL)
	{
		/* fail closed: neither its lists nor a null may decide */
		JLEvalFail(st, JL_ERR_RUNTIME, node->path,
				   "segment \"%.*s\" cannot be evaluated: %s",
				   JLUtf8Clip(node->u.segment.name, node->u.segment.namelen, 60),
				   node->u.segment.name, info.broken);
		return NULL;
	}
	if (info.membership > 0)
		return &JLTrueValue;
	if (info.membership < 0)
		return &JLFalseValue;
	if (info.rule == NULL)
		return keyptr == NULL ? &JLNullValue : &JLFalseValue;

	for (i = 0; i < st->nactive; i++)
		if (st->active[i].namelen == node->u.segment.namelen &&
			memcmp(st->active[i].name, node->u.segment.name, node->u.segment.namelen) == 0 &&
			(st->active[i].key == NULL) == (keyptr == NULL) &&
			st->active[i].keylen == keylen &&
			(keylen == 0 || memcmp(st->active[i].key, keyptr, keylen) == 0))
		{
			JLEvalFail(st, JL_ERR_RUNTIME, node->path,
					   "segment \"%.*s\" references itself (cycle through in_segment)",
					   JLUtf8Clip(node->u.segment.name, node->u.segment.namelen, 60),
					   node->u.segment.name);
			return NULL;
		}
	if (st->nactive >= (int) (sizeof(st->active) / sizeof(st->active[0])))
	{
		JLEvalFail(st, JL_ERR_RUNTIME, node->path,
				   "segments nest more than %d levels deep through in_segment (a cycle through changing keys?)",
				   (int) (sizeof(st->active) / sizeof(st->active[0])));
		return NULL;
	}
	if (JLEvalCheckInterrupt(st))
		return NULL;
	st->active[st->nactive].name = node->u.segment.name;
	st->active[st->nactive].namelen = node->u.segment.namelen;
	st->active[st->nactive].key = keyptr;
	st->active[st->nactive].keylen = keylen;
	st->nactive++;
	r = JLEvalNode(st, info.rule->root, NULL);
	st->nactive--;
	if (r == NULL)
		return NULL;
	return JL_BOOL(JLTruthy(r));
}
