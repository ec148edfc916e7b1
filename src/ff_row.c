/*-------------------------------------------------------------------------
 *
 * ff_row.c
 *	  Evaluation with a table row as the context (ff.get_bool_row & co).
 *
 * The lookup callback reads the attribute named by the first path segment
 * straight from the tuple, without building a jsonb document, and gives
 * what to_jsonb(row) would: booleans, integers, floating-point and numeric
 * columns become JSON booleans and numbers (a real by its shortest decimal
 * form; NaN and infinities, which JSON numbers cannot be, the strings
 * "NaN", "Infinity", "-Infinity"), text-like columns strings, jsonb/json
 * columns are walked like a jsonb context (converted once per row),
 * composite columns like rows, arrays become JSON arrays (nested for each
 * dimension; numeric path segments index them), dates and timestamps ISO
 * 8601 strings, and any other type (times included) its text output.
 * NULL attributes are missing.  Of two attributes with one name the first
 * counts (to_jsonb keeps the last).  The context's "targetingKey" falls
 * back to an attribute called targeting_key (not inside composite
 * attributes).
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_row.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/detoast.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/typcache.h"

#include "ff_cache.h"
#include "ff_row.h"

static int	FFRowSearchAttr(TupleDesc desc, const char *name, size_t len);
static const JLValue *FFDatumLookup(JLArena *arena, Datum d, Oid typid,
									const JLPathSegment *segs, size_t nsegs,
									FFJsonbData *trouble);
static const JLValue *FFJsonbValueLookup(JLArena *arena, Jsonb *jb,
										 const JLPathSegment *segs, size_t nsegs,
										 FFJsonbData *trouble);
static Jsonb *FFJsonbOfDatum(Datum d, Oid typid, FFJsonbData *trouble);

/*
 * FFTypeIsRow tells whether typid (or the base type of a domain) is a
 * composite type.
 */
bool
FFTypeIsRow(Oid typid)
{
	return OidIsValid(typid) && type_is_rowtype(getBaseType(typid));
}

/*
 * The type cache entries of the named row types read last.  A row query
 * prepares millions of rows of one type, and lookup_rowtype_tupdesc finds
 * each one's descriptor with a hash search; an entry of the type cache
 * lives as long as the backend, and its tupDesc is reset to NULL when the
 * type changes, so the pointer is kept and the descriptor read from it.
 */
#define FF_ROW_TYPES 4

typedef struct FFRowType
{
	Oid			typid;			/* InvalidOid = empty */
	TypeCacheEntry *entry;
} FFRowType;

static FFRowType FFRowTypes[FF_ROW_TYPES];
static int	FFRowTypesNext = 0;

/*
 * FFRowTupleDesc returns the descriptor of rows of type typid/typmod,
 * pinned (release it with ReleaseTupleDesc), as lookup_rowtype_tupdesc
 * does; a named row type's comes from its remembered type cache entry.
 */
static TupleDesc
FFRowTupleDesc(Oid typid, int32 typmod)
{
	TypeCacheEntry *entry = NULL;
	int			i;

	if (typid == RECORDOID)
		return lookup_rowtype_tupdesc(typid, typmod);
	for (i = 0; i < FF_ROW_TYPES; i++)
		if (FFRowTypes[i].typid == typid)
		{
			entry = FFRowTypes[i].entry;
			break;
		}
	if (entry == NULL)
	{
		entry = lookup_type_cache(typid, TYPECACHE_TUPDESC);
		FFRowTypes[FFRowTypesNext].typid = typid;
		FFRowTypes[FFRowTypesNext].entry = entry;
		FFRowTypesNext = (FFRowTypesNext + 1) % FF_ROW_TYPES;
	}
	if (entry->tupDesc == NULL)
		return lookup_rowtype_tupdesc(typid, typmod);	/* changed: rebuilt */
	PinTupleDesc(entry->tupDesc);
	return entry->tupDesc;
}

/*
 * FFRowDataInitState starts a row's lookups: no value read or converted
 * yet, lookup slots free.
 */
static inline void
FFRowDataInitState(FFRowData *data, bool deformed, Datum *values, bool *isnull)
{
	FFJsonbDataInit(&data->base, NULL, true);
	data->deformed = deformed;
	data->nested = false;
	data->njson = 0;
	data->values = values;
	data->isnull = isnull;
	data->desc_id = 0;
}

/*
 * FFRowDataInit prepares row (a composite datum) for lookups.
 */
void
FFRowDataInit(FFRowData *data, Datum row)
{
	HeapTupleHeader th = DatumGetHeapTupleHeader(row);

	/* values/isnull are filled on first use: no need to clear them */
	FFRowDataInitState(data, false, data->values_buf, data->isnull_buf);
	data->desc = FFRowTupleDesc(HeapTupleHeaderGetTypeId(th),
								HeapTupleHeaderGetTypMod(th));
	/* the type and typmod: a record type's descriptor lives as long as the backend */
	data->desc_id = ((uint64) data->desc->tdtypeid << 32) | (uint32) data->desc->tdtypmod;
	data->tuple.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&data->tuple.t_self);
	data->tuple.t_tableOid = InvalidOid;
	data->tuple.t_data = th;
}

/*
 * FFRowDataInitColumns prepares a row given as columns for lookups: desc
 * names and types them (not reference-counted; the caller keeps it), and
 * values/isnull hold one entry per attribute, which lookups may replace
 * with an expanded copy.  serial is the call site's number, unique in the
 * backend (see FFRowAttrHints).
 */
void
FFRowDataInitColumns(FFRowData *data, TupleDesc desc, uint64 serial,
					 Datum *values, bool *isnull)
{
	FFRowDataInitState(data, true, values, isnull);
	data->desc = desc;
	data->desc_id = serial | (UINT64CONST(1) << 63);
	memset(&data->tuple, 0, sizeof(data->tuple));
}

/*
 * FFRowGetAttr returns attribute attnum of a prepared row: from values
 * once the row is deformed (or given as columns), deforming a row of up
 * to FF_ROW_MAX_DEFORM attributes once for all its lookups, and reading a
 * wider one in place.
 */
static inline Datum
FFRowGetAttr(FFRowData *data, int attnum, bool *isnull)
{
	if (!data->deformed && data->desc->natts <= FF_ROW_MAX_DEFORM)
	{
		heap_deform_tuple(&data->tuple, data->desc, data->values, data->isnull);
		data->deformed = true;
	}
	if (data->deformed)
	{
		*isnull = data->isnull[attnum - 1];
		return data->values[attnum - 1];
	}
	return heap_getattr(&data->tuple, attnum, data->desc, isnull);
}

/*
 * FFRowDataRelease releases the tuple descriptor reference.
 */
void
FFRowDataRelease(FFRowData *data)
{
	if (data->desc != NULL)
		ReleaseTupleDesc(data->desc);
	data->desc = NULL;
}

/*
 * FFRowAttrHints remembers where the attributes that compiled paths name
 * were found: a row query looks up the same few names in rows of one
 * descriptor millions of times.  An entry is only a hint, checked against
 * the descriptor before use, so a stale one costs a search, never a wrong
 * answer.  The check (the name is at the hinted position) suffices where
 * a name is unique: in a table's or a named type's descriptor.  A record
 * may hold one name twice (SELECT 1 AS a, 2 AS a), and then the first one
 * counts, so a hint must not outlive its descriptor into another one that
 * takes the same address (a named type's descriptor is freed when the type
 * changes, a columns call site's (FFRowColumnsPrepare) with its query).
 * Hints carry, besides the address, the descriptor's type and typmod (a
 * record type's descriptor in the type cache, typmod 0 or more, lives as
 * long as the backend), or a columns call site's serial number, unique in
 * the backend, with the top bit set (FFRowData.desc_id).
 */
typedef struct FFRowAttrHint
{
	TupleDesc	desc;
	uint64		desc_id;
	const char *name;
	size_t		len;
	int			attnum;
} FFRowAttrHint;

#define FF_ROW_ATTR_HINT_BITS 6
#define FF_ROW_ATTR_HINTS (1 << FF_ROW_ATTR_HINT_BITS)
static FFRowAttrHint FFRowAttrHints[FF_ROW_ATTR_HINTS];

/*
 * FFRowAttrHintFor returns the hint entry for a name's address.  The
 * addresses of a rule's names are close together and aligned alike, so
 * their bits are mixed (Fibonacci hashing) rather than taken as they are:
 * names sharing an entry would replace each other's hint at every row.
 */
static inline FFRowAttrHint *
FFRowAttrHintFor(const char *name)
{
	uint64		h = (uint64) (uintptr_t) name * UINT64CONST(0x9E3779B97F4A7C15);

	return &FFRowAttrHints[h >> (64 - FF_ROW_ATTR_HINT_BITS)];
}

/*
 * FFRowAttrIs tells whether attribute attnum of desc is live and named name.
 */
static inline bool
FFRowAttrIs(TupleDesc desc, int attnum, const char *name, size_t len)
{
	Form_pg_attribute att;

	if (attnum < 1 || attnum > desc->natts)
		return false;
	att = TupleDescAttr(desc, attnum - 1);
	return !att->attisdropped && len < NAMEDATALEN &&
		memcmp(NameStr(att->attname), name, len) == 0 && NameStr(att->attname)[len] == '\0';
}

/*
 * FFRowFindAttr finds a live attribute by exact (case-sensitive) name.
 */
static int
FFRowFindAttr(TupleDesc desc, uint64 desc_id, const char *name, size_t len)
{
	FFRowAttrHint *hint = FFRowAttrHintFor(name);
	int			attnum;

	if (hint->desc == desc && hint->desc_id == desc_id &&
		hint->name == name && hint->len == len &&
		FFRowAttrIs(desc, hint->attnum, name, len))
		return hint->attnum;
	attnum = FFRowSearchAttr(desc, name, len);
	if (attnum != InvalidAttrNumber)
	{
		hint->desc = desc;
		hint->desc_id = desc_id;
		hint->name = name;
		hint->len = len;
		hint->attnum = attnum;
	}
	return attnum;
}

/*
 * FFRowSearchAttr searches the descriptor for a live attribute by exact
 * (case-sensitive) name; of two with one name (a record such as
 * SELECT 1 AS a, 2 AS a) the first (to_jsonb keeps the last: searching
 * from the end cost 10 % of a row query whose hints miss).
 */
static int
FFRowSearchAttr(TupleDesc desc, const char *name, size_t len)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strlen(NameStr(att->attname)) == len &&
			memcmp(NameStr(att->attname), name, len) == 0)
			return i + 1;
	}
	return InvalidAttrNumber;
}

/*
 * FFRowToObject converts every live attribute of a row into a JSON object
 * (NULL attributes become JSON null).
 */
static const JLValue *
FFRowToObject(JLArena *arena, FFRowData *data)
{
	TupleDesc	desc = data->desc;
	JLMember   *members;
	size_t		n = 0;
	int			i;

	members = FFLookupCheck(JLArenaAlloc(arena, sizeof(JLMember) * Max(desc->natts, 1)),
					  &data->base);
	if (members == NULL)
		return NULL;
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		isnull;
		Datum		d;
		const JLValue *v;

		if (att->attisdropped)
			continue;
		d = FFRowGetAttr(data, i + 1, &isnull);
		v = isnull ? &JLNullValue : FFDatumLookup(arena, d, att->atttypid, NULL, 0,
													&data->base);
		if (data->base.no_memory || data->base.invalid != NULL)
			return NULL;
		members[n].key = NameStr(att->attname);
		members[n].keylen = strlen(NameStr(att->attname));
		members[n].value = v ? v : &JLNullValue;
		n++;
	}
	return FFLookupCheck(JLMakeObject(arena, members, n), &data->base);
}

/*
 * FFRowExpansionCounts tells whether expanding value p counts against the
 * evaluation's budget: a compressed value, inline or out of line.  An
 * uncompressed out-of-line value does not: a composite datum (a row
 * context's tuple) holds it already fetched, outside the budget, and a row
 * passed as columns (1.21) must see what that row would see.
 */
static bool
FFRowExpansionCounts(const char *p)
{
	if (VARATT_IS_COMPRESSED(p))
		return true;
	if (VARATT_IS_EXTERNAL_ONDISK(p))
	{
		struct varatt_external ext;

		VARATT_EXTERNAL_GET_POINTER(ext, p);
		return VARATT_EXTERNAL_IS_COMPRESSED(ext);
	}
	return false;
}

/*
 * FFRowExpand returns varlena datum d with a four-byte header, neither
 * compressed nor out of line.  A short value (a one-byte header, up to
 * 126 bytes, as rows store small numerics and jsonb documents) is copied
 * into the evaluation's scratch arena, which lives as long as the values
 * looked up in the row: detoasting it would palloc a copy for every row.
 * Anything else, or a short value the arena has no room for, is detoasted.
 */
static Datum
FFRowExpand(JLArena *arena, Datum d)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);

	if (FFIsShortVarlena(v))
	{
		char	   *copy = JLArenaAlloc(arena, VARHDRSZ + VARSIZE_SHORT(v));

		if (copy != NULL)
			return PointerGetDatum(FFUnshortVarlena(copy, v));
	}
	return PointerGetDatum(pg_detoast_datum(v));
}

/*
 * FFRowLookupIn looks a path up in a prepared row.
 */
static const JLValue *
FFRowLookupIn(FFRowData *data, const JLPathSegment *segs, size_t nsegs,
			  JLArena *arena)
{
	int			attnum;
	bool		isnull;
	Datum		d;
	Oid			typid;
	bool		is_string;

	if (nsegs == 0)
		return FFRowToObject(arena, data);
	attnum = FFRowFindAttr(data->desc, data->desc_id, segs[0].ptr, segs[0].len);
	if (attnum == InvalidAttrNumber && !data->nested && segs[0].len == 12 &&
		memcmp(segs[0].ptr, "targetingKey", 12) == 0)
		attnum = FFRowFindAttr(data->desc, data->desc_id, "targeting_key", 13);
	if (attnum == InvalidAttrNumber)
		return NULL;
	d = FFRowGetAttr(data, attnum, &isnull);
	if (isnull)
		return NULL;
	typid = TupleDescAttr(data->desc, attnum - 1)->atttypid;
	is_string = typid == TEXTOID || typid == VARCHAROID || typid == BPCHAROID;
	if (TupleDescAttr(data->desc, attnum - 1)->attlen == -1 &&
		(VARATT_IS_EXTERNAL(DatumGetPointer(d)) ||
		 VARATT_IS_COMPRESSED(DatumGetPointer(d)) ||
		 (VARATT_IS_SHORT(DatumGetPointer(d)) && !is_string)))
	{
		/*
		 * A compressed or out-of-line value is expanded once per row (every
		 * later lookup of the row reads the expanded copy), not at every
		 * reference of the rule; a compressed one only within the
		 * evaluation's budget (FFRowExpansionCounts).  So is a short value
		 * (one-byte header, which an out-of-line pointer has too) of a type
		 * whose readers copy it to a four-byte header, such as numeric; a
		 * short string is read in place.
		 */
		if (FFRowExpansionCounts(DatumGetPointer(d)) &&
			toast_raw_datum_size(d) > FFScratchLimit())
		{
			data->base.no_memory = true;
			data->base.no_memory_attnum = attnum;
			data->base.no_memory_bytes = toast_raw_datum_size(d);
			return NULL;
		}
		d = FFRowExpand(arena, d);
		if (data->deformed)
			data->values[attnum - 1] = d;
	}
	if (nsegs == 1 && !data->nested && is_string)
	{
		/*
		 * The common case, a string column: its bytes as they are in the
		 * row (not compressed or out of line: expanded above), in one of
		 * the row's lookup slots.  A nested row's lookups use the arena (its
		 * FFRowData ends before the evaluation).  FFDatumLookup reads these
		 * types the same way.
		 */
		return FFLookupString(arena, &data->base, VARDATA_ANY(DatumGetPointer(d)),
							  VARSIZE_ANY_EXHDR(DatumGetPointer(d)));
	}
	if (typid == JSONBOID || typid == JSONOID)
	{
		/* a rule reads a document's keys one by one: convert it once */
		Jsonb	   *jb = NULL;
		int			i;

		for (i = 0; i < data->njson; i++)
			if (data->json_attnum[i] == attnum)
				jb = data->json_value[i];
		if (jb == NULL)
		{
			jb = FFJsonbOfDatum(d, typid, &data->base);
			if (jb == NULL)
				return NULL;
			if (data->njson < FF_ROW_JSON_CACHE)
			{
				data->json_attnum[data->njson] = attnum;
				data->json_value[data->njson] = jb;
				data->njson++;
			}
		}
		return FFJsonbValueLookup(arena, jb, segs + 1, nsegs - 1, &data->base);
	}
	return FFDatumLookup(arena, d, typid, segs + 1, nsegs - 1, &data->base);
}

/*
 * FFParseArrayIndex parses a canonical decimal array index.
 */
static bool
FFParseArrayIndex(const JLPathSegment *seg, int *out)
{
	int64		n = 0;
	size_t		i;

	if (seg->len == 0 || seg->len > 9 || (seg->len > 1 && seg->ptr[0] == '0'))
		return false;
	for (i = 0; i < seg->len; i++)
	{
		if (seg->ptr[i] < '0' || seg->ptr[i] > '9')
			return false;
		n = n * 10 + (seg->ptr[i] - '0');
	}
	*out = (int) n;
	return true;
}

/*
 * FFJsonToJsonb converts a json value to jsonb, or returns NULL with
 * trouble->invalid set when jsonb cannot hold it: json keeps its text and
 * accepts \u0000, lone surrogate escapes and numbers beyond numeric's
 * range, which jsonb refuses.  The data exceptions (class 22) and the
 * program limits (class 54: a document nesting deeper than the stack
 * allows, a string longer than jsonb can hold) of the conversion are
 * caught: jsonb_in holds no lock, buffer or other resource that an error
 * could leave behind, only memory of the current context.  Anything else
 * (a cancel, out of memory) is raised again.
 */
static Jsonb *
FFJsonToJsonb(Datum d, FFJsonbData *trouble)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *str = TextDatumGetCString(d);
	Jsonb	   *volatile jb = NULL;

	PG_TRY();
	{
		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(str)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION &&
			ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_PROGRAM_LIMIT_EXCEEDED)
		{
			FreeErrorData(edata);
			PG_RE_THROW();
		}
		FlushErrorState();
		trouble->invalid = psprintf("a json attribute of the context cannot be read as jsonb: %s",
									edata->message);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	pfree(str);
	return jb;
}

/*
 * FFSpecialNumber gives NaN or an infinity as to_jsonb writes it: a string.
 */
static const JLValue *
FFSpecialNumber(JLArena *arena, double v, FFJsonbData *trouble)
{
	const char *s = isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity");

	return FFLookupCheck(JLMakeString(arena, s, strlen(s), false), trouble);
}

/*
 * FFFloat4Value gives a real as to_jsonb does (at the default
 * extra_float_digits): the number its shortest decimal form names (0.1,
 * not the 0.10000000149011612 of its widening to double), so that it
 * equals the same literal in a rule; -0 is 0.
 */
static const JLValue *
FFFloat4Value(JLArena *arena, float4 f, FFJsonbData *trouble)
{
	char		buf[32];

	if (isnan(f) || isinf(f))
		return FFSpecialNumber(arena, f, trouble);
	if (f == 0)
		return FFLookupCheck(JLMakeNumber(arena, 0.0), trouble);	/* -0 too */
	float_to_shortest_decimal_buf(f, buf);
	return FFLookupCheck(JLMakeNumber(arena, strtod(buf, NULL)), trouble);
}

/*
 * FFJsonbValueLookup walks a jsonb value of a row (a json or jsonb
 * attribute) like a jsonb context.
 */
static const JLValue *
FFJsonbValueLookup(JLArena *arena, Jsonb *jb, const JLPathSegment *segs,
				   size_t nsegs, FFJsonbData *trouble)
{
	FFJsonbData jd;
	const JLValue *res;

	/* jd ends with this call: no slots */
	FFJsonbDataInit(&jd, jb, false);
	res = FFJsonbLookup(&jd, segs, nsegs, arena);
	trouble->too_deep |= jd.too_deep;
	trouble->no_memory |= jd.no_memory;
	return res;
}

/*
 * FFArraySlice converts the slice of a multidimensional array that starts
 * at element *pos (row-major, as deconstruct_array gives them) at
 * dimension level into nested JSON arrays, as to_jsonb does, advancing
 * *pos past it.
 */
static const JLValue *
FFArraySlice(JLArena *arena, Datum *elems, bool *nulls, Oid elemtype,
			 const int *dims, int ndim, int level, int *pos,
			 FFJsonbData *trouble)
{
	int			n = dims[level];
	const JLValue **items;
	int			i;

	check_stack_depth();
	items = FFLookupCheck(JLArenaAlloc(arena, sizeof(JLValue *) * Max(n, 1)), trouble);
	if (items == NULL)
		return NULL;
	for (i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (level + 1 < ndim)
			items[i] = FFArraySlice(arena, elems, nulls, elemtype, dims, ndim,
									level + 1, pos, trouble);
		else
		{
			items[i] = nulls[*pos] ? &JLNullValue :
				FFDatumLookup(arena, elems[*pos], elemtype, NULL, 0, trouble);
			(*pos)++;
		}
		if (items[i] == NULL)
			return NULL;		/* out of memory, or a json element jsonb refuses */
	}
	return FFLookupCheck(JLMakeArray(arena, items, n), trouble);
}

/*
 * FFJsonbOfDatum gives a json or jsonb datum (typid JSONOID or JSONBOID) as
 * jsonb, detoasted; NULL with trouble->invalid set for a json value jsonb
 * cannot hold.
 */
static Jsonb *
FFJsonbOfDatum(Datum d, Oid typid, FFJsonbData *trouble)
{
	return typid == JSONOID ? FFJsonToJsonb(d, trouble) : DatumGetJsonbP(d);
}

/*
 * FFDatumLookup converts a non-null datum of type typid, or the value at
 * path segs inside it, into a JLValue; NULL when the path does not exist.
 * A jsonb value nested beyond FF_MAX_JSON_DEPTH sets trouble->too_deep;
 * running out of the scratch arena sets trouble->no_memory (and returns
 * NULL).
 */
static const JLValue *
FFDatumLookup(JLArena *arena, Datum d, Oid typid, const JLPathSegment *segs,
			  size_t nsegs, FFJsonbData *trouble)
{
	Oid			base;
	Oid			elemtype;

	check_stack_depth();
	/* the built-in types below are never domains: no catalog lookup for them */
	switch (typid)
	{
		case BOOLOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
		case DATEOID:
		case TIMEOID:
		case TIMETZOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case JSONBOID:
		case JSONOID:
			base = typid;
			break;
		default:
			base = getBaseType(typid);
			break;
	}

	switch (base)
	{
		case BOOLOID:
			return nsegs ? NULL : (DatumGetBool(d) ? &JLTrueValue : &JLFalseValue);
		case INT2OID:
			return nsegs ? NULL : FFLookupCheck(JLMakeNumber(arena, DatumGetInt16(d)), trouble);
		case INT4OID:
			return nsegs ? NULL : FFLookupCheck(JLMakeNumber(arena, DatumGetInt32(d)), trouble);
		case INT8OID:
			return nsegs ? NULL : FFLookupCheck(JLMakeNumber(arena, (double) DatumGetInt64(d)), trouble);
		case FLOAT4OID:
			return nsegs ? NULL : FFFloat4Value(arena, DatumGetFloat4(d), trouble);
		case FLOAT8OID:
			if (nsegs)
				return NULL;
			if (isnan(DatumGetFloat8(d)) || isinf(DatumGetFloat8(d)))
				return FFSpecialNumber(arena, DatumGetFloat8(d), trouble);
			/* + 0.0 makes -0 the 0 that to_jsonb writes */
			return FFLookupCheck(JLMakeNumber(arena, DatumGetFloat8(d) + 0.0), trouble);
		case NUMERICOID:
			{
				/* once: a short value in a row is copied by each DatumGetNumeric */
				Numeric		num;

				if (nsegs)
					return NULL;
				num = DatumGetNumeric(d);
				if (numeric_is_nan(num))
					return FFSpecialNumber(arena, NAN, trouble);
				if (numeric_is_inf(num))
					return FFSpecialNumber(arena, FFNumericToDouble(num), trouble);
				return FFLookupCheck(JLMakeNumber(arena, FFNumericToDouble(num)), trouble);
			}
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			{
				text	   *t = DatumGetTextPP(d);

				if (nsegs)
					return NULL;
				return FFLookupCheck(JLMakeString(arena, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), false), trouble);
			}
		case NAMEOID:
			if (nsegs)
				return NULL;
			return FFLookupCheck(JLMakeString(arena, NameStr(*DatumGetName(d)),
										strlen(NameStr(*DatumGetName(d))), false), trouble);
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			{
				/* ISO 8601 whatever DateStyle says, as to_jsonb does */
				char	   *s;

				if (nsegs)
					return NULL;
				s = JsonEncodeDateTime(NULL, d, base, NULL);
				return FFLookupCheck(JLMakeString(arena, s, strlen(s), false), trouble);
			}
		case JSONBOID:
		case JSONOID:
			{
				Jsonb	   *jb = FFJsonbOfDatum(d, base, trouble);

				if (jb == NULL)
					return NULL;
				return FFJsonbValueLookup(arena, jb, segs, nsegs, trouble);
			}
		default:
			/* times (to_jsonb writes their text output) and other types */
			break;
	}

	elemtype = get_element_type(base);
	if (OidIsValid(elemtype))
	{
		ArrayType  *arr = DatumGetArrayTypeP(d);
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		int			i;
		const JLValue **items;

		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		if (nsegs >= (size_t) Max(ARR_NDIM(arr), 1))
		{
			/* one element: read in place, whatever the array's size */
			int			subs[MAXDIM];
			int			k;
			bool		elemnull;
			Datum		elem;

			if (ARR_NDIM(arr) == 0)
				return NULL;
			for (k = 0; k < ARR_NDIM(arr); k++)
			{
				int			idx;

				if (!FFParseArrayIndex(&segs[k], &idx) || idx >= ARR_DIMS(arr)[k])
					return NULL;
				subs[k] = idx + ARR_LBOUND(arr)[k];
			}
			elem = array_get_element(PointerGetDatum(arr), ARR_NDIM(arr), subs, -1,
									 typlen, typbyval, typalign, &elemnull);
			if (elemnull)
				return NULL;
			return FFDatumLookup(arena, elem, elemtype, segs + k, nsegs - k, trouble);
		}
		/* a whole array or a slice: about 48 bytes an element, in the budget */
		if ((Size) ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)) > FFScratchLimit() / 48)
		{
			trouble->no_memory = true;
			return NULL;
		}
		deconstruct_array(arr, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
		if (ARR_NDIM(arr) > 1)
		{
			/* nested JSON arrays, one level per dimension */
			const int  *dims = ARR_DIMS(arr);
			int			ndim = ARR_NDIM(arr);
			int			flat = 0;
			int			k;
			int			pos;

			/* fewer indexes than dimensions (all of them: read in place above) */
			for (k = 0; k < (int) nsegs; k++)
			{
				int			idx;

				if (!FFParseArrayIndex(&segs[k], &idx) || idx >= dims[k])
					return NULL;
				flat = flat * dims[k] + idx;
			}
			/* a whole slice: where it starts in row-major order */
			pos = flat;
			for (i = k; i < ndim; i++)
				pos *= dims[i];
			return FFArraySlice(arena, elems, nulls, elemtype, dims, ndim, k, &pos,
								trouble);
		}
		items = FFLookupCheck(JLArenaAlloc(arena, sizeof(JLValue *) * Max(n, 1)), trouble);
		if (items == NULL)
			return NULL;
		for (i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			items[i] = nulls[i] ? &JLNullValue :
				FFDatumLookup(arena, elems[i], elemtype, NULL, 0, trouble);
			if (items[i] == NULL)
				return NULL;	/* out of memory, or a json element jsonb refuses */
		}
		return FFLookupCheck(JLMakeArray(arena, items, n), trouble);
	}

	if (type_is_rowtype(base))
	{
		FFRowData	rd;
		const JLValue *v;

		FFRowDataInit(&rd, d);
		rd.nested = true;
		v = FFRowLookupIn(&rd, segs, nsegs, arena);
		trouble->too_deep |= rd.base.too_deep;
		trouble->no_memory |= rd.base.no_memory;
		if (rd.base.invalid != NULL)
			trouble->invalid = rd.base.invalid;
		FFRowDataRelease(&rd);
		return v;
	}

	/* anything else: its text output */
	if (nsegs)
		return NULL;
	{
		Oid			outfunc;
		bool		isvarlena;
		char	   *s;

		getTypeOutputInfo(base, &outfunc, &isvarlena);
		s = OidOutputFunctionCall(outfunc, d);
		return FFLookupCheck(JLMakeString(arena, s, strlen(s), false), trouble);
	}
}

/*
 * FFRowLookup is the JLContext lookup callback over a row.
 */
static const JLValue *
FFRowLookup(void *opaque, const JLPathSegment *segs, size_t nsegs,
			JLArena *scratch)
{
	return FFRowLookupIn((FFRowData *) opaque, segs, nsegs, scratch);
}

/*
 * FFContextInitRow prepares a JLContext over a prepared row.  Segments and
 * flagd injection are left off; callers set them afterwards.
 */
void
FFContextInitRow(JLContext *ctx, FFRowData *data)
{
	memset(ctx, 0, sizeof(JLContext));
	ctx->lookup = FFRowLookup;
	ctx->interrupt = FFInterruptCallback;
	ctx->opaque = data;
}
