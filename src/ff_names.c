/*-------------------------------------------------------------------------
 *
 * ff_names.c
 *	  "Perhaps you meant": the existing name closest to a mistyped flag
 *	  key, segment or environment name, for the HINTs of the administration
 *	  functions and validation triggers (ff._closest_name) and for the error
 *	  message of ff.evaluate (FFCacheSuggestFlag).
 *
 * Closeness is PostgreSQL's Levenshtein distance (the one behind its own
 * "Perhaps you meant to reference the column" hints), in characters, with
 * insertions, deletions and substitutions costing 1.  A candidate counts
 * when it is at most a third of the name's length away (so names of one or
 * two characters get no suggestion), and never more than
 * FF_NAME_MAX_DISTANCE: "chekout-v2" finds "checkout-v2", "prod" does not
 * find "production".  Among candidates at the same distance the first
 * in byte order wins, so that a hint does not depend on storage order.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_names.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "ff_names.h"

/* a typo is a few characters: larger distances suggest unrelated names */
#define FF_NAME_MAX_DISTANCE 5

/*
 * names longer than this (in bytes) are neither searched for nor offered:
 * every name that can be stored has at most 200 characters, so a much
 * longer one is no typo of one (PostgreSQL's own levenshtein() has the same
 * limit, for the cost)
 */
#define FF_NAME_MAX_BYTES 255

PG_FUNCTION_INFO_V1(ff_closest_name);

/*
 * FFNameMatchInit starts a search for the candidate closest to name (len
 * bytes).
 */
void
FFNameMatchInit(FFNameMatch *m, const char *name, size_t len)
{
	int			i;

	m->name = name;
	m->len = (int) Min(len, FF_NAME_MAX_BYTES + 1);
	m->chars = 0;
	m->ascii = true;
	m->cxt = NULL;
	m->best = NULL;
	m->best_len = 0;
	m->best_d = INT_MAX;
	m->max_d = -1;
	if (len > FF_NAME_MAX_BYTES)
		return;
	memset(m->hist, 0, sizeof(m->hist));
	for (i = 0; i < m->len; i++)
	{
		unsigned char c = (unsigned char) name[i];

		if (c >= 128)
		{
			m->ascii = false;
			break;
		}
		m->hist[c]++;
	}
	m->chars = m->ascii ? m->len : pg_mbstrlen_with_len(name, m->len);
	/* names of one or two characters get no suggestion */
	if (m->chars >= 3)
		m->max_d = Min(FF_NAME_MAX_DISTANCE, m->chars / 3);
}

/*
 * FFNameBagDistance returns a lower bound of the distance between an ASCII
 * name and candidate: the larger of the number of the candidate's bytes
 * the name does not have and of the name's bytes the candidate does not
 * have, counted as multisets (every edit changes each count by at most
 * one).  -1 when candidate is not ASCII.
 */
static int
FFNameBagDistance(const FFNameMatch *m, const char *candidate, int len)
{
	int16		left[128];
	int			extra = 0;
	int			i;

	memcpy(left, m->hist, sizeof(left));
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) candidate[i];

		if (c >= 128)
			return -1;
		if (--left[c] < 0)
			extra++;
	}
	/* the name's bytes matched: len - extra; the rest are missing */
	return Max(extra, m->len - (len - extra));
}

/*
 * FFNameMatchOffer considers candidate (len bytes; it must stay valid until
 * the search ends).  The name itself is no suggestion.  Most candidates are
 * ruled out by their length or by FFNameBagDistance before the distance is
 * computed, and the distance is only computed up to the best one so far
 * (ties still count, for the byte order).
 */
void
FFNameMatchOffer(FFNameMatch *m, const char *candidate, size_t len)
{
	int			limit;
	int			bound;
	int			d;
	int			cmp;
	MemoryContext oldcxt;

	if (m->max_d < 0 || len > FF_NAME_MAX_BYTES)
		return;
	limit = Min(m->max_d, m->best_d);
	bound = m->ascii ? FFNameBagDistance(m, candidate, (int) len) : -1;
	if (bound < 0)
		bound = Abs(pg_mbstrlen_with_len(candidate, (int) len) - m->chars);
	if (bound > limit)
		return;
	if ((int) len == m->len && memcmp(candidate, m->name, len) == 0)
		return;

	/* the distance function allocates per call and frees nothing */
	if (m->cxt == NULL)
		m->cxt = AllocSetContextCreate(CurrentMemoryContext,
									   "feature_flags name match",
									   ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(m->cxt);
	d = varstr_levenshtein_less_equal(m->name, m->len, candidate, (int) len,
									  1, 1, 1, limit, true);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(m->cxt);
	if (d > limit)
		return;
	if (d == m->best_d)
	{
		cmp = memcmp(candidate, m->best, Min((int) len, m->best_len));
		if (cmp > 0 || (cmp == 0 && (int) len >= m->best_len))
			return;
	}
	m->best = candidate;
	m->best_len = (int) len;
	m->best_d = d;
}

/*
 * FFNameMatchEnd frees what the search allocated; m->best stays valid.
 */
void
FFNameMatchEnd(FFNameMatch *m)
{
	if (m->cxt != NULL)
		MemoryContextDelete(m->cxt);
	m->cxt = NULL;
}

/*
 * ff_closest_name returns the element of candidates closest to name, or
 * NULL when none is close enough (NULL elements are skipped).
 */
Datum
ff_closest_name(PG_FUNCTION_ARGS)
{
	text	   *name = PG_GETARG_TEXT_PP(0);
	ArrayType  *candidates = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	FFNameMatch m;

	if (ARR_ELEMTYPE(candidates) != TEXTOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("candidates must be an array of text, not of type %s",
						format_type_be(ARR_ELEMTYPE(candidates)))));
	deconstruct_array(candidates, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	FFNameMatchInit(&m, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
	for (i = 0; i < n; i++)
	{
		text	   *t;

		CHECK_FOR_INTERRUPTS();
		if (nulls[i])
			continue;
		t = DatumGetTextPP(elems[i]);
		FFNameMatchOffer(&m, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	}
	FFNameMatchEnd(&m);
	if (m.best == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(m.best, m.best_len));
}

/*
 * FFNameIsValid tells whether a name follows the name rule of flag keys,
 * segment and environment names (ff._name_pattern()): a letter or digit,
 * then at most 199 letters, digits, ".", "_", ":" or "-", all ASCII.  A
 * not-found HINT suggests creating only a name that can be created (1.17).
 */
bool
FFNameIsValid(const char *name)
{
	int			i;

#define FF_NAME_ALNUM(ch) (((ch) >= 'a' && (ch) <= 'z') || \
						   ((ch) >= 'A' && (ch) <= 'Z') || ((ch) >= '0' && (ch) <= '9'))
	if (!FF_NAME_ALNUM(name[0]))
		return false;
	for (i = 1; name[i] != '\0'; i++)
	{
		char		ch = name[i];

		if (i >= 200 ||
			!(FF_NAME_ALNUM(ch) || ch == '.' || ch == '_' || ch == ':' || ch == '-'))
			return false;
	}
#undef FF_NAME_ALNUM
	return true;
}

/*
 * FFNameForMessage returns a name as error messages show it, as
 * ff._name_in_message() does: whole when it is at most 200 characters long
 * (every valid name is), else its first 64 characters and "..." (1.19).
 */
const char *
FFNameForMessage(const char *name)
{
	int			len = strlen(name);

	if (pg_mbstrlen_with_len(name, len) <= 200)
		return name;
	return psprintf("%s...", pnstrdup(name, pg_mbcharcliplen(name, len, 64)));
}
