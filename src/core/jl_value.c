/*-------------------------------------------------------------------------
 *
 * jl_value.c
 *	  JSON values and the JavaScript conversions JSON Logic relies on.
 *
 * JSON Logic is defined by its JavaScript reference implementation, so the
 * operators need JavaScript's ToNumber, parseFloat, ToString (including
 * Number::toString's shortest round-trip formatting), truthiness, loose
 * (==) and strict (===) equality and the relational comparison.  They live
 * here, next to the value constructors.
 *
 * Deviations, all documented in the README (The evaluator core): arrays and objects compare
 * by content (JSON values have no identity), strings compare by UTF-8 bytes
 * (= code point order) rather than UTF-16 code units.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/core/jl_value.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jl_internal.h"

const JLValue JLNullValue = {JL_NULL, {0}};
const JLValue JLTrueValue = {JL_BOOL, {.boolean = true}};
const JLValue JLFalseValue = {JL_BOOL, {.boolean = false}};

/* ToString of nested arrays stops here (deeper levels print as "") */
#define JL_TOSTRING_MAX_DEPTH 256

/*
 * JLMakeNumber allocates a number value.
 */
JLValue *
JLMakeNumber(JLArena *arena, double n)
{
	JLValue    *v = JLArenaAlloc(arena, sizeof(JLValue));

	if (v == NULL)
		return NULL;
	v->type = JL_NUMBER;
	v->u.number = n;
	return v;
}

/*
 * JLMakeString allocates a string value, copying the bytes (NUL-terminated)
 * when copy is true, otherwise pointing at them.
 */
JLValue *
JLMakeString(JLArena *arena, const char *ptr, size_t len, bool copy)
{
	JLValue    *v = JLArenaAlloc(arena, sizeof(JLValue));

	if (v == NULL)
		return NULL;
	v->type = JL_STRING;
	if (copy)
	{
		char	   *p = JLArenaAlloc(arena, len + 1);

		if (p == NULL)
			return NULL;
		if (len > 0)
			memcpy(p, ptr, len);
		p[len] = '\0';
		ptr = p;
	}
	v->u.string.ptr = ptr;
	v->u.string.len = len;
	return v;
}

/*
 * JLCompareKeys orders object keys like jsonb: shorter first, then bytes.
 */
int
JLCompareKeys(const char *a, size_t alen, const char *b, size_t blen)
{
	int			c;

	if (alen != blen)
		return alen < blen ? -1 : 1;
	c = alen == 0 ? 0 : memcmp(a, b, alen);
	return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

/*
 * JLCompareBytes orders byte strings lexicographically (shorter prefix
 * first), which for UTF-8 is code point order.
 */
int
JLCompareBytes(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t		n = alen < blen ? alen : blen;
	int			c = n == 0 ? 0 : memcmp(a, b, n);

	if (c != 0)
		return c < 0 ? -1 : 1;
	if (alen == blen)
		return 0;
	return alen < blen ? -1 : 1;
}

/* a member tagged with its input position, for a stable sort */
typedef struct JLTaggedMember
{
	JLMember	m;
	size_t		pos;
} JLTaggedMember;

/*
 * JLTaggedMemberCmp orders tagged members by key, then input position.
 */
static int
JLTaggedMemberCmp(const void *a, const void *b)
{
	const JLTaggedMember *ma = a;
	const JLTaggedMember *mb = b;
	int			c = JLCompareKeys(ma->m.key, ma->m.keylen, mb->m.key, mb->m.keylen);

	if (c != 0)
		return c;
	return ma->pos < mb->pos ? -1 : (ma->pos > mb->pos ? 1 : 0);
}

/*
 * JLMakeObject builds an object from members (sorted here; on duplicate
 * keys the last one wins).  The members array is copied.
 */
JLValue *
JLMakeObject(JLArena *arena, JLMember *members, size_t count)
{
	JLValue    *v = JLArenaAlloc(arena, sizeof(JLValue));
	JLMember   *copy;
	size_t		i;
	size_t		n = 0;
	bool		sorted = true;

	if (v == NULL)
		return NULL;
	copy = JLArenaAlloc(arena, (count ? count : 1) * sizeof(JLMember));
	if (copy == NULL)
		return NULL;
	for (i = 1; i < count && sorted; i++)
		if (JLCompareKeys(members[i - 1].key, members[i - 1].keylen,
						  members[i].key, members[i].keylen) >= 0)
			sorted = false;
	if (sorted)
	{
		if (count > 0)
			memcpy(copy, members, count * sizeof(JLMember));
		n = count;
	}
	else
	{
		JLTaggedMember *t = JLArenaAlloc(arena, count * sizeof(JLTaggedMember));

		if (t == NULL)
			return NULL;
		for (i = 0; i < count; i++)
		{
			t[i].m = members[i];
			t[i].pos = i;
		}
		qsort(t, count, sizeof(JLTaggedMember), JLTaggedMemberCmp);
		/* equal keys are adjacent in input order: keep the last */
		for (i = 0; i < count; i++)
		{
			if (n > 0 && JLCompareKeys(copy[n - 1].key, copy[n - 1].keylen,
									   t[i].m.key, t[i].m.keylen) == 0)
				copy[n - 1] = t[i].m;
			else
				copy[n++] = t[i].m;
		}
	}
	v->type = JL_OBJECT;
	v->u.object.members = copy;
	v->u.object.count = n;
	return v;
}

/*
 * JLMakeArray builds an array value; the items array is referenced, not
 * copied.
 */
JLValue *
JLMakeArray(JLArena *arena, const JLValue **items, size_t count)
{
	JLValue    *v = JLArenaAlloc(arena, sizeof(JLValue));

	if (v == NULL)
		return NULL;
	v->type = JL_ARRAY;
	v->u.array.items = items;
	v->u.array.count = count;
	return v;
}

/*
 * JLObjectGet finds a member by key with a binary search; NULL if absent
 * or if object is not an object.
 */
const JLValue *
JLObjectGet(const JLValue *object, const char *key, size_t keylen)
{
	size_t		lo = 0;
	size_t		hi;

	if (object == NULL || object->type != JL_OBJECT)
		return NULL;
	hi = object->u.object.count;
	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;
		const JLMember *m = &object->u.object.members[mid];
		int			c = JLCompareKeys(m->key, m->keylen, key, keylen);

		if (c == 0)
			return m->value;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * JLTruthy implements jsonlogic.com truthiness: false, 0, NaN, "", null
 * and [] are falsy; everything else (including {} and "0") is truthy.
 */
bool
JLTruthy(const JLValue *v)
{
	if (v == NULL)
		return false;
	switch (v->type)
	{
		case JL_NULL:
			return false;
		case JL_BOOL:
			return v->u.boolean;
		case JL_NUMBER:
			return v->u.number != 0 && !isnan(v->u.number);
		case JL_STRING:
			return v->u.string.len > 0;
		case JL_ARRAY:
			return v->u.array.count > 0;
		case JL_OBJECT:
			return true;
	}
	return false;
}

/*
 * JLEqualDepth is JLEqual with a recursion bound.
 */
static bool
JLEqualDepth(const JLValue *a, const JLValue *b, int depth)
{
	size_t		i;

	if (a == b)
		return true;
	if (a == NULL || b == NULL || a->type != b->type || depth > 10000)
		return false;
	switch (a->type)
	{
		case JL_NULL:
			return true;
		case JL_BOOL:
			return a->u.boolean == b->u.boolean;
		case JL_NUMBER:
			return a->u.number == b->u.number;
		case JL_STRING:
			return a->u.string.len == b->u.string.len &&
				JLBytesEqual(a->u.string.ptr, b->u.string.ptr, a->u.string.len);
		case JL_ARRAY:
			if (a->u.array.count != b->u.array.count)
				return false;
			for (i = 0; i < a->u.array.count; i++)
				if (!JLEqualDepth(a->u.array.items[i], b->u.array.items[i], depth + 1))
					return false;
			return true;
		case JL_OBJECT:
			if (a->u.object.count != b->u.object.count)
				return false;
			for (i = 0; i < a->u.object.count; i++)
			{
				const JLMember *ma = &a->u.object.members[i];
				const JLMember *mb = &b->u.object.members[i];

				if (JLCompareKeys(ma->key, ma->keylen, mb->key, mb->keylen) != 0 ||
					!JLEqualDepth(ma->value, mb->value, depth + 1))
					return false;
			}
			return true;
	}
	return false;
}

/*
 * JLEqual compares two JSON values deeply (numbers by value, objects
 * independent of member order).
 */
bool
JLEqual(const JLValue *a, const JLValue *b)
{
	return JLEqualDepth(a, b, 0);
}

/*
 * JLTypeName names a value's JSON type for messages.
 */
const char *
JLTypeName(const JLValue *v)
{
	return v == NULL ? "missing" : JLTypeNameOf(v->type);
}

/*
 * JLTypeNameOf names a JSON type the way messages spell it.
 */
const char *
JLTypeNameOf(JLType type)
{
	switch (type)
	{
		case JL_NULL:
			return "null";
		case JL_BOOL:
			return "boolean";
		case JL_NUMBER:
			return "number";
		case JL_STRING:
			return "string";
		case JL_ARRAY:
			return "array";
		case JL_OBJECT:
			return "object";
	}
	return "unknown";
}

/*
 * JLFormatNumber writes n as JavaScript's Number::toString does (shortest
 * digits that round-trip; exponent form below 1e-6 and from 1e21) into
 * buf, which must hold 32 bytes.  Returns the length.
 */
int
JLFormatNumber(double n, char *buf)
{
	char		tmp[40];
	char		digits[20];
	int			ndigits = 0;
	int			exp10;
	int			prec;
	int			len = 0;
	char	   *p;
	int			point;

	if (isnan(n))
		return sprintf(buf, "NaN");
	if (isinf(n))
		return sprintf(buf, n < 0 ? "-Infinity" : "Infinity");
	if (n == 0)
		return sprintf(buf, "0");
	/* integers below 2^53 print exactly; larger ones need shortest digits */
	if (n == floor(n) && fabs(n) < 9007199254740992.0)
		return sprintf(buf, "%.0f", n);

	/* shortest round-trip precision */
	for (prec = 1; prec <= 17; prec++)
	{
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, n);
		if (strtod(tmp, NULL) == n)
			break;
	}
	/* tmp = [-]d[.ddd]e[+-]xx */
	p = tmp;
	if (*p == '-')
	{
		buf[len++] = '-';
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[ndigits++] = *p;
	exp10 = atoi(p + 1);
	while (ndigits > 1 && digits[ndigits - 1] == '0')
		ndigits--;
	point = exp10 + 1;			/* position of the decimal point */

	if (point >= ndigits && point <= 21)
	{
		memcpy(buf + len, digits, ndigits);
		len += ndigits;
		for (; point > ndigits; point--)
			buf[len++] = '0';
	}
	else if (point > 0 && point <= 21)
	{
		memcpy(buf + len, digits, point);
		len += point;
		buf[len++] = '.';
		memcpy(buf + len, digits + point, ndigits - point);
		len += ndigits - point;
	}
	else if (point > -6 && point <= 0)
	{
		buf[len++] = '0';
		buf[len++] = '.';
		for (; point < 0; point++)
			buf[len++] = '0';
		memcpy(buf + len, digits, ndigits);
		len += ndigits;
	}
	else
	{
		buf[len++] = digits[0];
		if (ndigits > 1)
		{
			buf[len++] = '.';
			memcpy(buf + len, digits + 1, ndigits - 1);
			len += ndigits - 1;
		}
		len += sprintf(buf + len, "e%c%d", exp10 < 0 ? '-' : '+',
					   exp10 < 0 ? -exp10 : exp10);
	}
	buf[len] = '\0';
	return len;
}

/*
 * JLIsSpace recognises the whitespace JavaScript trims before converting a
 * string to a number (ASCII whitespace, NBSP, BOM and the line separators;
 * the rarer Unicode space separators are not recognised).  Returns the
 * byte length of the whitespace character at s, or 0.
 */
static size_t
JLIsSpace(const unsigned char *s, size_t len)
{
	if (len >= 1 && (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')))
		return 1;
	if (len >= 2 && s[0] == 0xC2 && s[1] == 0xA0)
		return 2;
	if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
		return 3;
	if (len >= 3 && s[0] == 0xE2 && s[1] == 0x80 && (s[2] == 0xA8 || s[2] == 0xA9))
		return 3;
	return 0;
}

/*
 * JLScanDecimal returns the length of the longest prefix of s that is a
 * JavaScript StrUnsignedDecimalLiteral (digits, optional fraction,
 * optional exponent), 0 if none.
 */
static size_t
JLScanDecimal(const char *s, size_t len)
{
	size_t		i = 0;
	size_t		intdigits = 0;
	size_t		fracdigits = 0;
	size_t		end;

	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++, intdigits++;
	if (i < len && s[i] == '.')
	{
		size_t		j = i + 1;

		while (j < len && s[j] >= '0' && s[j] <= '9')
			j++, fracdigits++;
		if (intdigits > 0 || fracdigits > 0)
			i = j;
	}
	if (intdigits == 0 && fracdigits == 0)
		return 0;
	end = i;
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		size_t		j = i + 1;

		if (j < len && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j < len && s[j] >= '0' && s[j] <= '9')
		{
			while (j < len && s[j] >= '0' && s[j] <= '9')
				j++;
			end = j;
		}
	}
	return end;
}

/*
 * JLStrtodN converts exactly len bytes of a validated decimal literal
 * (digits, optional fraction, optional exponent; no sign) without
 * allocating.  Literals too long for the stack buffer are reduced to 800
 * significant digits plus a sticky digit standing for any non-zero digit
 * dropped, which keeps the rounding of strtod exact (a double needs at most
 * 767 significant digits to round correctly).
 */
static double
JLStrtodN(const char *s, size_t len)
{
	char		buf[1100];
	size_t		i;
	int			nd = 0;
	long		exp10 = 0;
	long		e = 0;
	bool		in_frac = false;
	bool		seen_nonzero = false;
	bool		sticky = false;

	if (len < sizeof(buf))
	{
		memcpy(buf, s, len);
		buf[len] = '\0';
		return strtod(buf, NULL);
	}
	for (i = 0; i < len && s[i] != 'e' && s[i] != 'E'; i++)
	{
		if (s[i] == '.')
		{
			in_frac = true;
			continue;
		}
		if (!seen_nonzero && s[i] == '0')
		{
			if (in_frac)
				exp10--;
			continue;
		}
		seen_nonzero = true;
		if (nd < 800)
		{
			buf[nd++] = s[i];
			if (in_frac)
				exp10--;
		}
		else
		{
			if (s[i] != '0')
				sticky = true;
			if (!in_frac)
				exp10++;
		}
	}
	if (nd == 0)
		return 0;
	if (i < len)
	{
		bool		neg = false;

		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			neg = s[i++] == '-';
		for (; i < len; i++)
			if (e < 1000000)
				e = e * 10 + (s[i] - '0');
		exp10 += neg ? -e : e;
	}
	if (sticky)
	{
		buf[nd++] = '1';
		exp10--;
	}
	snprintf(buf + nd, sizeof(buf) - nd, "e%ld", exp10);
	return strtod(buf, NULL);
}

/*
 * JLStringToNumber implements JavaScript's ToNumber for strings: trimmed,
 * empty -> 0, decimal literal, Infinity, 0x/0o/0b integers; anything else
 * is NaN.
 */
double
JLStringToNumber(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *) s;
	size_t		w;
	double		sign = 1;
	size_t		n;

	while (len > 0 && (w = JLIsSpace(u, len)) > 0)
		u += w, len -= w;
	/* trim the end */
	while (len > 0)
	{
		size_t		k;
		bool		trimmed = false;

		for (k = 1; k <= 3 && k <= len; k++)
			if (JLIsSpace(u + len - k, k) == k)
			{
				len -= k;
				trimmed = true;
				break;
			}
		if (!trimmed)
			break;
	}
	s = (const char *) u;
	if (len == 0)
		return 0;
	if (len > 2 && s[0] == '0' && strchr("xXoObB", s[1]) != NULL)
	{
		int			base = (s[1] == 'x' || s[1] == 'X') ? 16 :
			(s[1] == 'o' || s[1] == 'O') ? 8 : 2;
		double		r = 0;
		size_t		i;

		for (i = 2; i < len; i++)
		{
			int			d;

			if (s[i] >= '0' && s[i] <= '9')
				d = s[i] - '0';
			else if (s[i] >= 'a' && s[i] <= 'f')
				d = s[i] - 'a' + 10;
			else if (s[i] >= 'A' && s[i] <= 'F')
				d = s[i] - 'A' + 10;
			else
				return NAN;
			if (d >= base)
				return NAN;
			r = r * base + d;
		}
		return r;
	}
	if (s[0] == '+' || s[0] == '-')
	{
		sign = s[0] == '-' ? -1 : 1;
		s++, len--;
	}
	if (len == 8 && memcmp(s, "Infinity", 8) == 0)
		return sign * INFINITY;
	n = JLScanDecimal(s, len);
	if (n == 0 || n != len)
		return NAN;
	return sign * JLStrtodN(s, n);
}

/*
 * JLParseFloatString implements JavaScript's parseFloat on a string: the
 * longest decimal prefix after leading whitespace, or NaN.
 */
static double
JLParseFloatString(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *) s;
	size_t		w;
	double		sign = 1;
	size_t		n;

	while (len > 0 && (w = JLIsSpace(u, len)) > 0)
		u += w, len -= w;
	s = (const char *) u;
	if (len > 0 && (s[0] == '+' || s[0] == '-'))
	{
		sign = s[0] == '-' ? -1 : 1;
		s++, len--;
	}
	if (len >= 8 && memcmp(s, "Infinity", 8) == 0)
		return sign * INFINITY;
	n = JLScanDecimal(s, len);
	if (n == 0)
		return NAN;
	return sign * JLStrtodN(s, n);
}

/*
 * JLToStringValue renders v as JavaScript's String() would, in the arena;
 * used for arrays (ToPrimitive joins the elements).
 */
static bool
JLToStringValue(JLArena *arena, const JLValue *v, const char **s, size_t *len)
{
	JLBuf		buf;

	if (v->type == JL_STRING)
	{
		*s = v->u.string.ptr;
		*len = v->u.string.len;
		return true;
	}
	JLBufInit(&buf, arena, 32);
	JLAppendString(&buf, v, false, 0);
	if (buf.failed)
		return false;
	*s = buf.data;
	*len = buf.len;
	return true;
}

/*
 * JLArrayToNumber converts an array via its joined string form without an
 * arena: only [] (-> 0) and single-element arrays can yield a number.
 */
static double
JLArrayToNumber(const JLValue *v, int depth)
{
	const JLValue *e;

	if (v->u.array.count == 0)
		return 0;
	if (v->u.array.count > 1 || depth > 64)
		return NAN;				/* "a,b" is never numeric */
	e = v->u.array.items[0];
	switch (e->type)
	{
		case JL_NULL:
			return 0;			/* [null] joins to "" */
		case JL_BOOL:
			return NAN;			/* "true" / "false" */
		case JL_NUMBER:
			return e->u.number;
		case JL_STRING:
			return JLStringToNumber(e->u.string.ptr, e->u.string.len);
		case JL_ARRAY:
			return JLArrayToNumber(e, depth + 1);
		case JL_OBJECT:
			return NAN;
	}
	return NAN;
}

/*
 * JLToNumber implements JavaScript's ToNumber for JSON values (null -> 0,
 * booleans -> 0/1, strings parsed strictly, arrays via their string form,
 * objects NaN).
 */
double
JLToNumber(const JLValue *v)
{
	if (v == NULL)
		return NAN;				/* undefined */
	switch (v->type)
	{
		case JL_NULL:
			return 0;
		case JL_BOOL:
			return v->u.boolean ? 1 : 0;
		case JL_NUMBER:
			return v->u.number;
		case JL_STRING:
			return JLStringToNumber(v->u.string.ptr, v->u.string.len);
		case JL_ARRAY:
			return JLArrayToNumber(v, 0);
		case JL_OBJECT:
			return NAN;
	}
	return NAN;
}

/*
 * JLParseFloat implements parseFloat(String(v)) as json-logic-js's + and *
 * use it: numbers pass, strings parse their prefix, null/booleans/objects
 * are NaN, arrays use their first element's string form.
 */
double
JLParseFloat(const JLValue *v)
{
	if (v == NULL)
		return NAN;
	switch (v->type)
	{
		case JL_NUMBER:
			return v->u.number;
		case JL_STRING:
			return JLParseFloatString(v->u.string.ptr, v->u.string.len);
		case JL_ARRAY:
			{
				/* String([a, b]) = "a,b": parseFloat reads the first element */
				const JLValue *e;
				int			guard = 0;

				while (v->type == JL_ARRAY && guard++ < 64)
				{
					if (v->u.array.count == 0)
						return NAN;
					v = v->u.array.items[0];
				}
				e = v;
				if (e->type == JL_NUMBER)
					return e->u.number;
				if (e->type == JL_STRING)
					return JLParseFloatString(e->u.string.ptr, e->u.string.len);
				return NAN;
			}
		default:
			return NAN;
	}
}

/*
 * JLAppendString appends JavaScript's String(v) to buf.  With
 * null_as_empty, null renders as "" (as Array.prototype.join does, and as
 * nested array elements always do).
 */
void
JLAppendString(JLBuf *buf, const JLValue *v, bool null_as_empty, int depth)
{
	char		num[32];
	int			n;
	size_t		i;

	if (v == NULL)
		return;
	switch (v->type)
	{
		case JL_NULL:
			if (!null_as_empty)
				JLBufAppend(buf, "null", 4);
			break;
		case JL_BOOL:
			if (v->u.boolean)
				JLBufAppend(buf, "true", 4);
			else
				JLBufAppend(buf, "false", 5);
			break;
		case JL_NUMBER:
			n = JLFormatNumber(v->u.number, num);
			JLBufAppend(buf, num, n);
			break;
		case JL_STRING:
			JLBufAppend(buf, v->u.string.ptr, v->u.string.len);
			break;
		case JL_ARRAY:
			if (depth >= JL_TOSTRING_MAX_DEPTH)
				break;
			for (i = 0; i < v->u.array.count; i++)
			{
				if (i > 0)
					JLBufAppendChar(buf, ',');
				JLAppendString(buf, v->u.array.items[i], true, depth + 1);
			}
			break;
		case JL_OBJECT:
			JLBufAppend(buf, "[object Object]", 15);
			break;
	}
}

/*
 * JLLooseEqualDepth implements JavaScript's == on JSON values.
 */
static bool
JLLooseEqualDepth(const JLValue *a, const JLValue *b, int depth, JLArena *arena)
{
	if (a == NULL || b == NULL)
	{
		/* a missing argument is undefined: == only to undefined and null */
		const JLValue *other = a ? a : b;

		return other == NULL || other->type == JL_NULL;
	}
	if (depth > 8)
		return false;
	if (a->type == b->type)
		return JLStrictEqual(a, b);
	if (a->type == JL_NULL || b->type == JL_NULL)
		return false;
	if (a->type == JL_NUMBER && b->type == JL_STRING)
		return a->u.number == JLStringToNumber(b->u.string.ptr, b->u.string.len);
	if (a->type == JL_STRING && b->type == JL_NUMBER)
		return b->u.number == JLStringToNumber(a->u.string.ptr, a->u.string.len);
	if (a->type == JL_BOOL)
	{
		JLValue		n = {JL_NUMBER, {.number = a->u.boolean ? 1 : 0}};

		return JLLooseEqualDepth(&n, b, depth + 1, arena);
	}
	if (b->type == JL_BOOL)
	{
		JLValue		n = {JL_NUMBER, {.number = b->u.boolean ? 1 : 0}};

		return JLLooseEqualDepth(a, &n, depth + 1, arena);
	}
	/* array/object against string/number: compare their primitive form */
	if ((a->type == JL_ARRAY || a->type == JL_OBJECT) &&
		(b->type == JL_STRING || b->type == JL_NUMBER))
	{
		const JLValue *t = a;

		a = b;
		b = t;
	}
	if ((b->type == JL_ARRAY || b->type == JL_OBJECT) &&
		(a->type == JL_STRING || a->type == JL_NUMBER))
	{
		if (b->type == JL_OBJECT)
		{
			static const char objstr[] = "[object Object]";

			if (a->type == JL_STRING)
				return a->u.string.len == 15 &&
					memcmp(a->u.string.ptr, objstr, 15) == 0;
			return false;		/* NaN */
		}
		if (a->type == JL_NUMBER)
			return a->u.number == JLArrayToNumber(b, 0);
		else
		{
			/* string vs array: compare with the joined string */
			const char *s;
			size_t		len;

			if (!JLToStringValue(arena, b, &s, &len))
				return false;
			return len == a->u.string.len &&
				(len == 0 || memcmp(s, a->u.string.ptr, len) == 0);
		}
	}
	/* array vs object: distinct objects */
	return false;
}

/*
 * JLLooseEqual implements JavaScript's == (abstract equality) on JSON
 * values; arrays and objects compare by content.
 */
bool
JLLooseEqual(const JLValue *a, const JLValue *b, JLArena *arena)
{
	return JLLooseEqualDepth(a, b, 0, arena);
}

/*
 * JLStrictEqual implements === (same type and value; containers by
 * content).
 */
bool
JLStrictEqual(const JLValue *a, const JLValue *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->type != b->type)
		return false;
	if (a->type == JL_NUMBER)
		return a->u.number == b->u.number;
	/* strings, the common case, without the generic deep comparison */
	if (a->type == JL_STRING)
		return a->u.string.len == b->u.string.len &&
			JLBytesEqual(a->u.string.ptr, b->u.string.ptr, a->u.string.len);
	return JLEqual(a, b);
}

/*
 * JLLessThan implements JavaScript's relational comparison a < b (or
 * a <= b): two strings (or values whose primitive form is a string)
 * compare bytewise, everything else numerically; NaN makes it false.
 */
bool
JLLessThan(const JLValue *a, const JLValue *b, bool or_equal, JLArena *arena)
{
	double		x;
	double		y;
	bool		astr;
	bool		bstr;

	if (a == NULL || b == NULL)
		return false;
	astr = a->type == JL_STRING || a->type == JL_ARRAY || a->type == JL_OBJECT;
	bstr = b->type == JL_STRING || b->type == JL_ARRAY || b->type == JL_OBJECT;
	if (a->type == JL_STRING && b->type == JL_STRING)
	{
		int			c = JLCompareBytes(a->u.string.ptr, a->u.string.len,
									   b->u.string.ptr, b->u.string.len);

		return or_equal ? c <= 0 : c < 0;
	}
	if (astr && bstr)
	{
		/* at least one container: compare primitive string forms */
		const char *s1,
				   *s2;
		size_t		l1,
					l2;
		int			c;

		if (!JLToStringValue(arena, a, &s1, &l1) ||
			!JLToStringValue(arena, b, &s2, &l2))
			return false;
		c = JLCompareBytes(s1, l1, s2, l2);
		return or_equal ? c <= 0 : c < 0;
	}
	x = JLToNumber(a);
	y = JLToNumber(b);
	if (isnan(x) || isnan(y))
		return false;
	return or_equal ? x <= y : x < y;
}

/*
 * JLUtf8Clip returns how many bytes of s (len bytes of UTF-8) to show in a
 * message of at most max bytes, without cutting a character in two.
 */
int
JLUtf8Clip(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return (int) len;
	while (max > 0 && (((unsigned char) s[max]) & 0xC0) == 0x80)
		max--;
	return (int) max;
}

/*
 * JLUtf8TrimTail returns len, or less when s (len bytes of UTF-8, cut by a
 * buffer) ends inside a character: the length without that partial
 * character.
 */
size_t
JLUtf8TrimTail(const char *s, size_t len)
{
	size_t		i = len;
	size_t		cont = 0;
	unsigned char lead;
	size_t		need;

	while (i > 0 && cont < 4 && (((unsigned char) s[i - 1]) & 0xC0) == 0x80)
	{
		i--;
		cont++;
	}
	if (i == 0)
		return len;
	lead = (unsigned char) s[i - 1];
	need = lead < 0x80 ? 1 : (lead & 0xE0) == 0xC0 ? 2 :
		(lead & 0xF0) == 0xE0 ? 3 : (lead & 0xF8) == 0xF0 ? 4 : 1;
	return cont + 1 < need ? i - 1 : len;
}
