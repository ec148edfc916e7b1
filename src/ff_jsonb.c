/*-------------------------------------------------------------------------
 *
 * ff_jsonb.c
 *	  jsonb <-> JLValue conversions and the jsonb-backed evaluation context.
 *
 * Rules and variant values are converted once per compile, into the arena
 * of the cache generation.  Evaluation contexts are never converted as a
 * whole: the lookup callback walks the jsonb container one path segment at
 * a time (getKeyJsonValueFromContainer for objects, numeric segments index
 * arrays) and converts only the leaf it reaches, into the per-call scratch
 * arena.  Numbers take a fast path that reads the numeric's base-10000
 * digits directly when the conversion to double is exact, instead of the
 * numeric -> text -> double round trip.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_jsonb.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#include "ff_jsonb.h"

/* ---------------------------------------------------------------------
 * Arenas over palloc
 * --------------------------------------------------------------------- */

/*
 * FFArenaAlloc hands a chunk of the arena's memory context to the core.
 * palloc raises ERROR instead of returning NULL; the core allows that.
 */
static void *
FFArenaAlloc(void *ctx, size_t size)
{
	return MemoryContextAllocExtended((MemoryContext) ctx, size,
									  MCXT_ALLOC_HUGE);
}

/*
 * FFArenaRelease gives a chunk back to its memory context.
 */
static void
FFArenaRelease(void *ctx, void *ptr)
{
	pfree(ptr);
}

/*
 * FFArenaCreate creates a JLArena whose chunks live in memory context cxt;
 * deleting cxt frees the arena with everything in it.
 */
JLArena *
FFArenaCreate(MemoryContext cxt)
{
	JLAllocator *allocator;
	JLArena    *arena;

	allocator = MemoryContextAllocZero(cxt, sizeof(JLAllocator));
	allocator->alloc = FFArenaAlloc;
	allocator->release = FFArenaRelease;
	allocator->ctx = cxt;
	arena = JLArenaCreate(allocator);
	if (arena == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Could not create a JSON Logic arena.")));
	return arena;
}

/*
 * FFArenaAllocBudget is FFArenaAlloc with a ceiling: once the arena's
 * context holds limit bytes it returns NULL, which the core reports as
 * JL_ERR_OUT_OF_MEMORY, instead of letting one evaluation (say, a reduce
 * that merges its accumulator into a new array at every step) grow the
 * backend until the operating system kills it.
 */
static void *
FFArenaAllocBudget(void *ctx, size_t size)
{
	FFArenaBudget *budget = (FFArenaBudget *) ctx;

	if (size > budget->limit ||
		MemoryContextMemAllocated(budget->cxt, false) > budget->limit - size)
	{
		budget->exhausted = true;
		return NULL;
	}
	return MemoryContextAllocExtended(budget->cxt, size, MCXT_ALLOC_HUGE);
}

/*
 * FFArenaReleaseBudget gives a chunk of a budgeted arena back.
 */
static void
FFArenaReleaseBudget(void *ctx, void *ptr)
{
	pfree(ptr);
}

/*
 * FFArenaCreateBudget creates a JLArena in memory context budget->cxt whose
 * allocations fail (NULL, not ERROR) once that context holds budget->limit
 * bytes.  The budget must live as long as the arena; its limit is read at
 * every allocation.
 */
JLArena *
FFArenaCreateBudget(FFArenaBudget *budget)
{
	JLAllocator *allocator;
	JLArena    *arena;

	allocator = MemoryContextAllocZero(budget->cxt, sizeof(JLAllocator));
	allocator->alloc = FFArenaAllocBudget;
	allocator->release = FFArenaReleaseBudget;
	allocator->ctx = budget;
	arena = JLArenaCreate(allocator);
	if (arena == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Could not create a JSON Logic arena.")));
	return arena;
}

/*
 * FFArenaFail raises the ERROR of a failed arena allocation (out of line:
 * the recursive conversions keep small frames).
 */
static pg_noinline pg_attribute_noreturn() void
FFArenaFail(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("out of memory"),
			 errdetail("A JSON Logic evaluation may use at most %d MB.",
					   FF_SCRATCH_LIMIT_MB)));
}

/*
 * FFArenaCheck raises ERROR if an arena allocation failed.
 */
static inline void *
FFArenaCheck(void *p)
{
	if (unlikely(p == NULL))
		FFArenaFail();
	return p;
}

/*
 * FFConvert is how one jsonb -> JLValue conversion runs and what it ran
 * into.  Rules and variants raise an ERROR for a value they cannot
 * convert; a context lookup records it instead, and the evaluation then
 * ends with an error result (one pointer for all of it keeps the frames of
 * the recursion small: it descends 10,000 levels within the default stack).
 */
typedef struct FFConvert
{
	bool		copy;			/* copy strings into the arena */
	bool		deep_is_error;	/* raise for a value beyond FF_MAX_JSON_DEPTH */
	bool		memory_is_error;	/* raise when the arena's budget runs out */
	bool		too_deep;		/* recorded instead */
	bool		no_memory;		/* recorded instead */
} FFConvert;

/*
 * FFConvertCheck returns p; a failed arena allocation (NULL) is raised, or
 * recorded in cv->no_memory.
 */
static inline void *
FFConvertCheck(void *p, FFConvert *cv)
{
	if (unlikely(p == NULL))
	{
		if (cv->memory_is_error)
			return FFArenaCheck(p);
		cv->no_memory = true;
	}
	return p;
}


/* ---------------------------------------------------------------------
 * numeric -> double
 * --------------------------------------------------------------------- */

/*
 * Layout of the on-disk numeric format (numeric.c keeps these private, but
 * the format is part of every stored jsonb document and cannot change).
 */
#define FF_NUMERIC_SIGN_MASK	0xC000
#define FF_NUMERIC_NEG			0x4000
#define FF_NUMERIC_SHORT		0x8000
#define FF_NUMERIC_SPECIAL		0xC000
#define FF_NUMERIC_SHORT_SIGN_MASK			0x2000
#define FF_NUMERIC_SHORT_WEIGHT_SIGN_MASK	0x0040
#define FF_NUMERIC_SHORT_WEIGHT_MASK		0x003F
#define FF_NBASE_DIGITS			4

/* exact powers of ten representable in a double */
static const double FFPow10[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/*
 * FFNumericToDoubleFast converts a numeric whose digits fit an exactly
 * representable mantissa (< 2^53) and whose decimal exponent is within
 * +-22: one IEEE multiplication or division of exact operands is then
 * correctly rounded, i.e. the same double strtod would produce.  Returns
 * false when the slow path is needed.
 */
static bool
FFNumericToDoubleFast(Numeric num, double *out)
{
	const char *base = (const char *) num;
	uint16		header;
	bool		neg;
	int			weight;
	const int16 *digits;
	int			ndigits;
	int64		mantissa = 0;
	int			exp10;
	int			i;

	if (VARATT_IS_EXTENDED(num))
		return false;
	memcpy(&header, base + VARHDRSZ, sizeof(uint16));
	if ((header & FF_NUMERIC_SIGN_MASK) == FF_NUMERIC_SPECIAL)
		return false;
	if ((header & FF_NUMERIC_SIGN_MASK) == FF_NUMERIC_SHORT)
	{
		neg = (header & FF_NUMERIC_SHORT_SIGN_MASK) != 0;
		weight = header & FF_NUMERIC_SHORT_WEIGHT_MASK;
		if (header & FF_NUMERIC_SHORT_WEIGHT_SIGN_MASK)
			weight |= ~FF_NUMERIC_SHORT_WEIGHT_MASK;
		digits = (const int16 *) (base + VARHDRSZ + sizeof(uint16));
		ndigits = (VARSIZE(num) - VARHDRSZ - sizeof(uint16)) / sizeof(int16);
	}
	else
	{
		int16		w;

		neg = (header & FF_NUMERIC_SIGN_MASK) == FF_NUMERIC_NEG;
		memcpy(&w, base + VARHDRSZ + sizeof(uint16), sizeof(int16));
		weight = w;
		digits = (const int16 *) (base + VARHDRSZ + 2 * sizeof(uint16));
		ndigits = (VARSIZE(num) - VARHDRSZ - 2 * sizeof(uint16)) / sizeof(int16);
	}

	if (ndigits == 0)
	{
		*out = 0.0;
		return true;
	}
	if (ndigits > 4)
		return false;
	for (i = 0; i < ndigits; i++)
		mantissa = mantissa * 10000 + digits[i];
	if (mantissa >= (INT64CONST(1) << 53))
		return false;
	exp10 = FF_NBASE_DIGITS * (weight - ndigits + 1);
	if (exp10 > 22 || exp10 < -22)
		return false;
	if (exp10 >= 0)
		*out = (double) mantissa * FFPow10[exp10];
	else
		*out = (double) mantissa / FFPow10[-exp10];
	if (neg)
		*out = -*out;
	return true;
}

/*
 * FFNumericToDouble converts a numeric to a double: exactly and without
 * allocation on the fast path, else through numeric_out and strtod
 * (overflow yields +-Infinity, as JavaScript would).
 */
double
FFNumericToDouble(Numeric num)
{
	double		d;
	char	   *s;

	if (FFNumericToDoubleFast(num, &d))
		return d;
	if (numeric_is_nan(num))
		return NAN;
	s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	d = strtod(s, NULL);
	pfree(s);
	return d;
}

/*
 * FFDoubleToNumeric converts a finite double to a numeric: integers
 * directly, other values through their shortest round-trip decimal form
 * (the digits JavaScript would print).
 */
static Numeric
FFDoubleToNumeric(double d)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (d == floor(d) && d > -9.2e18 && d < 9.2e18)
		return int64_to_numeric((int64) d);
	double_to_shortest_decimal_buf(d, buf);
	return DatumGetNumeric(DirectFunctionCall3(numeric_in,
											   CStringGetDatum(buf),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

/* ---------------------------------------------------------------------
 * jsonb -> JLValue
 * --------------------------------------------------------------------- */

static const JLValue *FFContainerToJL(JLArena *arena, JsonbContainer *jc,
									  int depth, FFConvert *cv);

/*
 * FFJsonbValueToJLDepth converts one JsonbValue (scalar or binary
 * container) found at nesting level depth.  Out of arena memory, it
 * raises an ERROR or returns NULL with cv->no_memory set.
 */
static const JLValue *
FFJsonbValueToJLDepth(JLArena *arena, JsonbValue *jbv, int depth, FFConvert *cv)
{
	switch (jbv->type)
	{
		case jbvNull:
			return &JLNullValue;
		case jbvBool:
			return jbv->val.boolean ? &JLTrueValue : &JLFalseValue;
		case jbvNumeric:
			return FFConvertCheck(JLMakeNumber(arena,
											   FFNumericToDouble(jbv->val.numeric)),
								  cv);
		case jbvString:
			return FFConvertCheck(JLMakeString(arena, jbv->val.string.val,
											   jbv->val.string.len, cv->copy),
								  cv);
		case jbvBinary:
			return FFContainerToJL(arena, jbv->val.binary.data, depth, cv);
		default:
			/* jbvObject/jbvArray/jbvDatetime never come out of a container */
			elog(ERROR, "unexpected jsonb value type %d", (int) jbv->type);
	}
	return NULL;				/* keep compiler quiet */
}

/*
 * FFTooDeep records a container nested beyond FF_MAX_JSON_DEPTH: in
 * cv->too_deep, or as an ERROR.
 */
static const JLValue *
FFTooDeep(FFConvert *cv)
{
	if (cv->deep_is_error)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("JSON value nests deeper than %d levels", FF_MAX_JSON_DEPTH),
				 errhint("Flatten the JSON document.")));
	cv->too_deep = true;
	return &JLNullValue;
}

/*
 * FFContainerToJL converts a whole jsonb container at nesting level depth,
 * recursively.  Object members come out of jsonb already sorted by
 * (length, bytes).  A container beyond FF_MAX_JSON_DEPTH becomes null.
 */
static const JLValue *
FFContainerToJL(JLArena *arena, JsonbContainer *jc, int depth, FFConvert *cv)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	size_t		count = JsonContainerSize(jc);
	size_t		n = 0;

	check_stack_depth();

	if (JsonContainerIsScalar(jc))
	{
		JsonbValue	scalar;

		if (!JsonbExtractScalar(jc, &scalar))
			elog(ERROR, "could not extract jsonb scalar");
		return FFJsonbValueToJLDepth(arena, &scalar, depth, cv);
	}
	if (depth >= FF_MAX_JSON_DEPTH)
		return FFTooDeep(cv);

	it = JsonbIteratorInit(jc);
	if (JsonContainerIsObject(jc))
	{
		JLMember   *members;
		const char *key = NULL;
		size_t		keylen = 0;

		members = FFConvertCheck(JLArenaAlloc(arena, Max(count, 1) * sizeof(JLMember)),
								 cv);
		if (members == NULL)
			return NULL;
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			CHECK_FOR_INTERRUPTS();
			if (tok == WJB_KEY)
			{
				if (cv->copy)
				{
					char	   *k = FFConvertCheck(JLArenaAlloc(arena, v.val.string.len + 1),
												   cv);

					if (k == NULL)
						return NULL;
					memcpy(k, v.val.string.val, v.val.string.len);
					k[v.val.string.len] = '\0';
					key = k;
				}
				else
					key = v.val.string.val;
				keylen = v.val.string.len;
			}
			else if (tok == WJB_VALUE && n < count)
			{
				members[n].key = key;
				members[n].keylen = keylen;
				members[n].value = FFJsonbValueToJLDepth(arena, &v, depth + 1, cv);
				if (members[n].value == NULL)
					return NULL;
				n++;
			}
		}
		return FFConvertCheck(JLMakeObject(arena, members, n), cv);
	}
	else
	{
		const JLValue **items;

		items = FFConvertCheck(JLArenaAlloc(arena, Max(count, 1) * sizeof(JLValue *)),
							   cv);
		if (items == NULL)
			return NULL;
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			CHECK_FOR_INTERRUPTS();
			if (tok == WJB_ELEM && n < count)
			{
				items[n] = FFJsonbValueToJLDepth(arena, &v, depth + 1, cv);
				if (items[n++] == NULL)
					return NULL;
			}
		}
		return FFConvertCheck(JLMakeArray(arena, items, n), cv);
	}
}

/*
 * FFJsonbValueToJL converts one JsonbValue (scalar or binary container).
 */
const JLValue *
FFJsonbValueToJL(JLArena *arena, JsonbValue *jbv, bool copy, bool *too_deep)
{
	FFConvert	cv = {.copy = copy, .deep_is_error = (too_deep == NULL),
	.memory_is_error = true};
	const JLValue *v = FFJsonbValueToJLDepth(arena, jbv, 0, &cv);

	if (cv.too_deep)
		*too_deep = true;
	return v;
}

/*
 * FFJsonbToJL converts a whole jsonb document (rules, variant values).
 */
const JLValue *
FFJsonbToJL(JLArena *arena, Jsonb *jb, bool copy, bool *too_deep)
{
	FFConvert	cv = {.copy = copy, .deep_is_error = (too_deep == NULL),
	.memory_is_error = true};
	const JLValue *v = FFContainerToJL(arena, &jb->root, 0, &cv);

	if (cv.too_deep)
		*too_deep = true;
	return v;
}

/* ---------------------------------------------------------------------
 * JLValue -> jsonb
 * --------------------------------------------------------------------- */

/*
 * FFJLToJsonbScalar fills a scalar JsonbValue from a scalar JLValue.
 * Non-finite numbers become JSON null, as JSON.stringify does.
 */
void
FFJLToJsonbScalar(const JLValue *v, JsonbValue *out)
{
	switch (v->type)
	{
		case JL_BOOL:
			out->type = jbvBool;
			out->val.boolean = v->u.boolean;
			break;
		case JL_NUMBER:
			if (isnan(v->u.number) || isinf(v->u.number))
				out->type = jbvNull;
			else
			{
				out->type = jbvNumeric;
				out->val.numeric = FFDoubleToNumeric(v->u.number);
			}
			break;
		case JL_STRING:
			out->type = jbvString;
			out->val.string.val = (char *) v->u.string.ptr;
			out->val.string.len = (int) v->u.string.len;
			break;
		default:
			out->type = jbvNull;
			break;
	}
}

/*
 * FFPushJLDepth pushes v, found at nesting level depth, into a jsonb under
 * construction.  Returns what pushJsonbValue returned last.
 */
static JsonbValue *
FFPushJLDepth(JsonbParseState **state, JsonbIteratorToken tok,
			  const JLValue *v, int depth)
{
	JsonbValue	jbv;
	JsonbValue *res = NULL;
	size_t		i;

	check_stack_depth();
	if (depth >= FF_MAX_JSON_DEPTH &&
		(v->type == JL_ARRAY || v->type == JL_OBJECT))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("JSON value nests deeper than %d levels", FF_MAX_JSON_DEPTH),
				 errdetail("The value was computed by a JSON Logic rule (map, reduce or merge can nest arrays)."),
				 errhint("Change the rule so that it builds a flatter value.")));

	if (v->type == JL_ARRAY)
	{
		pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
		for (i = 0; i < v->u.array.count; i++)
		{
			CHECK_FOR_INTERRUPTS();
			FFPushJLDepth(state, WJB_ELEM, v->u.array.items[i], depth + 1);
		}
		return pushJsonbValue(state, WJB_END_ARRAY, NULL);
	}
	if (v->type == JL_OBJECT)
	{
		pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		for (i = 0; i < v->u.object.count; i++)
		{
			const JLMember *m = &v->u.object.members[i];

			CHECK_FOR_INTERRUPTS();
			jbv.type = jbvString;
			jbv.val.string.val = (char *) m->key;
			jbv.val.string.len = (int) m->keylen;
			pushJsonbValue(state, WJB_KEY, &jbv);
			FFPushJLDepth(state, WJB_VALUE, m->value, depth + 1);
		}
		return pushJsonbValue(state, WJB_END_OBJECT, NULL);
	}

	FFJLToJsonbScalar(v, &jbv);
	if (tok == 0)
	{
		/* a top-level scalar is a one-element raw scalar array */
		pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
		(*state)->contVal.val.array.rawScalar = true;
		pushJsonbValue(state, WJB_ELEM, &jbv);
		res = pushJsonbValue(state, WJB_END_ARRAY, NULL);
	}
	else
		res = pushJsonbValue(state, tok, &jbv);
	return res;
}

/*
 * FFPushJL pushes a JLValue into a jsonb under construction; tok is the
 * token the value takes in its parent (WJB_VALUE, WJB_ELEM) or 0 at the
 * top level.  Values nested deeper than FF_MAX_JSON_DEPTH raise an ERROR.
 */
JsonbValue *
FFPushJL(JsonbParseState **state, JsonbIteratorToken tok, const JLValue *v)
{
	return FFPushJLDepth(state, tok, v, 0);
}

/*
 * FFJLToJsonb builds a jsonb datum from a JLValue, in CurrentMemoryContext.
 */
Jsonb *
FFJLToJsonb(const JLValue *v)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;

	res = FFPushJL(&state, 0, v);
	return JsonbValueToJsonb(res);
}

/* ---------------------------------------------------------------------
 * The jsonb-backed evaluation context
 * --------------------------------------------------------------------- */

/*
 * FFParseIndex parses an array index path segment: decimal digits, no
 * sign, no leading zero (JavaScript's "01" is not an array index).
 */
static bool
FFParseIndex(const char *p, size_t len, uint32 *out)
{
	uint64		n = 0;
	size_t		i;

	if (len == 0 || len > 10 || (len > 1 && p[0] == '0'))
		return false;
	for (i = 0; i < len; i++)
	{
		if (p[i] < '0' || p[i] > '9')
			return false;
		n = n * 10 + (p[i] - '0');
	}
	if (n > PG_UINT32_MAX)
		return false;
	*out = (uint32) n;
	return true;
}

/* objects up to this many members are searched by one linear pass */
#define FF_LINEAR_KEYS 32

/*
 * FFObjectFind finds member key (keylen bytes) of object container jc by
 * reading its JEntry array directly: one pass over the key entries, which
 * jsonb keeps sorted by length first, so the scan stops at the first
 * longer key, and then over the entries up to the member's value, to learn
 * where the value starts.  No JsonbValue is filled and nothing is
 * allocated.  On success *entry is the value's JEntry, *data its first
 * byte and *len its length (the on-disk layout that fillJsonbValue reads).
 * Objects with more than FF_LINEAR_KEYS members return false with *large
 * set: the caller binary-searches them with getKeyJsonValueFromContainer.
 */
static pg_attribute_always_inline bool
FFObjectFind(JsonbContainer *jc, const char *key, uint32 keylen,
			 JEntry *entry, const char **data, uint32 *len, bool *large)
{
	uint32		n = JsonContainerSize(jc);
	const JEntry *children = jc->children;
	const char *base = (const char *) (children + n * 2);
	uint32		off = 0;
	uint32		end;
	uint32		i;
	uint32		j;

	*large = false;
	if (n > FF_LINEAR_KEYS)
	{
		*large = true;
		return false;
	}
	for (i = 0; i < n; i++)
	{
		uint32		klen;

		end = off;
		JBE_ADVANCE_OFFSET(end, children[i]);
		klen = end - off;
		if (klen == keylen && JLBytesEqual(base + off, key, keylen))
			break;
		if (klen > keylen)
			return false;
		off = end;
	}
	if (i == n)
		return false;
	/* the value is entry n + i: walk on to its start */
	off = end;
	for (j = i + 1; j < n + i; j++)
		JBE_ADVANCE_OFFSET(off, children[j]);
	end = off;
	JBE_ADVANCE_OFFSET(end, children[n + i]);
	*entry = children[n + i];
	*data = base + off;
	*len = end - off;
	/* numerics and containers start at the next int-aligned offset */
	if (JBE_ISNUMERIC(*entry) || JBE_ISCONTAINER(*entry))
	{
		uint32		pad = INTALIGN(off) - off;

		*data += pad;
		*len -= pad;
	}
	return true;
}

/*
 * FFContextConvert converts a container (jc) or a value (jbv) looked up in
 * a context whole, recording in jd a part too deep or too large to convert.
 */
static pg_noinline const JLValue *
FFContextConvert(JLArena *scratch, FFJsonbData *jd, JsonbContainer *jc,
				 JsonbValue *jbv)
{
	FFConvert	cv = {0};		/* no copies; record, never raise */
	const JLValue *v = jc != NULL ? FFContainerToJL(scratch, jc, 0, &cv) :
		FFJsonbValueToJLDepth(scratch, jbv, 0, &cv);

	jd->too_deep |= cv.too_deep;
	jd->no_memory |= cv.no_memory;
	return v;
}

/*
 * FFEntryToJL converts the scalar or container that FFObjectFind found.
 * Strings point into the jsonb (no copy); numbers take the numeric fast
 * path; both go to jd's slots while there are free ones, else to the
 * scratch arena.  Containers are converted whole.
 */
static pg_attribute_always_inline const JLValue *
FFEntryToJL(JLArena *scratch, FFJsonbData *jd, JEntry entry, const char *data,
			uint32 len)
{
	JLValue    *v;

	switch (entry & JENTRY_TYPEMASK)
	{
		case JENTRY_ISSTRING:
			return FFLookupString(scratch, jd, data, len);
		case JENTRY_ISNUMERIC:
			{
				double		d = FFNumericToDouble((Numeric) data);

				if (jd->nslots >= FF_LOOKUP_SLOTS)
					return FFLookupCheck(JLMakeNumber(scratch, d), jd);
				v = &jd->slots[jd->nslots++];
				v->type = JL_NUMBER;
				v->u.number = d;
				return v;
			}
		case JENTRY_ISBOOL_TRUE:
			return &JLTrueValue;
		case JENTRY_ISBOOL_FALSE:
			return &JLFalseValue;
		case JENTRY_ISNULL:
			return &JLNullValue;
		default:
			return FFContextConvert(scratch, jd, (JsonbContainer *) data, NULL);
	}
}

/*
 * FFJsonbLookupPath is the general case of FFJsonbLookup: it walks the
 * jsonb container segment by segment and converts only the value it ends
 * on.  Object members are found by FFObjectFind, straight from the
 * container's entry array, or by binary search in large objects.
 */
static pg_noinline const JLValue *
FFJsonbLookupPath(FFJsonbData *data, const JLPathSegment *segments,
				  size_t nsegments, JLArena *scratch)
{
	JsonbContainer *jc = data->root;
	JsonbValue	v;
	size_t		i;

	if (jc == NULL)
		return nsegments == 0 ? &JLNullValue : NULL;
	if (nsegments == 0)
		return FFContextConvert(scratch, data, jc, NULL);
	if (JsonContainerIsScalar(jc))
		return NULL;

	for (i = 0; i < nsegments; i++)
	{
		const JLPathSegment *seg = &segments[i];

		if (JsonContainerIsObject(jc))
		{
			JEntry		entry;
			const char *p;
			uint32		len;
			bool		large;

			if (seg->len > JENTRY_OFFLENMASK)
				return NULL;	/* no key is that long */
			if (FFObjectFind(jc, seg->ptr, (uint32) seg->len, &entry, &p,
							 &len, &large))
			{
				if (i + 1 == nsegments)
					return FFEntryToJL(scratch, data, entry, p, len);
				if (!JBE_ISCONTAINER(entry))
					return NULL;	/* cannot descend into a scalar */
				jc = (JsonbContainer *) p;
				continue;
			}
			if (!large)
				return NULL;
			if (getKeyJsonValueFromContainer(jc, seg->ptr, (int) seg->len,
											 &v) == NULL)
				return NULL;
		}
		else
		{
			uint32		idx;
			JsonbValue *elem;

			if (!FFParseIndex(seg->ptr, seg->len, &idx) ||
				idx >= JsonContainerSize(jc))
				return NULL;
			elem = getIthJsonbValueFromContainer(jc, idx);
			if (elem == NULL)
				return NULL;
			v = *elem;
			pfree(elem);
		}

		if (i + 1 == nsegments)
			return FFContextConvert(scratch, data, NULL, &v);
		if (v.type != jbvBinary)
			return NULL;		/* cannot descend into a scalar */
		jc = v.val.binary.data;
	}
	return NULL;				/* not reached */
}

/*
 * FFJsonbLookup is the JLContext lookup callback.  The common case, one
 * top-level attribute of a small context object, is served here with a
 * small stack frame; everything else goes to FFJsonbLookupPath.
 */
const JLValue *
FFJsonbLookup(void *opaque, const JLPathSegment *segments, size_t nsegments,
			  JLArena *scratch)
{
	FFJsonbData *data = (FFJsonbData *) opaque;
	JsonbContainer *jc = data->root;

	if (nsegments == 1 && jc != NULL && JsonContainerIsObject(jc) &&
		JsonContainerSize(jc) <= FF_LINEAR_KEYS &&
		segments[0].len <= JENTRY_OFFLENMASK)
	{
		JEntry		entry;
		const char *p;
		uint32		len;
		bool		large;

		if (!FFObjectFind(jc, segments[0].ptr, (uint32) segments[0].len,
						  &entry, &p, &len, &large))
			return NULL;
		return FFEntryToJL(scratch, data, entry, p, len);
	}
	return FFJsonbLookupPath(data, segments, nsegments, scratch);
}

/*
 * FFInterruptCallback lets query cancel and statement_timeout stop long
 * evaluations; CHECK_FOR_INTERRUPTS longjmps out of the core, whose arena
 * the caller resets on the next call.
 */
bool
FFInterruptCallback(void *opaque)
{
	CHECK_FOR_INTERRUPTS();
	/* a context value too deep to use, or too large to convert, ends it */
	return opaque != NULL && (((FFJsonbData *) opaque)->too_deep ||
							  ((FFJsonbData *) opaque)->no_memory ||
							  ((FFJsonbData *) opaque)->invalid != NULL);
}

/*
 * FFJsonbDataInit prepares data for lookups in jsonb document jb (NULL =
 * JSON null data); extra is left NULL.  with_slots lets lookups return
 * strings and numbers stored in data itself instead of the scratch arena:
 * only when data outlives every use of the values.
 */
void
FFJsonbDataInit(FFJsonbData *data, Jsonb *jb, bool with_slots)
{
	data->root = jb ? &jb->root : NULL;
	data->extra = NULL;
	data->too_deep = false;
	data->no_memory = false;
	data->no_memory_attnum = 0;
	data->no_memory_bytes = 0;
	data->invalid = NULL;
	data->nslots = with_slots ? 0 : FF_LOOKUP_SLOTS;
}

/*
 * FFContextInitJsonb prepares a JLContext over jsonb document jb (NULL =
 * JSON null data).  Segments and flagd injection are left off; callers
 * that want them set the fields afterwards.
 */
void
FFContextInitJsonb(JLContext *ctx, FFJsonbData *data, Jsonb *jb)
{
	memset(ctx, 0, sizeof(JLContext));
	FFJsonbDataInit(data, jb, true);
	ctx->lookup = FFJsonbLookup;
	ctx->segment = NULL;
	ctx->interrupt = FFInterruptCallback;
	ctx->opaque = data;
	ctx->inject_flagd = false;
}

/* ---------------------------------------------------------------------
 * Write-time check of nesting
 * --------------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(ff_jsonb_depth_exceeds);

/*
 * ff_jsonb_depth_exceeds tells whether a jsonb value nests more than
 * max_depth containers (a scalar nests none, {"a": 1} one), without
 * converting it: the validation trigger refuses variant values that
 * evaluation could never convert (FF_MAX_JSON_DEPTH).
 */
Datum
ff_jsonb_depth_exceeds(PG_FUNCTION_ARGS)
{
	Jsonb	   *value = PG_GETARG_JSONB_P(0);
	int32		max_depth = PG_GETARG_INT32(1);
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int32		depth = 0;
	uint32		n = 0;

	if (JB_ROOT_IS_SCALAR(value))
		PG_RETURN_BOOL(max_depth < 0);
	it = JsonbIteratorInit(&value->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if ((++n & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (tok == WJB_BEGIN_ARRAY || tok == WJB_BEGIN_OBJECT)
		{
			if (++depth > max_depth)
				PG_RETURN_BOOL(true);
		}
		else if (tok == WJB_END_ARRAY || tok == WJB_END_OBJECT)
			depth--;
	}
	PG_RETURN_BOOL(false);
}

/*
 * FFJsonbMemberValue returns member name of object jb, or NULL when jb is
 * not an object or the member is missing or JSON null.
 */
static JsonbValue *
FFJsonbMemberValue(Jsonb *jb, const char *name)
{
	JsonbValue *v;

	if (jb == NULL || JB_ROOT_IS_SCALAR(jb) || !JB_ROOT_IS_OBJECT(jb))
		return NULL;
	v = getKeyJsonValueFromContainer(&jb->root, name, strlen(name), NULL);
	return (v == NULL || v->type == jbvNull) ? NULL : v;
}

/*
 * FFJsonbMember returns member name of object jb (a row image, say) as a
 * jsonb, or NULL when it is missing or JSON null.
 */
Jsonb *
FFJsonbMember(Jsonb *jb, const char *name)
{
	JsonbValue *v = FFJsonbMemberValue(jb, name);

	return v == NULL ? NULL : JsonbValueToJsonb(v);
}

/*
 * FFJsonbMemberString returns string member name of object jb, or NULL.
 */
char *
FFJsonbMemberString(Jsonb *jb, const char *name)
{
	JsonbValue *v = FFJsonbMemberValue(jb, name);

	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}
