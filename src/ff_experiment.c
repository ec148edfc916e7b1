/*-------------------------------------------------------------------------
 *
 * ff_experiment.c
 *	  The numerical helpers of experiment analysis (ff.experiment_results,
 *	  src/sql/086_experiments.sql): the column types a query returns, the
 *	  standard normal distribution and its quantile, and the upper tail of
 *	  the chi-square distribution.
 *
 * The analysis itself is SQL: the caller's query is aggregated per variant
 * (1.24: by the aggregate ff._experiment_moments below; before, by avg,
 * var_samp and covar_samp), and the few numbers per variant are turned into
 * lifts, intervals and probabilities by PL/pgSQL.  What SQL lacks is here:
 * PostgreSQL 15 has no erf(), no normal quantile and no incomplete gamma
 * function, and its float8 aggregates add the values themselves, so a large
 * common offset (1e10 plus a fraction, a million units) lost the fractions
 * in the running sum.
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
#include "utils/float.h"
#include "utils/plancache.h"

PG_FUNCTION_INFO_V1(ff_single_statement);
PG_FUNCTION_INFO_V1(ff_query_result_types);
PG_FUNCTION_INFO_V1(ff_normal_cdf);
PG_FUNCTION_INFO_V1(ff_normal_quantile);
PG_FUNCTION_INFO_V1(ff_chi_square_sf);
PG_FUNCTION_INFO_V1(ff_experiment_moments_accum);
PG_FUNCTION_INFO_V1(ff_experiment_moments_combine);

/*
 * The state of ff._experiment_moments(outcome, covariate): the sums of the
 * values' differences from a shift (the first value seen), so that they
 * stay small whatever the values' common offset ("shifted data" sums: no
 * fraction is lost in a large running sum, and the variance is not the
 * difference of two huge numbers).  A float8[] of FF_MOM_LEN elements; the
 * covariate is given for every unit or for none (a query without one), and
 * its part stays empty then.
 */
#define FF_MOM_N	0			/* units */
#define FF_MOM_KY	1			/* the outcome's shift */
#define FF_MOM_SY	2			/* sum of (y - ky) */
#define FF_MOM_SYY	3			/* sum of (y - ky)^2 */
#define FF_MOM_NX	4			/* units with a covariate */
#define FF_MOM_KX	5			/* the covariate's shift */
#define FF_MOM_SX	6			/* sum of (x - kx) */
#define FF_MOM_SXX	7			/* sum of (x - kx)^2 */
#define FF_MOM_SXY	8			/* sum of (y - ky)(x - kx), over those units */
#define FF_MOM_LEN	9

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

/*
 * FFMomentsState returns the elements of a moments state (FF_MOM_LEN
 * float8s), or raises an error for anything else.
 */
static float8 *
FFMomentsState(ArrayType *a)
{
	if (ARR_NDIM(a) != 1 || ARR_DIMS(a)[0] != FF_MOM_LEN || ARR_HASNULL(a) ||
		ARR_ELEMTYPE(a) != FLOAT8OID)
		elog(ERROR, "ff._experiment_moments: a state of %d float8 elements expected", FF_MOM_LEN);
	return (float8 *) ARR_DATA_PTR(a);
}

/*
 * FFMomentsCheck raises the overflow error of float8 arithmetic when a sum
 * became infinite from finite values.
 */
static void
FFMomentsCheck(const float8 *m, bool finite_inputs)
{
	int			i;

	if (!finite_inputs)
		return;
	for (i = 0; i < FF_MOM_LEN; i++)
		if (isinf(m[i]))
			float_overflow_error();
}

/*
 * ff_experiment_moments_accum is the transition function of
 * ff._experiment_moments(float8, float8): adds one unit's outcome and
 * covariate (NULL: none) to the state (its initial condition is all zeros;
 * the first outcome and covariate become the shifts).  As an aggregate it
 * changes the state in place, as PostgreSQL's float8_accum does.
 */
Datum
ff_experiment_moments_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state;
	float8	   *m;
	float8		y;
	float8		dy;

	state = AggCheckCallContext(fcinfo, NULL) ? PG_GETARG_ARRAYTYPE_P(0) : PG_GETARG_ARRAYTYPE_P_COPY(0);
	if (PG_ARGISNULL(1))
		PG_RETURN_ARRAYTYPE_P(state);
	m = FFMomentsState(state);
	y = PG_GETARG_FLOAT8(1);
	if (m[FF_MOM_N] == 0)
		m[FF_MOM_KY] = y;
	dy = y - m[FF_MOM_KY];
	m[FF_MOM_N] += 1;
	m[FF_MOM_SY] += dy;
	m[FF_MOM_SYY] += dy * dy;
	if (!PG_ARGISNULL(2))
	{
		float8		x = PG_GETARG_FLOAT8(2);
		float8		dx;

		if (m[FF_MOM_NX] == 0)
			m[FF_MOM_KX] = x;
		dx = x - m[FF_MOM_KX];
		m[FF_MOM_NX] += 1;
		m[FF_MOM_SX] += dx;
		m[FF_MOM_SXX] += dx * dx;
		m[FF_MOM_SXY] += dy * dx;
		FFMomentsCheck(m, !isinf(y) && !isinf(x));
	}
	else
		FFMomentsCheck(m, !isinf(y));
	PG_RETURN_ARRAYTYPE_P(state);
}

/*
 * ff_experiment_moments_combine is the combine function of
 * ff._experiment_moments (parallel aggregation): the second state's sums
 * are moved to the first one's shifts and added.
 */
Datum
ff_experiment_moments_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *a;
	ArrayType  *b;
	float8	   *ma;
	float8	   *mb;
	float8		d;
	float8		e;
	float8		sy;

	a = AggCheckCallContext(fcinfo, NULL) ? PG_GETARG_ARRAYTYPE_P(0) : PG_GETARG_ARRAYTYPE_P_COPY(0);
	b = PG_GETARG_ARRAYTYPE_P(1);
	ma = FFMomentsState(a);
	mb = FFMomentsState(b);
	if (mb[FF_MOM_N] == 0)
		PG_RETURN_ARRAYTYPE_P(a);
	if (ma[FF_MOM_N] == 0)
	{
		memcpy(ma, mb, sizeof(float8) * FF_MOM_LEN);
		PG_RETURN_ARRAYTYPE_P(a);
	}
	/* b's differences from its shifts, as differences from a's */
	d = mb[FF_MOM_KY] - ma[FF_MOM_KY];
	sy = mb[FF_MOM_SY];
	ma[FF_MOM_N] += mb[FF_MOM_N];
	ma[FF_MOM_SY] += sy + mb[FF_MOM_N] * d;
	ma[FF_MOM_SYY] += mb[FF_MOM_SYY] + 2 * d * sy + mb[FF_MOM_N] * d * d;
	if (mb[FF_MOM_NX] > 0)
	{
		if (ma[FF_MOM_NX] == 0)
			ma[FF_MOM_KX] = mb[FF_MOM_KX];
		e = mb[FF_MOM_KX] - ma[FF_MOM_KX];
		ma[FF_MOM_NX] += mb[FF_MOM_NX];
		ma[FF_MOM_SXY] += mb[FF_MOM_SXY] + e * sy + d * mb[FF_MOM_SX] + mb[FF_MOM_NX] * d * e;
		ma[FF_MOM_SX] += mb[FF_MOM_SX] + mb[FF_MOM_NX] * e;
		ma[FF_MOM_SXX] += mb[FF_MOM_SXX] + 2 * e * mb[FF_MOM_SX] + mb[FF_MOM_NX] * e * e;
	}
	FFMomentsCheck(ma, !isinf(ma[FF_MOM_KY]) && !isinf(ma[FF_MOM_KX]));
	PG_RETURN_ARRAYTYPE_P(a);
}
