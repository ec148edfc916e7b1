/*-------------------------------------------------------------------------
 *
 * ff_experiment.c
 *	  The numerical helpers of experiment analysis (ff.experiment_results,
 *	  src/sql/086_experiments.sql): the column types a query returns, the
 *	  standard normal distribution and its quantile, and the upper tail of
 *	  the chi-square distribution.
 *
 * The analysis itself is SQL: the caller's query is aggregated per variant
 * by PostgreSQL (avg, var_samp, covar_samp), and the few numbers per variant
 * are turned into lifts, intervals and probabilities by PL/pgSQL.  What SQL
 * lacks is here: PostgreSQL 15 has no erf(), no normal quantile and no
 * incomplete gamma function.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_experiment.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parser.h"
#include "tcop/cmdtag.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"

PG_FUNCTION_INFO_V1(ff_single_statement);
PG_FUNCTION_INFO_V1(ff_query_result_types);
PG_FUNCTION_INFO_V1(ff_normal_cdf);
PG_FUNCTION_INFO_V1(ff_normal_quantile);
PG_FUNCTION_INFO_V1(ff_chi_square_sf);

/*
 * FFQueryErrorCallback reports a syntax error of the caller's query at its
 * position in that query (as SPI does for the queries it parses): the
 * parser gives the position as if the query were the client's statement.
 */
static void
FFQueryErrorCallback(void *arg)
{
	const char *query = (const char *) arg;
	int			pos = geterrposition();

	if (pos > 0)
	{
		errposition(0);
		internalerrposition(pos);
		internalerrquery(query);
	}
}

/*
 * ff_single_statement returns the text of the one statement in a query
 * string, as PostgreSQL's parser delimits it: without the empty statements
 * and the semicolons around it, and with the comments inside it.  The
 * caller's query is put into a larger statement; "q; -- note" or ";q"
 * would break it, a trailing "-- note" only on the same line (the caller
 * puts a line break after it).
 */
Datum
ff_single_statement(PG_FUNCTION_ARGS)
{
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ErrorContextCallback errcallback;
	List	   *stmts;
	RawStmt    *stmt;
	int			len;

	errcallback.callback = FFQueryErrorCallback;
	errcallback.arg = query;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	stmts = raw_parser(query, RAW_PARSE_DEFAULT);
	error_context_stack = errcallback.previous;

	if (list_length(stmts) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 stmts == NIL ?
				 errmsg("the query of an experiment is empty") :
				 errmsg("the query of an experiment must be one statement, not %d",
						list_length(stmts)),
				 errhint("Pass one SELECT that returns the variant, the outcome and optionally a covariate per unit.")));
	stmt = linitial_node(RawStmt, stmts);
	len = stmt->stmt_len > 0 ? stmt->stmt_len : (int) strlen(query) - stmt->stmt_location;
	PG_RETURN_TEXT_P(cstring_to_text_with_len(query + stmt->stmt_location, len));
}

/*
 * ff_query_result_types returns the types of the columns a query returns,
 * without running it: the query is parsed and analysed (SPI_prepare), as
 * the caller, and its result descriptor read.  Only a single SELECT (also
 * VALUES, TABLE, WITH ... SELECT) without a data-modifying WITH is
 * accepted: the analysis reads rows, it does not write them (a function the
 * query calls may still write, as in any SELECT).  A domain is given as its
 * base type.
 */
Datum
ff_query_result_types(PG_FUNCTION_ARGS)
{
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(0));
	MemoryContext callercxt = CurrentMemoryContext;
	SPIPlanPtr	plan;
	List	   *sources;
	CachedPlanSource *source;
	TupleDesc	desc;
	Datum	   *types;
	int			ncols = 0;
	int			i;
	ArrayType  *result;

	SPI_connect();
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	sources = SPI_plan_get_plan_sources(plan);
	if (list_length(sources) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the query of an experiment must be one statement, not %d",
						list_length(sources)),
				 errhint("Pass one SELECT that returns the variant, the outcome and optionally a covariate per unit.")));
	source = (CachedPlanSource *) linitial(sources);
	desc = source->resultDesc;
	if (desc == NULL || source->commandTag != CMDTAG_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the query of an experiment must be a SELECT"),
				 source->commandTag == CMDTAG_SELECT ?
				 errdetail("SELECT ... INTO creates a table and returns no rows.") :
				 errdetail("The query is %s.", GetCommandTagName(source->commandTag)),
				 errhint("Pass one SELECT that returns the variant, the outcome and optionally a covariate per unit.")));

	/* a SELECT may still write, through a data-modifying WITH */
	if (source->query_list != NIL &&
		IsA(linitial(source->query_list), Query) &&
		((Query *) linitial(source->query_list))->hasModifyingCTE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the query of an experiment must not write"),
				 errdetail("The query has a data-modifying WITH clause (INSERT, UPDATE, DELETE or MERGE)."),
				 errhint("Pass one SELECT that returns the variant, the outcome and optionally a covariate per unit.")));

	types = MemoryContextAlloc(callercxt, sizeof(Datum) * Max(desc->natts, 1));
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		/* a domain's values are read as its base type's */
		if (!att->attisdropped)
			types[ncols++] = ObjectIdGetDatum(getBaseType(att->atttypid));
	}
	SPI_finish();

	result = construct_array(types, ncols, REGTYPEOID, sizeof(Oid), true, TYPALIGN_INT);
	PG_RETURN_ARRAYTYPE_P(result);
}

/*
 * FFNormalCdf is the standard normal distribution function, from erfc()
 * (accurate in both tails).
 */
static double
FFNormalCdf(double x)
{
	return 0.5 * erfc(-x / M_SQRT2);
}

/*
 * ff_normal_cdf is ff._normal_cdf(x): P(Z <= x) for a standard normal Z.
 */
Datum
ff_normal_cdf(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(FFNormalCdf(PG_GETARG_FLOAT8(0)));
}

/*
 * ff_normal_quantile is ff._normal_quantile(p): the x with P(Z <= x) = p,
 * for 0 < p < 1, found by bisection on FFNormalCdf (about 60 steps to the
 * precision of a double; no table of coefficients to get wrong).
 */
Datum
ff_normal_quantile(PG_FUNCTION_ARGS)
{
	double		p = PG_GETARG_FLOAT8(0);
	double		lo = -40.0;
	double		hi = 40.0;
	int			i;

	if (!(p > 0.0 && p < 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("probability %g is not between 0 and 1 (exclusive)", p)));
	for (i = 0; i < 200; i++)
	{
		double		mid = (lo + hi) / 2.0;

		if (mid == lo || mid == hi)
			break;
		if (FFNormalCdf(mid) < p)
			lo = mid;
		else
			hi = mid;
	}
	PG_RETURN_FLOAT8((lo + hi) / 2.0);
}

/*
 * FFUpperGamma returns Q(a, x), the regularised upper incomplete gamma
 * function, for a > 0 and x >= 0: by its power series (of P = 1 - Q) when
 * x < a + 1, else by its continued fraction (modified Lentz), each summed
 * until a term no longer changes the result.
 */
static double
FFUpperGamma(double a, double x)
{
	double		log_prefix;
	int			n;

	if (x <= 0.0)
		return 1.0;
	log_prefix = a * log(x) - x - lgamma(a);
	if (x < a + 1.0)
	{
		double		term = 1.0 / a;
		double		sum = term;

		for (n = 1; n < 10000; n++)
		{
			term *= x / (a + n);
			sum += term;
			if (fabs(term) < fabs(sum) * 1e-16)
				break;
		}
		return Max(0.0, 1.0 - sum * exp(log_prefix));
	}
	else
	{
		const double tiny = 1e-300;
		double		b = x + 1.0 - a;
		double		c = 1.0 / tiny;
		double		d = 1.0 / b;
		double		h = d;

		for (n = 1; n < 10000; n++)
		{
			double		an = -n * (n - a);
			double		delta;

			b += 2.0;
			d = an * d + b;
			if (fabs(d) < tiny)
				d = tiny;
			c = b + an / c;
			if (fabs(c) < tiny)
				c = tiny;
			d = 1.0 / d;
			delta = d * c;
			h *= delta;
			if (fabs(delta - 1.0) < 1e-16)
				break;
		}
		return Min(1.0, exp(log_prefix) * h);
	}
}

/*
 * ff_chi_square_sf is ff._chi_square_sf(x, df): P(X >= x) for a chi-square
 * X with df degrees of freedom, Q(df / 2, x / 2).
 */
Datum
ff_chi_square_sf(PG_FUNCTION_ARGS)
{
	double		x = PG_GETARG_FLOAT8(0);
	int32		df = PG_GETARG_INT32(1);

	if (df < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("degrees of freedom must be at least 1, not %d", df)));
	if (isnan(x))
		PG_RETURN_FLOAT8(x);
	PG_RETURN_FLOAT8(FFUpperGamma(df / 2.0, x / 2.0));
}
