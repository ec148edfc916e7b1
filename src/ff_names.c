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
#include "utils/varlena.h"

#include "ff_names.h"

/* a typo is a few characters: larger distances suggest unrelated names */
#define FF_NAME_MAX_DISTANCE 5

/*
 * a name longer than this (in bytes) gets no suggestion: every name that can
 * be stored has at most 200 characters, so a much longer one is no typo of
 * one, and the distance's cost grows with the length
 */
#define FF_NAME_MAX_BYTES 1024

PG_FUNCTION_INFO_V1(ff_closest_name);

/*
 * FFNameMatchInit starts a search for the candidate closest to name (len
 * bytes).
 */
void
FFNameMatchInit(FFNameMatch *m, const char *name, size_t len)
{
	m->name = name;
	m->len = (int) Min(len, FF_NAME_MAX_BYTES + 1);
	if (len > FF_NAME_MAX_BYTES)
		m->max_d = -1;
	else
	{
		int			chars = pg_mbstrlen_with_len(name, (int) len);

		/* names of one or two characters get no suggestion */
		m->max_d = chars < 3 ? -1 : Min(FF_NAME_MAX_DISTANCE, chars / 3);
	}
	m->best = NULL;
	m->best_len = 0;
	m->best_d = INT_MAX;
}

/*
 * FFNameMatchOffer considers candidate (len bytes; it must stay valid until
 * the search ends).  The name itself is no suggestion.
 */
void
FFNameMatchOffer(FFNameMatch *m, const char *candidate, size_t len)
{
	int			d;
	int			cmp;

	if (m->max_d < 0 || len > FF_NAME_MAX_BYTES)
		return;
	/*
	 * a length difference of more than max_d bytes is more than max_d edits
	 * for ASCII names, which all stored names are
	 */
	if (Abs((int) len - m->len) > m->max_d)
		return;
	if ((int) len == m->len && memcmp(candidate, m->name, len) == 0)
		return;
	d = varstr_levenshtein_less_equal(m->name, m->len, candidate, (int) len,
									  1, 1, 1, m->max_d, true);
	if (d > m->max_d || d > m->best_d)
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
	if (m.best == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(m.best, m.best_len));
}
