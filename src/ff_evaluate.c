/*-------------------------------------------------------------------------
 *
 * ff_evaluate.c
 *	  SQL-callable evaluation functions: ff.evaluate, the typed getters,
 *	  ff.evaluate_all, ff.json_logic, ff._check_rule, ff.bucket and
 *	  ff.cache_info.
 *
 * Flag evaluation never raises an error for a flag problem: unknown flags
 * and environments, broken definitions, targeting failures, type
 * mismatches and invalid contexts come back as OpenFeature reasons and
 * error codes (ff.evaluate) or as the caller's default (the getters).
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_evaluate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <xxhash.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "feature_flags.h"
#include "ff_asof.h"
#include "ff_cache.h"
#include "ff_jsonb.h"
#include "ff_names.h"
#include "ff_row.h"
#include "ff_rowplan.h"
#include "ff_stats.h"

/* the JSON type a caller asks for */
typedef enum FFWant
{
	FF_WANT_ANY = 0,
	FF_WANT_BOOLEAN,
	FF_WANT_STRING,
	FF_WANT_NUMBER,
	FF_WANT_INTEGER,
	FF_WANT_OBJECT,
	FF_WANT_ARRAY
} FFWant;

/*
 * FFWantName names a requested type in messages.
 */
static const char *
FFWantName(FFWant want)
{
	switch (want)
	{
		case FF_WANT_BOOLEAN:
			return "boolean";
		case FF_WANT_STRING:
			return "string";
		case FF_WANT_NUMBER:
			return "number";
		case FF_WANT_INTEGER:
			return "integer";
		case FF_WANT_OBJECT:
			return "object";
		case FF_WANT_ARRAY:
			return "array";
		default:
			return "value";
	}
}

/* the evaluation context argument: a jsonb document or a table row */
typedef struct FFInput
{
	Jsonb	   *jsonb;			/* NULL = {} (also for a NULL row) */
	bool		is_row;
	Datum		row;
	FFRowColumns *cols;			/* (1.21) the row as columns, instead of row */

	/*
	 * Point-in-time evaluation (ff.evaluate_at): segments come from this
	 * callback instead of the cache's, with segment_arg as the data's extra,
	 * and $flagd.timestamp is timestamp instead of the statement's start.
	 */
	bool		(*segment) (void *opaque, const char *name, size_t namelen,
							const char *key, size_t keylen, JLSegmentInfo *info);
	void	   *segment_arg;
	bool		fixed_timestamp;
	int64		timestamp;
} FFInput;

/* ff.evaluate_draft's compiled draft, kept at the call site */
typedef struct FFDraft
{
	MemoryContext cxt;			/* everything below */
	int64		gen_id;			/* the cache generation it was merged in */
	Jsonb	   *draft;			/* the draft argument, as given */
	char	   *envname;		/* the environment argument ("" = none) */
	char	   *key;
	FFCacheFlag *flag;
} FFDraft;

/* per-call-site cache in fn_extra */
typedef struct FFCallInfo
{
	bool		checked;
	bool		row_context;	/* argument 1 is a row, not jsonb */
	FFRowColumns *cols;			/* (1.21) a _cols function's columns */
	TupleDesc	result_desc;	/* ff.evaluate's result type */
	FFDraft    *draft;			/* ff.evaluate_draft only */
	FFAsOfFunctions *asof_fns;	/* ff._evaluate_image only */

	/*
	 * A jsonb context stored with a 1-byte header (one of up to 126 bytes
	 * read from a table row) is copied here with the 4-byte header that
	 * reading a jsonb needs, instead of into a new palloc'd copy per row
	 * (FFJsonbArgInPlace).  It holds the context until the next call.
	 */
	FFUnshortBuf context_buf;
} FFCallInfo;

/*
 * The flags found last, per backend.  While the cache generation id is
 * unchanged, a call with the same flag key and environment name reuses
 * the environment and flag pointers and skips both hash lookups; a new
 * generation has a new id, so entries of an old one never match.  It
 * lives across statements (unlike fn_extra), which also serves one-row
 * statements such as a prepared SELECT ff.get_bool(...).
 */
#define FF_RECENT_FLAGS 8
#define FF_RECENT_NAME_MAX 64	/* longer keys and names are not remembered */

typedef struct FFRecentFlag
{
	int64		gen_id;			/* 0 = empty */
	FFCacheEnv *env;
	FFCacheFlag *flag;
	uint8		keylen;
	uint8		envlen;			/* 0 = the default environment */
	char		key[FF_RECENT_NAME_MAX];
	char		envname[FF_RECENT_NAME_MAX];
} FFRecentFlag;

static FFRecentFlag FFRecent[FF_RECENT_FLAGS];
static int	FFRecentLast = 0;	/* the entry found or stored last */
static int	FFRecentNext = 0;	/* the entry to replace next */

/* the outcome of one flag evaluation */
typedef struct FFOutcome
{
	FFReason	reason;
	FFErrorCode error;
	char	   *message;		/* NULL unless error */
	FFCacheEnv *env;			/* NULL if the environment was not found */
	char	   *missing_env;	/* the name of that environment, if named */
	FFCacheFlag *flag;			/* NULL if the flag was not found */
	Jsonb	   *metadata;		/* without a flag: the metadata to report
								 * instead of env's (a history image's) */
	int			variant;		/* -1 = the caller's default */
	int64		int_value;		/* the variant's exact value, when a whole
								 * number was requested and it is one */
} FFOutcome;

#define FF_STANDARD_OPERATORS \
	"var, missing, missing_some, if, ==, ===, !=, !==, !, !!, and, or, " \
	">, >=, <, <=, +, -, *, /, %, min, max, cat, substr, in, merge, map, " \
	"filter, reduce, all, some, none, fractional, sem_ver, starts_with, " \
	"ends_with"

/* ---------------------------------------------------------------------
 * Evaluation
 * --------------------------------------------------------------------- */

/*
 * FFOutcomeError fills an error outcome.
 */
static void
FFOutcomeError(FFOutcome *out, FFErrorCode code, const char *fmt,...) pg_attribute_printf(3, 4);

static void
FFOutcomeError(FFOutcome *out, FFErrorCode code, const char *fmt,...)
{
	char		buf[512];
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* a message cut by the buffer must not end inside a character */
	if (n >= (int) sizeof(buf))
		buf[pg_mbcliplen(buf, sizeof(buf) - 1, sizeof(buf) - 1)] = '\0';
	out->reason = FF_REASON_ERROR;
	out->error = code;
	out->message = pstrdup(buf);
	out->variant = -1;
}

/*
 * FFVariantInt64 tells whether a number variant is a whole number in the
 * bigint range, and gives it in *result: as the cache computed it exactly
 * from the stored numeric when the flag was compiled (FFVariantIntOf).
 */
static inline bool
FFVariantInt64(const FFCacheFlag *flag, int variant, int64 *result)
{
	if (flag->variant_int == NULL || !flag->variant_int[variant].whole)
		return false;
	*result = flag->variant_int[variant].value;
	return true;
}

/*
 * FFWantFromDefault derives the requested type from the JSON type of the
 * caller's default (SQL NULL and JSON null request no particular type).
 */
static FFWant
FFWantFromDefault(Jsonb *def)
{
	JsonbValue	v;

	if (def == NULL)
		return FF_WANT_ANY;
	if (JB_ROOT_IS_SCALAR(def))
	{
		JsonbExtractScalar(&def->root, &v);
		switch (v.type)
		{
			case jbvBool:
				return FF_WANT_BOOLEAN;
			case jbvString:
				return FF_WANT_STRING;
			case jbvNumeric:
				return FF_WANT_NUMBER;
			default:
				return FF_WANT_ANY;
		}
	}
	return JB_ROOT_IS_OBJECT(def) ? FF_WANT_OBJECT : FF_WANT_ARRAY;
}

/*
 * FFTypeCheck checks the chosen variant's value against the requested type
 * and turns the outcome into TYPE_MISMATCH when it does not fit.
 */
static void
FFTypeCheck(FFOutcome *out, FFWant want)
{
	const FFVariant *var;
	const JLValue *v;
	bool		ok;

	if (want == FF_WANT_ANY || out->variant < 0)
		return;
	var = &out->flag->flag.variants[out->variant];
	v = var->value;
	switch (want)
	{
		case FF_WANT_BOOLEAN:
			ok = v->type == JL_BOOL;
			break;
		case FF_WANT_STRING:
			ok = v->type == JL_STRING;
			break;
		case FF_WANT_NUMBER:
			ok = v->type == JL_NUMBER;
			break;
		case FF_WANT_INTEGER:
			if (v->type == JL_NUMBER &&
				!FFVariantInt64(out->flag, out->variant, &out->int_value))
			{
				char		buf[64];

				snprintf(buf, sizeof(buf), "%.17g", v->u.number);
				FFOutcomeError(out, FF_ERROR_TYPE_MISMATCH,
							   "value %s of variant \"%s\" of flag \"%s\" is not a whole number in the bigint range",
							   buf, var->name, out->flag->key);
				return;
			}
			ok = v->type == JL_NUMBER;
			break;
		case FF_WANT_OBJECT:
			ok = v->type == JL_OBJECT;
			break;
		case FF_WANT_ARRAY:
			/* variants are never arrays once validated */
			ok = v->type == JL_ARRAY;
			break;
		default:
			ok = false;
			break;
	}
	if (!ok)
	{
		int			variant = out->variant;

		FFOutcomeError(out, FF_ERROR_TYPE_MISMATCH,
					   "flag \"%s\" variant \"%s\" is %s %s, but %s %s was requested",
					   out->flag->key, out->flag->flag.variants[variant].name,
					   v->type == JL_OBJECT || v->type == JL_ARRAY ? "an" : "a",
					   JLTypeNameOf(v->type),
					   (want == FF_WANT_INTEGER || want == FF_WANT_OBJECT ||
						want == FF_WANT_ARRAY) ? "an" : "a",
					   FFWantName(want));
	}
}

/*
 * FFEpochSeconds converts a timestamp to Unix epoch seconds, rounding down.
 */
static int64
FFEpochSeconds(TimestampTz ts)
{
	int64		secs = ts / USECS_PER_SEC;

	if (ts < 0 && ts % USECS_PER_SEC != 0)
		secs--;
	return secs + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
}

/*
 * FFStatementEpochSeconds returns the statement start time as Unix epoch
 * seconds ($flagd.timestamp), stable within a statement.
 */
static int64
FFStatementEpochSeconds(void)
{
	return FFEpochSeconds(GetCurrentStatementStartTimestamp());
}

/*
 * FFEvaluateFlag resolves a found flag for one context.
 */
static void
FFEvaluateFlag(FFCacheEnv *env, FFCacheFlag *flag, const FFInput *input,
			   FFWant want, FFOutcome *out)
{
	JLContext	ctx;
	FFJsonbData data;
	FFRowData	rdata;
	NameData	big_column;
	FFResolution res;
	Jsonb	   *context = input->jsonb;

	out->env = env;
	out->flag = flag;
	out->variant = -1;
	out->message = NULL;
	out->error = FF_ERROR_NONE;

	/*
	 * A disabled flag is the kill switch: flagd answers DISABLED without
	 * running targeting, so neither a definition that cannot be evaluated
	 * nor the context changes that answer.
	 */
	if (!flag->flag.enabled)
	{
		out->reason = FF_REASON_DISABLED;
		return;
	}
	if (flag->broken)
	{
		FFOutcomeError(out, FF_ERROR_PARSE_ERROR, "%s", flag->broken_message);
		return;
	}
	if (input->is_row)
	{
		if (input->cols != NULL)
			FFRowDataInitColumns(&rdata, input->cols->desc, input->cols->serial,
								 input->cols->values, input->cols->isnull);
		else
			FFRowDataInit(&rdata, input->row);
		FFContextInitRow(&ctx, &rdata);
		rdata.base.extra = env;
	}
	else
	{
		if (context != NULL && (JB_ROOT_IS_SCALAR(context) || !JB_ROOT_IS_OBJECT(context)))
		{
			FFOutcomeError(out, FF_ERROR_INVALID_CONTEXT,
						   "evaluation context must be a JSON object, not %s",
						   JB_ROOT_IS_SCALAR(context) ? "a scalar" : "an array");
			return;
		}
		FFContextInitJsonb(&ctx, &data, context);
		data.extra = env;
	}
	ctx.segment = FFCacheSegmentCallback;
	ctx.inject_flagd = true;
	if (unlikely(input->segment != NULL))
	{
		ctx.segment = input->segment;
		if (input->is_row)
			rdata.base.extra = input->segment_arg;
		else
			data.extra = input->segment_arg;
	}
	ctx.timestamp = unlikely(input->fixed_timestamp) ? input->timestamp :
		FFStatementEpochSeconds();

	/* FFResolve sets every field of res (no memset of its message buffer) */
	FFResolve(&flag->flag, &ctx,
			  FFScratchArena((Size) ff_evaluation_memory * 1024), &res);
	if (input->is_row)
	{
		/* (1.20) the name of a column too large to read, while known */
		if (rdata.base.no_memory && rdata.base.no_memory_attnum > 0)
			namestrcpy(&big_column,
					   NameStr(TupleDescAttr(rdata.desc, rdata.base.no_memory_attnum - 1)->attname));
		FFRowDataRelease(&rdata);
	}
	if (input->is_row ? rdata.base.too_deep : data.too_deep)
	{
		FFOutcomeError(out, FF_ERROR_INVALID_CONTEXT,
					   "evaluation context nests deeper than %d levels",
					   FF_MAX_JSON_DEPTH);
		return;
	}
	if (input->is_row && rdata.base.invalid != NULL)
	{
		FFOutcomeError(out, FF_ERROR_INVALID_CONTEXT, "%s", rdata.base.invalid);
		return;
	}
	if (input->is_row && rdata.base.no_memory && rdata.base.no_memory_attnum > 0)
	{
		/* (1.20) a whole column is read before any of its keys */
		FFOutcomeError(out, FF_ERROR_PARSE_ERROR,
					   "flag \"%s\": evaluation ran out of memory: column \"%s\" of the row is " UINT64_FORMAT " MB expanded, more than ff.evaluation_memory (%s); a compressed or out-of-line value is expanded whole before the rule reads any part of it",
					   flag->key,
					   NameStr(big_column),
					   (rdata.base.no_memory_bytes + 1048575) / 1048576,
					   GetConfigOptionByName("ff.evaluation_memory", NULL, false));
		return;
	}
	if (input->is_row ? rdata.base.no_memory : data.no_memory)
	{
		FFOutcomeError(out, FF_ERROR_PARSE_ERROR,
					   "flag \"%s\": evaluation ran out of memory: the context values the rule reads took more than ff.evaluation_memory (%s) to convert",
					   flag->key, GetConfigOptionByName("ff.evaluation_memory", NULL, false));
		return;
	}
	out->reason = res.reason;
	out->error = res.error_code;
	out->variant = res.reason == FF_REASON_ERROR ? -1 : res.variant;
	if (res.error_code != FF_ERROR_NONE)
		out->message = FFScratchExhausted() ?
			psprintf("%s: the values it computes took more than ff.evaluation_memory (%s)",
					 res.error_message,
					 GetConfigOptionByName("ff.evaluation_memory", NULL, false)) :
			pstrdup(res.error_message);
	FFTypeCheck(out, want);
}

/*
 * FFEvaluateCachedFlag evaluates a flag of the cache for a caller and counts
 * the outcome for the evaluation statistics (ff_stats.c).  Drafts and
 * history images, which are not the live configuration, call
 * FFEvaluateFlag directly and are not counted.
 */
static inline void
FFEvaluateCachedFlag(FFCacheEnv *env, FFCacheFlag *flag, const FFInput *input,
					 FFWant want, FFOutcome *out)
{
	FFEvaluateFlag(env, flag, input, want, out);
	FFStatsCountFlag(env, flag, out->reason, out->error, out->variant);
}

/*
 * FFEnvironmentName picks the environment: the explicit argument, else
 * the ff.environment setting, else none (the default environment).  *len
 * is set to the name's length; the name is not NUL-terminated.
 */
static const char *
FFEnvironmentName(FunctionCallInfo fcinfo, int argno, size_t *len)
{
	if (PG_NARGS() > argno && !PG_ARGISNULL(argno))
	{
		text	   *name = PG_GETARG_TEXT_PP(argno);

		if (VARSIZE_ANY_EXHDR(name) > 0)
		{
			*len = VARSIZE_ANY_EXHDR(name);
			return VARDATA_ANY(name);
		}
	}
	if (ff_environment != NULL && ff_environment[0] != '\0')
	{
		*len = strlen(ff_environment);
		return ff_environment;
	}
	*len = 0;
	return NULL;
}

/*
 * FFRecentMatches reports whether recent entry r holds key and envname
 * of generation gen_id.
 */
static inline bool
FFRecentMatches(const FFRecentFlag *r, int64 gen_id, const char *key,
				size_t keylen, const char *envname, size_t envlen)
{
	return r->gen_id == gen_id && r->keylen == keylen && r->envlen == envlen &&
		JLBytesEqual(r->key, key, keylen) &&
		JLBytesEqual(r->envname, envname, envlen);
}

/*
 * FFRecentFind returns the remembered entry for key and envname in
 * generation gen_id, or NULL.  The entry that matched last is tried first.
 */
static FFRecentFlag *
FFRecentFind(int64 gen_id, const char *key, size_t keylen,
			 const char *envname, size_t envlen)
{
	int			i;

	if (FFRecentMatches(&FFRecent[FFRecentLast], gen_id, key, keylen,
						envname, envlen))
		return &FFRecent[FFRecentLast];
	for (i = 0; i < FF_RECENT_FLAGS; i++)
	{
		if (FFRecentMatches(&FFRecent[i], gen_id, key, keylen, envname, envlen))
		{
			FFRecentLast = i;
			return &FFRecent[i];
		}
	}
	return NULL;
}

/*
 * FFRecentRemember records the environment and flag just found for key
 * and envname, under the id of the cache generation they belong to.
 */
static void
FFRecentRemember(const char *key, size_t keylen, const char *envname,
				 size_t envlen, FFCacheEnv *env, FFCacheFlag *flag)
{
	FFRecentFlag *r;

	if (keylen > FF_RECENT_NAME_MAX || envlen > FF_RECENT_NAME_MAX)
		return;
	r = &FFRecent[FFRecentNext];
	memcpy(r->key, key, keylen);
	if (envlen > 0)
		memcpy(r->envname, envname, envlen);
	r->keylen = (uint8) keylen;
	r->envlen = (uint8) envlen;
	r->env = env;
	r->flag = flag;
	r->gen_id = FFCacheCurrentId();
	FFRecentLast = FFRecentNext;
	FFRecentNext = (FFRecentNext + 1) % FF_RECENT_FLAGS;
}

/*
 * FFEvaluateKey evaluates flag key in environment envname (NULL = the
 * default environment).
 */
static void
FFEvaluateKey(const char *key, size_t keylen, const FFInput *input,
			  const char *envname, size_t envlen, FFWant want, FFOutcome *out)
{
	char	   *missing;
	FFCacheEnv *env;
	FFCacheFlag *flag;
	int64		gen_id;

	memset(out, 0, sizeof(FFOutcome));
	out->variant = -1;
	gen_id = FFCacheBegin();
	if (key != NULL)
	{
		FFRecentFlag *r = FFRecentFind(gen_id, key, keylen, envname, envlen);

		if (r != NULL)
		{
			FFEvaluateCachedFlag(r->env, r->flag, input, want, out);
			return;
		}
	}
	env = FFCacheLookupEnv(envname, envlen, &missing);
	if (env == NULL)
	{
		if (missing == NULL)
			FFOutcomeError(out, FF_ERROR_FLAG_NOT_FOUND,
						   "no environment was given and there is no default environment");
		else
		{
			FFOutcomeError(out, FF_ERROR_FLAG_NOT_FOUND,
						   "environment \"%s\" does not exist",
						   FFNameForMessage(missing));
			out->missing_env = missing;
		}
		FFStatsCountMissing(missing, missing ? strlen(missing) : 0, key, keylen,
							FF_ERROR_FLAG_NOT_FOUND);
		return;
	}
	out->env = env;
	if (key == NULL)
	{
		FFOutcomeError(out, FF_ERROR_FLAG_NOT_FOUND, "flag key is null");
		return;
	}
	flag = FFCacheGetFlag(env, key, keylen);
	if (flag == NULL)
	{
		FFOutcomeError(out, FF_ERROR_FLAG_NOT_FOUND,
					   "flag \"%s\" does not exist in environment \"%s\"",
					   FFNameForMessage(pnstrdup(key, keylen)), env->name);
		FFStatsCountMissing(env->name, strlen(env->name), key, keylen,
							FF_ERROR_FLAG_NOT_FOUND);
		return;
	}
	FFRecentRemember(key, keylen, envname, envlen, env, flag);
	FFEvaluateCachedFlag(env, flag, input, want, out);
}

/*
 * FFGetCallInfo returns the call-site cache, checking once whether the
 * context argument (argument 1) is jsonb or a row.
 */
static FFCallInfo *
FFGetCallInfo(FunctionCallInfo fcinfo)
{
	FFCallInfo *ci = (FFCallInfo *) fcinfo->flinfo->fn_extra;

	if (ci == NULL)
	{
		ci = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FFCallInfo));
		fcinfo->flinfo->fn_extra = ci;
	}
	if (!ci->checked)
	{
		Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, 1);

		if (argtype == REGPROCEDUREOID && PG_NARGS() > FF_COLS_FIRST)
		{
			/* (1.21) a _cols function: the row comes as columns */
			ci->cols = FFRowColumnsPrepare(fcinfo);
			ci->row_context = true;
		}
		else if (argtype == InvalidOid || argtype == JSONBOID)
			ci->row_context = false;
		else if (getBaseType(argtype) == JSONBOID)
			ci->row_context = false;	/* a domain over jsonb */
		else if (FFTypeIsRow(argtype))
			ci->row_context = true;
		else
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("evaluation context must be a row or jsonb, not type %s",
							format_type_be(argtype)),
					 errhint("Pass a table row, as in SELECT ff.get_bool_row('flag', t, false) FROM t, or use the jsonb functions.")));
		ci->checked = true;
	}
	return ci;
}

/*
 * FFJsonbArgInPlace returns jsonb argument argno in a form that can be
 * read in place.  A value with a 1-byte header (a short jsonb read from a
 * table row) is copied into buf, a call site's buffer: detoasting it would
 * palloc a copy for every row.  Any other value, or any value when buf is
 * NULL, is detoasted as usual.  Nothing that outlives the call may point
 * into the result.
 */
static Jsonb *
FFJsonbArgInPlace(FunctionCallInfo fcinfo, int argno, FFUnshortBuf *buf)
{
	struct varlena *v = (struct varlena *) PG_GETARG_POINTER(argno);

	if (buf != NULL && FFIsShortVarlena(v))
		return (Jsonb *) FFUnshortVarlena(buf->data, v);
	return DatumGetJsonbP(PointerGetDatum(v));
}

/*
 * FFEvaluateArgs evaluates with the common argument layout (flag_key text,
 * context jsonb or row, ..., environment text at envarg).  Returns false
 * when the caller's default must be returned.
 */
static bool
FFEvaluateArgs(FunctionCallInfo fcinfo, int envarg, FFWant want, FFOutcome *out)
{
	FFCallInfo *ci = FFGetCallInfo(fcinfo);
	text	   *key = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	FFInput		input;
	size_t		envlen;
	const char *envname = FFEnvironmentName(fcinfo, envarg, &envlen);

	memset(&input, 0, sizeof(input));
	if (ci->cols != NULL)
	{
		FFRowColumnsLoad(fcinfo, ci->cols);
		input.is_row = true;
		input.cols = ci->cols;
	}
	else if (!PG_ARGISNULL(1))
	{
		if (ci->row_context)
		{
			input.is_row = true;
			input.row = PG_GETARG_DATUM(1);
		}
		else
			input.jsonb = FFJsonbArgInPlace(fcinfo, 1, &ci->context_buf);
	}
	FFEvaluateKey(key ? VARDATA_ANY(key) : NULL, key ? VARSIZE_ANY_EXHDR(key) : 0,
				  &input, envname, envlen, want, out);
	return out->reason != FF_REASON_ERROR && out->variant >= 0;
}

/*
 * FFOutcomeValue returns the chosen variant's value.
 */
static inline const JLValue *
FFOutcomeValue(const FFOutcome *out)
{
	return out->flag->flag.variants[out->variant].value;
}

/*
 * FFCopyJsonb copies a jsonb held by the cache into CurrentMemoryContext,
 * so that results never point into a cache generation.
 */
static Jsonb *
FFCopyJsonb(const Jsonb *jb)
{
	Jsonb	   *copy = palloc(VARSIZE(jb));

	memcpy(copy, jb, VARSIZE(jb));
	return copy;
}

/* ---------------------------------------------------------------------
 * ff.evaluate and the typed getters
 * --------------------------------------------------------------------- */

static Datum FFDetailsDatum(TupleDesc tupdesc, text *key, Jsonb *def,
							const FFOutcome *outp);

/*
 * FFDetailsDesc returns the blessed descriptor of ff.evaluation_details,
 * kept in the call-site cache.
 */
static TupleDesc
FFDetailsDesc(FunctionCallInfo fcinfo, FFCallInfo *ci)
{
	TupleDesc	tupdesc = ci->result_desc;

	if (tupdesc == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		ci->result_desc = tupdesc;
		MemoryContextSwitchTo(oldcxt);
	}
	return tupdesc;
}

PG_FUNCTION_INFO_V1(ff_evaluate);

/*
 * ff_evaluate returns the OpenFeature evaluation details of one flag.
 */
Datum
ff_evaluate(PG_FUNCTION_ARGS)
{
	FFCallInfo *ci = FFGetCallInfo(fcinfo);
	TupleDesc	tupdesc = FFDetailsDesc(fcinfo, ci);
	Jsonb	   *def = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	FFOutcome	out;
	text	   *key;

	FFEvaluateArgs(fcinfo, 3, FFWantFromDefault(def), &out);
	key = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	if (out.error == FF_ERROR_FLAG_NOT_FOUND && out.env != NULL &&
		out.flag == NULL && key != NULL)
	{
		/* the environment exists and has no such flag: perhaps a typo */
		const char *closest = FFCacheSuggestFlag(out.env, VARDATA_ANY(key),
												 VARSIZE_ANY_EXHDR(key));

		if (closest != NULL)
			out.message = psprintf("%s (perhaps you meant \"%s\")",
								   out.message, closest);
	}
	else if (out.error == FF_ERROR_FLAG_NOT_FOUND && out.missing_env != NULL)
	{
		/* no such environment (1.12 library): perhaps a typo too */
		const char *closest = FFCacheSuggestEnvironment(out.missing_env);

		if (closest != NULL)
			out.message = psprintf("%s (perhaps you meant \"%s\")",
								   out.message, closest);
	}
	PG_RETURN_DATUM(FFDetailsDatum(tupdesc, key, def, &out));
}

/* room for a short name as a text datum on the stack (FFNameText) */
typedef union FFNameBuf
{
	int32		align;
	char		data[VARHDRSZ + 64];
} FFNameBuf;

/*
 * FFNameText returns name as a text datum: in buf when it fits (reason and
 * error code names always do, variant names mostly), else palloc'd.  The
 * datum lives as long as buf; heap_form_tuple copies it.
 */
static Datum
FFNameText(FFNameBuf *buf, const char *name)
{
	size_t		len = strlen(name);

	if (len > sizeof(buf->data) - VARHDRSZ)
		return CStringGetTextDatum(name);
	SET_VARSIZE(buf->data, VARHDRSZ + len);
	memcpy(buf->data + VARHDRSZ, name, len);
	return PointerGetDatum(buf->data);
}

/*
 * FFDetailsDatum forms the ff.evaluation_details row of an outcome for
 * flag key with the caller's default def.  The variant's value and the
 * metadata are passed to heap_form_tuple as the cache holds them, and the
 * names from stack buffers: the tuple gets its own copy of every value, so
 * the result never points into a cache generation, and a row of a bulk
 * query costs one palloc, the tuple's.
 */
static Datum
FFDetailsDatum(TupleDesc tupdesc, text *key, Jsonb *def, const FFOutcome *outp)
{
	const FFOutcome out = *outp;
	Datum		values[7];
	bool		nulls[7];
	FFNameBuf	variant_buf;
	FFNameBuf	reason_buf;
	FFNameBuf	error_buf;

	memset(nulls, 0, sizeof(nulls));
	if (key)
		values[0] = PointerGetDatum(key);
	else
		nulls[0] = true;

	if (out.reason != FF_REASON_ERROR && out.variant >= 0)
	{
		values[1] = JsonbPGetDatum(out.flag->variant_jsonb[out.variant]);
		values[2] = FFNameText(&variant_buf, out.flag->flag.variants[out.variant].name);
	}
	else
	{
		if (def)
			values[1] = JsonbPGetDatum(def);
		else
			nulls[1] = true;
		nulls[2] = true;
	}
	values[3] = FFNameText(&reason_buf, FFReasonName(out.reason));
	if (out.error != FF_ERROR_NONE)
	{
		values[4] = FFNameText(&error_buf, FFErrorCodeName(out.error));
		values[5] = CStringGetTextDatum(out.message ? out.message : "");
	}
	else
		nulls[4] = nulls[5] = true;

	if (out.flag)
		values[6] = JsonbPGetDatum(out.flag->metadata);
	else if (out.metadata)
		values[6] = JsonbPGetDatum(out.metadata);
	else if (out.env)
		values[6] = JsonbPGetDatum(out.env->metadata);
	else
		values[6] = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));

	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/* ---------------------------------------------------------------------
 * Point-in-time evaluation
 * --------------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(ff_evaluate_image);

/*
 * ff_evaluate_image evaluates a flag as it was at a version of the history,
 * for ff.evaluate_at and ff.evaluate_at_version: arguments (flag_key,
 * context, default_value, environment, at_version, at_time, flag_image,
 * environment_image), the images being the rows of ff.flags and
 * ff.environments as of at_version (NULL: none then).  Its segments are
 * read as of at_version too (ff_asof.c); $flagd.timestamp is at_time, or
 * the statement's start when at_time is NULL.  Like ff.evaluate, it
 * reports a flag problem in the result, never as an ERROR.
 */
Datum
ff_evaluate_image(PG_FUNCTION_ARGS)
{
	FFCallInfo *ci = FFGetCallInfo(fcinfo);
	TupleDesc	tupdesc = FFDetailsDesc(fcinfo, ci);
	text	   *key = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	Jsonb	   *def = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	Jsonb	   *flag_image = PG_ARGISNULL(6) ? NULL : PG_GETARG_JSONB_P(6);
	Jsonb	   *env_image = PG_ARGISNULL(7) ? NULL : PG_GETARG_JSONB_P(7);
	char	   *envname;
	char	   *keystr;
	char	   *when;
	int64		version;
	FFInput		input;
	FFOutcome	out;
	FFAsOf		asof;
	MemoryContext cxt;
	FFCacheFlag *flag;
	char	   *state;
	Datum		result;

	if (PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("environment and at_version must not be NULL")));
	envname = text_to_cstring(PG_GETARG_TEXT_PP(3));
	version = PG_GETARG_INT64(4);
	/* "at version 12", or "at 2026-11-01 10:00:00+00 (version 12)" */
	if (PG_ARGISNULL(5))
		when = psprintf("at version " INT64_FORMAT, version);
	else
		when = psprintf("at %s (version " INT64_FORMAT ")",
						timestamptz_to_str(PG_GETARG_TIMESTAMPTZ(5)), version);

	memset(&out, 0, sizeof(out));
	out.variant = -1;
	if (env_image == NULL)
	{
		FFOutcomeError(&out, FF_ERROR_FLAG_NOT_FOUND,
					   "environment \"%s\" did not exist %s",
					   FFNameForMessage(envname), when);
		PG_RETURN_DATUM(FFDetailsDatum(tupdesc, key, def, &out));
	}
	out.metadata = FFCacheCleanMetadata(FFJsonbMember(env_image, "metadata"));
	if (key == NULL)
	{
		FFOutcomeError(&out, FF_ERROR_FLAG_NOT_FOUND, "flag key is null");
		PG_RETURN_DATUM(FFDetailsDatum(tupdesc, key, def, &out));
	}
	keystr = text_to_cstring(key);
	if (flag_image == NULL)
	{
		FFOutcomeError(&out, FF_ERROR_FLAG_NOT_FOUND,
					   "flag \"%s\" did not exist in environment \"%s\" %s",
					   FFNameForMessage(keystr),
					   FFNameForMessage(envname), when);
		PG_RETURN_DATUM(FFDetailsDatum(tupdesc, key, def, &out));
	}

	memset(&input, 0, sizeof(input));
	if (!PG_ARGISNULL(1))
		input.jsonb = PG_GETARG_JSONB_P(1);
	input.fixed_timestamp = true;
	input.timestamp = PG_ARGISNULL(5) ? FFStatementEpochSeconds() :
		FFEpochSeconds(PG_GETARG_TIMESTAMPTZ(5));

	/* the compiled flag and the segments are this call's only */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "feature_flags evaluate_at",
								ALLOCSET_DEFAULT_SIZES);
	state = FFJsonbMemberString(flag_image, "state");
	flag = FFCacheCompileImage(cxt, keystr,
							   state == NULL || strcmp(state, "DISABLED") != 0,
							   FFJsonbMember(flag_image, "variants"),
							   FFJsonbMemberString(flag_image, "default_variant"),
							   FFJsonbMember(flag_image, "targeting"),
							   FFJsonbMember(flag_image, "metadata"),
							   FFJsonbMember(env_image, "metadata"));
	if (ci->asof_fns == NULL)
		ci->asof_fns = FFAsOfFunctionsCreate(fcinfo->flinfo->fn_mcxt);
	FFAsOfInit(&asof, cxt, ci->asof_fns, envname, version);
	input.segment = FFAsOfSegmentCallback;
	input.segment_arg = &asof;
	FFEvaluateFlag(NULL, flag, &input, FFWantFromDefault(def), &out);
	/* copies what it reports out of cxt */
	result = FFDetailsDatum(tupdesc, key, def, &out);
	MemoryContextDelete(cxt);
	PG_RETURN_DATUM(result);
}

/* ---------------------------------------------------------------------
 * Drafts: evaluating a flag definition that is not stored
 * --------------------------------------------------------------------- */

/* the members a draft may have: flagd's flag object */
static const char *const FFDraftMembers[] = {
	"state", "variants", "defaultVariant", "targeting", "metadata"
};

/*
 * FFDraftTypeName returns the JSON type of a jsonb value, in jsonb_typeof's
 * words.
 */
static const char *
FFDraftTypeName(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "string";
		case jbvNumeric:
			return "number";
		case jbvBool:
			return "boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "array" : "object";
		default:
			return "array";
	}
}

/*
 * FFDraftCheckMember refuses, as a write of the flag would (the validation
 * trigger), a draft member whose shape no stored flag can have: variants
 * that are not all booleans, strings, numbers or all objects, or have an
 * empty name; metadata that is not a flat object; targeting that is not an
 * object.  The compile checks the rest (variants an object and not empty,
 * the default variant one of them, the rule).  Only the members the draft
 * gives are checked: the stored ones were checked when they were written.
 */
static void
FFDraftCheckMember(const char *key, int member, JsonbValue *val)
{
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	v;
	JsonbIteratorToken tok;
	const char *first_type = NULL;

	if (val->type == jbvNull)
		return;
	if (member == 3)
	{
		if (val->type != jbvBinary || JsonContainerIsArray(val->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("draft of flag \"%s\": targeting is a JSON %s, not a JSON Logic rule",
							FFNameForMessage(key), FFDraftTypeName(val)),
					 errhint("Targeting is a JSON Logic object such as {\"if\": [{\"==\": [{\"var\": \"plan\"}, \"pro\"]}, \"on\", \"off\"]}, or null for none.")));
		return;
	}
	if (val->type != jbvBinary || JsonContainerIsArray(val->val.binary.data))
	{
		if (member == 4)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("draft of flag \"%s\": metadata is a JSON %s, not an object",
							FFNameForMessage(key), FFDraftTypeName(val)),
					 errhint("Metadata is a flat JSON object, for example {\"team\": \"payments\", \"ticket\": 42}.")));
		return;					/* variants: the compile says it */
	}
	it = JsonbIteratorInit(val->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		const char *t;

		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &v, true);
		t = FFDraftTypeName(&v);
		if (member == 4)
		{
			if (v.type == jbvBinary)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("draft of flag \"%s\": metadata \"%s\" is a JSON %s",
								FFNameForMessage(key),
								FFNameForMessage(pnstrdup(k.val.string.val, k.val.string.len)), t),
						 errdetail("Metadata values must be strings, numbers or booleans (flagd metadata is flat; null values are dropped).")));
			continue;
		}
		if (k.val.string.len == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("draft of flag \"%s\": a variant has an empty name", FFNameForMessage(key)),
					 errhint("Give every variant a non-empty name.")));
		if (v.type == jbvNull || (v.type == jbvBinary && JsonContainerIsArray(v.val.binary.data)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("draft of flag \"%s\": variant \"%s\" is a JSON %s",
							FFNameForMessage(key),
							FFNameForMessage(pnstrdup(k.val.string.val, k.val.string.len)), t),
					 errhint("Variant values are booleans, strings, numbers or JSON objects, all of one type (wrap an array in an object).")));
		if (first_type == NULL)
			first_type = t;
		else if (strcmp(first_type, t) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("draft of flag \"%s\": variant \"%s\" is a %s, but other variants are %s values",
							FFNameForMessage(key),
							FFNameForMessage(pnstrdup(k.val.string.val, k.val.string.len)), t, first_type),
					 errhint("All variants of a flag have one JSON type: all boolean, all string, all number or all object.")));
	}
}

/*
 * FFDraftValueForMessage returns a draft member's JSON value as an error
 * message shows it, as the validation trigger does: a string in double
 * quotes, anything else as its JSON text, each clipped as names are
 * (FFNameForMessage; a long string kept its opening quote only).
 */
static const char *
FFDraftValueForMessage(JsonbValue *val)
{
	if (val->type == jbvString)
		return psprintf("\"%s\"",
						FFNameForMessage(pnstrdup(val->val.string.val, val->val.string.len)));
	if (val->type == jbvBinary)
		return FFNameForMessage(JsonbToCString(NULL, val->val.binary.data, val->val.binary.len));
	return FFNameForMessage(JsonbToCString(NULL, &JsonbValueToJsonb(val)->root, 0));
}

/*
 * FFDraftNameCmp orders variant names (JsonbValue strings) by their bytes,
 * as ff._variant_list does.
 */
static int
FFDraftNameCmp(const void *a, const void *b)
{
	const JsonbValue *va = (const JsonbValue *) a;
	const JsonbValue *vb = (const JsonbValue *) b;

	return JLCompareBytes(va->val.string.val, va->val.string.len,
						  vb->val.string.val, vb->val.string.len);
}

/*
 * FFDraftVariantsDetail is the DETAIL of a draft whose default variant is
 * not one of its variants: the variant names it has, the first ten in byte
 * order and how many in all, as the validation trigger lists them
 * (ff._variant_list); 0 (no DETAIL) for any other draft.
 */
static int
FFDraftVariantsDetail(Jsonb *variants, const char *default_variant)
{
	StringInfoData buf;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbValue *names;
	JsonbIteratorToken tok;
	int			count;
	int			n = 0;
	int			i;

	if (variants == NULL || default_variant == NULL ||
		JB_ROOT_IS_SCALAR(variants) || !JB_ROOT_IS_OBJECT(variants) ||
		getKeyJsonValueFromContainer(&variants->root, default_variant,
									 strlen(default_variant), NULL) != NULL)
		return 0;
	count = (int) JB_ROOT_COUNT(variants);
	if (count == 0)
		return 0;				/* "has no variants" says it all */
	names = palloc(sizeof(JsonbValue) * count);
	it = JsonbIteratorInit(&variants->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY && n < count)
			names[n++] = v;
	}
	qsort(names, n, sizeof(JsonbValue), FFDraftNameCmp);
	initStringInfo(&buf);
	for (i = 0; i < n && i < 10; i++)
		appendStringInfo(&buf, "%s\"%s\"", i > 0 ? ", " : "",
						 FFNameForMessage(pnstrdup(names[i].val.string.val,
												   names[i].val.string.len)));
	if (n > 10)
		appendStringInfo(&buf, ", ... (%d in all)", n);
	return errdetail("The variants are %s.", buf.data);
}

/*
 * FFDraftCompile merges a draft (a flagd flag object, any member optional)
 * over the stored flag (NULL: none) and compiles it in a new context under
 * parent.  A draft that is not an object, has another member, or does not
 * compile is an ERROR: it is the caller's input, checked once per distinct
 * draft and cache generation.
 */
static FFDraft *
FFDraftCompile(MemoryContext parent, const char *key, Jsonb *draft,
			   FFCacheEnv *env, FFCacheFlag *stored)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "feature_flags draft",
											  ALLOCSET_SMALL_SIZES);
	FFDraft    *d = MemoryContextAllocZero(cxt, sizeof(FFDraft));
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		enabled = stored ? stored->enabled : true;
	Jsonb	   *variants = stored ? stored->variants_raw : NULL;
	char	   *default_variant = stored ? stored->default_variant_raw : NULL;
	Jsonb	   *targeting = stored ? stored->targeting_raw : NULL;
	Jsonb	   *metadata = stored ? stored->metadata_raw : NULL;
	bool		gives_rule = false; /* the draft gives variants or targeting */

	if (JB_ROOT_IS_SCALAR(draft) || !JB_ROOT_IS_OBJECT(draft))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("draft of flag \"%s\" must be a JSON object", FFNameForMessage(key)),
				 errhint("Pass a flagd flag object with any of state, variants, defaultVariant, targeting and metadata, for example '{\"targeting\": {\"fractional\": [[\"on\", 10], [\"off\", 90]]}}'; members left out are the stored flag's.")));
	it = JsonbIteratorInit(&draft->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *member;
		JsonbValue	val;
		int			i;

		if (tok != WJB_KEY)
			continue;
		member = pnstrdup(v.val.string.val, v.val.string.len);
		for (i = 0; i < lengthof(FFDraftMembers); i++)
			if (strcmp(member, FFDraftMembers[i]) == 0)
				break;
		if (i == lengthof(FFDraftMembers))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("draft of flag \"%s\" has an unknown member \"%s\"",
							FFNameForMessage(key), FFNameForMessage(member)),
					 errhint("A draft is a flagd flag object: its members are state, variants, defaultVariant, targeting and metadata.")));
		tok = JsonbIteratorNext(&it, &val, true);
		Assert(tok == WJB_VALUE);
		if (i == 1 || i == 3 || i == 4)
			FFDraftCheckMember(key, i, &val);
		if (i == 1 || i == 3)
			gives_rule = true;
		if (i == 0)
		{
			if (val.type != jbvString ||
				!((val.val.string.len == 7 && memcmp(val.val.string.val, "ENABLED", 7) == 0) ||
				  (val.val.string.len == 8 && memcmp(val.val.string.val, "DISABLED", 8) == 0)))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid state %s in the draft of flag \"%s\" in environment \"%s\"",
								FFDraftValueForMessage(&val), FFNameForMessage(key), env->name),
						 errdetail("The problem is at $.state."),
						 errhint("state is \"ENABLED\" or \"DISABLED\" (upper case); ff.enable_flag() and ff.disable_flag() set it too.")));
			enabled = val.val.string.len == 7;
		}
		else if (i == 1)
			variants = val.type == jbvNull ? NULL : JsonbValueToJsonb(&val);
		else if (i == 2)
		{
			if (val.type == jbvNull)
				default_variant = NULL;
			else if (val.type == jbvString)
				default_variant = pnstrdup(val.val.string.val, val.val.string.len);
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid defaultVariant %s in the draft of flag \"%s\" in environment \"%s\"",
								FFDraftValueForMessage(&val), FFNameForMessage(key), env->name),
						 errhint("defaultVariant is the name of one of the flag's variants (a string), or null for none.")));
		}
		else if (i == 3)
			targeting = val.type == jbvNull ? NULL : JsonbValueToJsonb(&val);
		else
			metadata = val.type == jbvNull ? NULL : JsonbValueToJsonb(&val);
	}

	/*
	 * (1.17) a draft over no stored flag creates one: without variants it
	 * is most likely a mistyped key or environment, and said so (it was
	 * "variants of flag ... are not a JSON object")
	 */
	if (stored == NULL && variants == NULL)
	{
		/* (1.25 library) with the closest key, as ff.enable_flag gives it */
		const char *closest = FFCacheSuggestFlag(env, key, strlen(key));

		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("flag \"%s\" does not exist in environment \"%s\", and the draft gives no variants",
						FFNameForMessage(key), env->name),
				 errdetail("A draft of a flag that does not exist creates it, so it needs the flag's variants."),
				 errhint("%sCheck the flag key and the environment (ff.flags lists them), or give \"variants\" to create the flag.",
						 closest ? psprintf("Perhaps you meant \"%s\". ", closest) : "")));
	}

	d->cxt = cxt;
	d->key = MemoryContextStrdup(cxt, key);
	d->flag = FFCacheCompileImage(cxt, key, enabled, variants, default_variant,
								  targeting, metadata, env->metadata);
	/*
	 * A definition that cannot be used is the draft's error, unless the
	 * stored flag is broken in the same way and the draft gives neither of
	 * the members the rule is compiled from: then the draft answers as
	 * ff.evaluate does for the stored flag (a flag import_flagd stored with
	 * a WARNING can still be previewed, disabled, and so on).
	 */
	if (d->flag->broken &&
		!(stored != NULL && stored->broken && !gives_rule &&
		  stored->broken_message != NULL &&
		  d->flag->broken_message != NULL &&
		  strcmp(stored->broken_message, d->flag->broken_message) == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid draft in environment \"%s\": %s",
						env->name, d->flag->broken_message),
				 FFDraftVariantsDetail(variants, default_variant),
				 errhint("Members left out of the draft are the stored flag's%s.",
						 stored ? "" : " (there is none: give variants)")));
	/* as a write would, refuse a segment the environment does not have */
	if (d->flag->flag.targeting != NULL)
	{
		size_t		nseg = JLRuleSegmentCount(d->flag->flag.targeting);
		size_t		k;

		for (k = 0; k < nseg; k++)
		{
			size_t		len;
			const char *name = JLRuleSegmentName(d->flag->flag.targeting, k, &len);

			if (!FFCacheHasSegment(env, name, len))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("draft of flag \"%s\" uses segment \"%s\", which environment \"%s\" does not have",
								FFNameForMessage(key), FFNameForMessage(pnstrdup(name, len)), env->name),
						 errhint("SELECT name FROM ff.segments WHERE environment = %s lists its segments.",
								 quote_literal_cstr(env->name))));
		}
	}
	return d;
}

PG_FUNCTION_INFO_V1(ff_evaluate_draft);

/*
 * ff_evaluate_draft evaluates a draft of a flag -- a flagd flag object whose
 * members override the stored flag's -- for a context, with the
 * environment's segments and metadata as they are now: what ff.evaluate
 * would answer if the draft were saved.  Arguments (flag_key, context,
 * draft, default_value, environment); the context is a row for
 * ff.evaluate_draft_row.  The compiled draft is kept at the
 * call site while the draft and the cache generation are the same, so a
 * query over many rows compiles it once.
 */
Datum
ff_evaluate_draft(PG_FUNCTION_ARGS)
{
	FFCallInfo *ci = FFGetCallInfo(fcinfo);
	TupleDesc	tupdesc = FFDetailsDesc(fcinfo, ci);
	text	   *key = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	Jsonb	   *def = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	Jsonb	   *draft;
	size_t		envlen;
	const char *envname = FFEnvironmentName(fcinfo, 4, &envlen);
	char	   *missing;
	char	   *keystr;
	FFCacheEnv *env;
	FFDraft    *d = ci->draft;
	FFInput		input;
	FFOutcome	out;
	int64		gen_id;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("draft must not be NULL"),
				 errhint("Pass '{}' to evaluate the stored flag as it is.")));
	draft = PG_GETARG_JSONB_P(2);

	memset(&out, 0, sizeof(out));
	out.variant = -1;
	gen_id = FFCacheBegin();
	env = FFCacheLookupEnv(envname, envlen, &missing);
	if (env == NULL)
	{
		if (missing == NULL)
			FFOutcomeError(&out, FF_ERROR_FLAG_NOT_FOUND,
						   "no environment was given and there is no default environment");
		else
			FFOutcomeError(&out, FF_ERROR_FLAG_NOT_FOUND,
						   "environment \"%s\" does not exist",
						   FFNameForMessage(missing));
		PG_RETURN_DATUM(FFDetailsDatum(tupdesc, key, def, &out));
	}
	out.env = env;
	if (key == NULL)
	{
		FFOutcomeError(&out, FF_ERROR_FLAG_NOT_FOUND, "flag key is null");
		PG_RETURN_DATUM(FFDetailsDatum(tupdesc, key, def, &out));
	}
	keystr = text_to_cstring(key);

	if (d == NULL || d->gen_id != gen_id || strcmp(d->key, keystr) != 0 ||
		strlen(d->envname) != envlen || strncmp(d->envname, envname ? envname : "", envlen) != 0 ||
		VARSIZE(d->draft) != VARSIZE(draft) ||
		memcmp(d->draft, draft, VARSIZE(draft)) != 0)
	{
		FFDraft    *fresh;

		ci->draft = NULL;
		if (d != NULL)
			MemoryContextDelete(d->cxt);
		fresh = FFDraftCompile(fcinfo->flinfo->fn_mcxt, keystr, draft, env,
							   FFCacheGetFlag(env, keystr, strlen(keystr)));
		fresh->gen_id = gen_id;
		fresh->draft = MemoryContextAlloc(fresh->cxt, VARSIZE(draft));
		memcpy(fresh->draft, draft, VARSIZE(draft));
		fresh->envname = MemoryContextAlloc(fresh->cxt, envlen + 1);
		if (envlen > 0)
			memcpy(fresh->envname, envname, envlen);
		fresh->envname[envlen] = '\0';
		ci->draft = d = fresh;
	}

	memset(&input, 0, sizeof(input));
	if (!PG_ARGISNULL(1))
	{
		/* ff.evaluate_draft_row passes a row */
		if (ci->row_context)
		{
			input.is_row = true;
			input.row = PG_GETARG_DATUM(1);
		}
		else
			input.jsonb = PG_GETARG_JSONB_P(1);
	}
	FFEvaluateFlag(env, d->flag, &input, FFWantFromDefault(def), &out);
	PG_RETURN_DATUM(FFDetailsDatum(tupdesc, key, def, &out));
}

/*
 * FF_RETURN_DEFAULT returns argument 2 (the caller's default), or NULL.
 */
#define FF_RETURN_DEFAULT() \
	do { \
		if (PG_ARGISNULL(2)) \
			PG_RETURN_NULL(); \
		PG_RETURN_DATUM(PG_GETARG_DATUM(2)); \
	} while (0)

PG_FUNCTION_INFO_V1(ff_get_bool);

/*
 * ff_get_bool returns a boolean flag's value or the caller's default.
 */
Datum
ff_get_bool(PG_FUNCTION_ARGS)
{
	FFOutcome	out;

	if (!FFEvaluateArgs(fcinfo, 3, FF_WANT_BOOLEAN, &out))
		FF_RETURN_DEFAULT();
	PG_RETURN_BOOL(FFOutcomeValue(&out)->u.boolean);
}

PG_FUNCTION_INFO_V1(ff_get_string);

/*
 * ff_get_string returns a string flag's value or the caller's default.
 */
Datum
ff_get_string(PG_FUNCTION_ARGS)
{
	FFOutcome	out;
	const JLValue *v;

	if (!FFEvaluateArgs(fcinfo, 3, FF_WANT_STRING, &out))
		FF_RETURN_DEFAULT();
	v = FFOutcomeValue(&out);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(v->u.string.ptr, (int) v->u.string.len));
}

PG_FUNCTION_INFO_V1(ff_get_int);

/*
 * ff_get_int returns a number flag's whole value or the caller's default
 * (also when the value has a fractional part).
 */
Datum
ff_get_int(PG_FUNCTION_ARGS)
{
	FFOutcome	out;

	if (!FFEvaluateArgs(fcinfo, 3, FF_WANT_INTEGER, &out))
		FF_RETURN_DEFAULT();
	/* FFTypeCheck found a whole number in the bigint range and kept it */
	PG_RETURN_INT64(out.int_value);
}

PG_FUNCTION_INFO_V1(ff_get_float);

/*
 * ff_get_float returns a number flag's value or the caller's default
 * (also when the stored number is beyond the double precision range).
 */
Datum
ff_get_float(PG_FUNCTION_ARGS)
{
	FFOutcome	out;

	if (!FFEvaluateArgs(fcinfo, 3, FF_WANT_NUMBER, &out))
		FF_RETURN_DEFAULT();
	/* a stored number beyond the double range (1e1000) is no usable float */
	if (!isfinite(FFOutcomeValue(&out)->u.number))
		FF_RETURN_DEFAULT();
	PG_RETURN_FLOAT8(FFOutcomeValue(&out)->u.number);
}

PG_FUNCTION_INFO_V1(ff_get_object);

/*
 * ff_get_object returns an object flag's value or the caller's default.
 */
Datum
ff_get_object(PG_FUNCTION_ARGS)
{
	FFOutcome	out;

	if (!FFEvaluateArgs(fcinfo, 3, FF_WANT_OBJECT, &out))
		FF_RETURN_DEFAULT();
	PG_RETURN_JSONB_P(FFCopyJsonb(out.flag->variant_jsonb[out.variant]));
}

/* ---------------------------------------------------------------------
 * ff.evaluate_all
 * --------------------------------------------------------------------- */

/*
 * FFJsonbKeyOrderCmp orders flags the way a jsonb object orders its keys:
 * shorter first, then bytewise.
 */
static int
FFJsonbKeyOrderCmp(const void *a, const void *b)
{
	const FFCacheFlag *fa = *(const FFCacheFlag *const *) a;
	const FFCacheFlag *fb = *(const FFCacheFlag *const *) b;

	return JLCompareKeys(fa->key, fa->keylen, fb->key, fb->keylen);
}

/*
 * FFAllOrder returns the environment's flags in jsonb key order, sorted
 * once per cache generation, after reading those not read yet: env->nflags
 * counts them all then.
 */
static FFCacheFlag **
FFAllOrder(FFCacheEnv *env)
{
	if (env->all_order == NULL)
	{
		FFCacheFlag **order;

		FFCacheLoadAllFlags(env);

		order = MemoryContextAlloc(env->cxt,
								   sizeof(FFCacheFlag *) * Max(env->nflags, 1));
		if (env->nflags > 0)
			memcpy(order, env->flag_list, sizeof(FFCacheFlag *) * env->nflags);
		qsort(order, env->nflags, sizeof(FFCacheFlag *), FFJsonbKeyOrderCmp);
		env->all_order = order;
	}
	return env->all_order;
}

/*
 * FFSetString fills a jsonb string value (NULL = JSON null).
 */
static void
FFSetString(JsonbValue *v, const char *str, size_t len)
{
	if (str == NULL)
		v->type = jbvNull;
	else
	{
		v->type = jbvString;
		v->val.string.val = (char *) str;
		v->val.string.len = (int) len;
	}
}

/*
 * FFStoredJsonbValue makes a stored jsonb document (a variant's value)
 * usable as a member of an in-memory object: scalars as they are,
 * containers expanded into an in-memory tree (JsonbValueToJsonb does not
 * take binary values).
 */
static void
FFStoredJsonbValue(Jsonb *jb, JsonbValue *out)
{
	JsonbParseState *state = NULL;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	JsonbValue *res = NULL;

	if (JB_ROOT_IS_SCALAR(jb))
	{
		JsonbExtractScalar(&jb->root, out);
		return;
	}
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
		res = pushJsonbValue(&state, tok,
							 tok < WJB_BEGIN_ARRAY ? &v : NULL);
	*out = *res;
}

/* one flag's entry of the evaluate_all result */
typedef struct FFAllEntry
{
	JsonbValue	obj;
	JsonbPair	pairs[5];
} FFAllEntry;

/* evaluate_all's work arrays, kept between calls for up to this many flags */
#define FF_ALL_KEEP_MAX 4096

/*
 * FFAllBuffers returns the work arrays of evaluate_all for n flags.  Up to
 * FF_ALL_KEEP_MAX flags they are kept between calls (under 2 MB), so that
 * a query calling evaluate_all for many users does not allocate and free
 * half a megabyte per row; larger environments get them per call.
 */
static void
FFAllBuffers(int n, JsonbPair **pairs, FFAllEntry **entries)
{
	static JsonbPair *kept_pairs = NULL;
	static FFAllEntry *kept_entries = NULL;
	static int	kept_n = 0;

	if (n > FF_ALL_KEEP_MAX)
	{
		*pairs = palloc(sizeof(JsonbPair) * n);
		*entries = palloc(sizeof(FFAllEntry) * n);
		return;
	}
	if (n > kept_n || kept_pairs == NULL)
	{
		int			want = Max(n, 64);
		Size		pairs_size = MAXALIGN(sizeof(JsonbPair) * want);
		char	   *mem;

		if (kept_pairs != NULL)
		{
			pfree(kept_pairs);
			kept_pairs = NULL;
			kept_entries = NULL;
			kept_n = 0;
		}
		/* one allocation: an ERROR leaves both kept arrays or neither */
		mem = MemoryContextAlloc(TopMemoryContext,
								 pairs_size + sizeof(FFAllEntry) * want);
		kept_pairs = (JsonbPair *) mem;
		kept_entries = (FFAllEntry *) (mem + pairs_size);
		kept_n = want;
	}
	*pairs = kept_pairs;
	*entries = kept_entries;
}

/*
 * FFMissingEnvironmentError raises ff.evaluate_all's ERROR for an
 * environment that does not exist, as the administration functions word
 * it: the DETAIL says when the name came from the ff.environment setting,
 * and the HINT names the closest environment and lists them all, to a role
 * that may read them.
 */
static pg_attribute_noreturn() void
FFMissingEnvironmentError(const char *missing, bool from_setting)
{
	const char *closest;
	char	   *names = FFCacheEnvironmentNames(missing, &closest);
	char	   *perhaps = closest != NULL ?
		psprintf("Perhaps you meant \"%s\". ", closest) : "";

	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("environment \"%s\" does not exist", FFNameForMessage(missing)),
			 from_setting ? errdetail("The name comes from the ff.environment setting.") : 0,
			 names != NULL && FFNameIsValid(missing) ?
			 errhint("%sExisting environments: %s. Create it with SELECT ff.create_environment(%s);",
					 perhaps, names, quote_literal_cstr(missing)) :
			 names != NULL ?
			 errhint("%sExisting environments: %s. No environment can be named so: an environment name starts with a letter or digit, followed by at most 199 letters, digits, \".\", \"_\", \":\" or \"-\".",
					 perhaps, names) :
			 errhint("The environments are the rows of ff.environments.")));
}

/*
 * FF_ALL_MAX_SIZE is how much of ff.evaluate_all's result the values and
 * entries may take: jsonb's limit on the elements of an object
 * (JENTRY_OFFLENMASK, 256 MB), less a margin for what the count leaves out.
 */
#define FF_ALL_MAX_SIZE ((Size) JENTRY_OFFLENMASK - 1024 * 1024)

/*
 * FF_ALL_ENTRY_SIZE bounds what an entry of ff.evaluate_all's result takes
 * besides its flag key, value, variant name and message: the key's and the
 * value's JEntries in the result (8 bytes), the entry object's alignment
 * (3) and header (4), five JEntries of its own (40), its member names
 * ("value", "reason", "variant", "error_code", "error_message": 41), a
 * reason and an error code (at most 15 and 21 bytes).
 */
#define FF_ALL_ENTRY_SIZE 160

/* FF_ALL_LEFT_OUT_SIZE bounds the message of a value left out (FFAllLeaveOut) */
#define FF_ALL_LEFT_OUT_SIZE 160

/*
 * FFAllLeaveOut makes ff.evaluate_all's result fit in a jsonb value: in key
 * order, a flag's value that does not fit with the values before it and
 * fixed (what every entry takes besides its value, with room for this
 * message) becomes an error entry (reason ERROR, error code GENERAL).
 */
static void
FFAllLeaveOut(FFCacheFlag **order, JsonbPair *pairs, FFAllEntry *entries, int n,
			  Size fixed)
{
	Size		total = fixed;
	int			i;

	for (i = 0; i < n; i++)
	{
		FFAllEntry *e = &entries[i];
		FFCacheFlag *flag = order[i];
		JsonbValue *variant = &e->pairs[2].value;
		int			v;
		Size		size;
		char	   *message;

		if (variant->type != jbvString)
			continue;			/* no value: an error, or no variant */
		v = FFFindVariant(&flag->flag, variant->val.string.val, variant->val.string.len);
		Assert(v >= 0);
		size = VARSIZE(flag->variant_jsonb[v]);
		if (size <= FF_ALL_MAX_SIZE && total + size <= FF_ALL_MAX_SIZE)
		{
			total += size;
			continue;
		}
		message = psprintf("the value of its variant (%zu bytes) does not fit in the result of ff.evaluate_all, a jsonb value of at most 256 MB: evaluate this flag alone",
						   size);
		Assert(strlen(message) <= FF_ALL_LEFT_OUT_SIZE);
		e->pairs[0].value.type = jbvNull;
		FFSetString(&e->pairs[1].value, "ERROR", 5);
		variant->type = jbvNull;
		FFSetString(&e->pairs[3].key, "error_code", 10);
		FFSetString(&e->pairs[3].value, "GENERAL", 7);
		FFSetString(&e->pairs[4].key, "error_message", 13);
		FFSetString(&e->pairs[4].value, message, strlen(message));
		e->obj.val.object.nPairs = 5;
		pairs[i].value = e->obj;
	}
}

PG_FUNCTION_INFO_V1(ff_evaluate_all);

/*
 * ff_evaluate_all evaluates every flag of an environment for one context:
 * {"flag": {"value": ..., "variant": ..., "reason": ...}, ...}, with
 * "error_code" and "error_message" added to failed flags.  The result is
 * built as one in-memory object whose members are already in jsonb key
 * order (flags sorted once per generation; the member names of each flag's
 * object are of distinct lengths, written shortest first), so it is
 * serialized once, without pushJsonbValue's per-member work and sorting.
 */
Datum
ff_evaluate_all(PG_FUNCTION_ARGS)
{
	Jsonb	   *context = PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0);
	size_t		envlen;
	const char *envname = FFEnvironmentName(fcinfo, 1, &envlen);
	char	   *missing;
	FFCacheEnv *env;
	FFCacheFlag **order;
	JsonbValue	result;
	JsonbPair  *pairs;
	FFAllEntry *entries;
	FFInput		input;
	Size		fixed = 0;
	Size		values = 0;
	int			i;

	memset(&input, 0, sizeof(input));
	input.jsonb = context;
	if (context != NULL && (JB_ROOT_IS_SCALAR(context) || !JB_ROOT_IS_OBJECT(context)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("evaluation context must be a JSON object, not %s",
						JB_ROOT_IS_SCALAR(context) ? "a scalar" : "an array"),
				 errhint("Pass an object such as {\"targetingKey\": \"user-1\"}.")));

	env = FFCacheGetEnv(envname, envlen, &missing);
	if (env == NULL)
	{
		if (missing == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("no environment was given and there is no default environment"),
					 errhint("Pass an environment, set ff.environment, or mark one environment as the default.")));
		FFMissingEnvironmentError(missing, envname == ff_environment);
	}

	order = FFAllOrder(env);
	Assert(env->flags_complete);
	FFAllBuffers(env->nflags, &pairs, &entries);
	for (i = 0; i < env->nflags; i++)
	{
		FFCacheFlag *flag = order[i];
		FFAllEntry *e = &entries[i];
		FFOutcome	out;
		int			np = 0;
		const char *reason;

		CHECK_FOR_INTERRUPTS();
		if (!flag->compiled)
			FFCacheGetFlag(env, flag->key, flag->keylen);
		FFEvaluateCachedFlag(env, flag, &input, FF_WANT_ANY, &out);

		/*
		 * One jsonb value holds at most 256 MB (1.26 library; the whole
		 * call failed with "total size of jsonb object elements exceeds the
		 * maximum"): what every entry takes besides its value is counted,
		 * with room for the message of a value left out, and the values;
		 * when they do not fit, FFAllLeaveOut turns the values that do not
		 * fit after those before them into errors.
		 */
		fixed += flag->keylen + FF_ALL_ENTRY_SIZE +
			(out.message != NULL ? strlen(out.message) : 0);
		if (out.reason != FF_REASON_ERROR && out.variant >= 0)
		{
			fixed += flag->flag.variants[out.variant].namelen + FF_ALL_LEFT_OUT_SIZE;
			values += VARSIZE(flag->variant_jsonb[out.variant]);
		}

		/* "value" */
		FFSetString(&e->pairs[np].key, "value", 5);
		if (out.reason != FF_REASON_ERROR && out.variant >= 0)
			FFStoredJsonbValue(flag->variant_jsonb[out.variant], &e->pairs[np].value);
		else
			e->pairs[np].value.type = jbvNull;
		np++;
		/* "reason" */
		reason = FFReasonName(out.reason);
		FFSetString(&e->pairs[np].key, "reason", 6);
		FFSetString(&e->pairs[np].value, reason, reason ? strlen(reason) : 0);
		np++;
		/* "variant" */
		FFSetString(&e->pairs[np].key, "variant", 7);
		if (out.reason != FF_REASON_ERROR && out.variant >= 0)
			FFSetString(&e->pairs[np].value, flag->flag.variants[out.variant].name,
						strlen(flag->flag.variants[out.variant].name));
		else
			e->pairs[np].value.type = jbvNull;
		np++;
		if (out.error != FF_ERROR_NONE)
		{
			const char *code = FFErrorCodeName(out.error);

			FFSetString(&e->pairs[np].key, "error_code", 10);
			FFSetString(&e->pairs[np].value, code, code ? strlen(code) : 0);
			np++;
			FFSetString(&e->pairs[np].key, "error_message", 13);
			FFSetString(&e->pairs[np].value, out.message,
						out.message ? strlen(out.message) : 0);
			np++;
		}
		e->obj.type = jbvObject;
		e->obj.val.object.nPairs = np;
		e->obj.val.object.pairs = e->pairs;

		FFSetString(&pairs[i].key, flag->key, flag->keylen);
		pairs[i].value = e->obj;
		pairs[i].order = i;
	}
	if (fixed + values > FF_ALL_MAX_SIZE)
		FFAllLeaveOut(order, pairs, entries, env->nflags, fixed);
	result.type = jbvObject;
	result.val.object.nPairs = env->nflags;
	result.val.object.pairs = pairs;
	PG_RETURN_JSONB_P(JsonbValueToJsonb(&result));
}

/* ---------------------------------------------------------------------
 * ff.json_logic and ff._check_rule
 * --------------------------------------------------------------------- */

/*
 * FFRuleErrorHint suggests a fix for a rule compile error: the compiler's
 * own suggestion where it made one, else one for the kind of error.
 */
static const char *
FFRuleErrorHint(const JLError *err, bool allow_segments)
{
	if (err->hint != NULL)
		return err->hint;
	switch (err->code)
	{
		case JL_ERR_UNKNOWN_OPERATOR:
			/* a flagd {"$ref": "name"} that no "$evaluators" entry resolved */
			if (strncmp(err->message, "unknown operator \"$ref\"", 23) == 0)
				return "Add the shared rule to the flagd document's \"$evaluators\", or fix the name; "
					"flagd does not resolve a \"$ref\" inside \"$evaluators\".";
			if (allow_segments)
				return "Supported operators: " FF_STANDARD_OPERATORS ", in_segment.";
			return "Supported operators: " FF_STANDARD_OPERATORS ", ?: (segments are only available in flag targeting).";
		case JL_ERR_BAD_ARGUMENTS:
			return "Check the number and the types of the operator's arguments.";
		case JL_ERR_TOO_DEEP:
			return "Reduce the nesting depth of the rule.";
		case JL_ERR_TOO_LARGE:
			return "Reduce the size of the rule.";
		default:
			return "A rule is a JSON value; objects with exactly one key are operator applications.";
	}
}

/*
 * FFRaiseCompileError raises the ERROR for a rule that does not compile;
 * label names what the rule is ("targeting for flag \"x\"").  The path is
 * given relative to the flag or segment, as the other checks of a write
 * give theirs ($.targeting.if[0], $.rule.and[1]), for the labels the
 * validation triggers use; relative to the rule itself otherwise.
 */
static void
FFRaiseCompileError(const char *label, const JLError *err, bool allow_segments)
{
	const char *path = err->path[0] == '$' ? err->path + 1 : "";
	const char *root = "$";

	if (strncmp(label, "targeting for ", 14) == 0)
		root = "$.targeting";
	else if (strncmp(label, "rule of segment ", 16) == 0)
		root = "$.rule";
	ereport(ERROR,
			(errcode(err->code == JL_ERR_OUT_OF_MEMORY ? ERRCODE_OUT_OF_MEMORY :
					 ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid %s: %s at %s%s", label, err->message, root, path),
			 errhint("%s", FFRuleErrorHint(err, allow_segments))));
}

/*
 * FFCompileRule compiles a rule given as a jsonb argument into the scratch
 * arena with the options of its kind (flag and segment rules: segments,
 * flagd's operator set; plain JSON Logic: jsonlogic.com's "?:"), or
 * returns NULL with err filled in.
 */
static const JLRule *
FFCompileRule(JLArena *scratch, Jsonb *rule, bool allow_segments, bool flagd_lenient,
			  JLError *err)
{
	bool		too_deep = false;
	const JLValue *value = FFJsonbToJL(scratch, rule, false, &too_deep);
	JLCompileOptions opts;

	memset(&opts, 0, sizeof(opts));
	memset(err, 0, sizeof(*err));
	if (too_deep)
	{
		/* far beyond the compiler's own limit: report that one */
		err->code = JL_ERR_TOO_DEEP;
		strcpy(err->path, "$");
		snprintf(err->message, sizeof(err->message),
				 "rule nesting exceeds the maximum depth of %d", JL_DEFAULT_MAX_DEPTH);
		return NULL;
	}
	opts.allow_segments = allow_segments;
	opts.allow_ternary = !allow_segments;
	opts.flagd_lenient = flagd_lenient;
	return JLCompile(scratch, value, &opts, err);
}

/*
 * FFCompileArg compiles a rule given as a jsonb argument into the scratch
 * arena, raising an ERROR if it does not compile.
 */
static const JLRule *
FFCompileArg(JLArena *scratch, Jsonb *rule, bool allow_segments,
			 bool flagd_lenient, const char *label)
{
	JLError		err;
	const JLRule *compiled = FFCompileRule(scratch, rule, allow_segments,
										   flagd_lenient, &err);

	if (compiled == NULL)
		FFRaiseCompileError(label, &err, allow_segments);
	return compiled;
}

/*
 * The call-site cache of ff.json_logic (fn_extra): the rule it compiled
 * last, so that a query applying one rule to many rows compiles it once,
 * and a buffer for short data documents (as FFCallInfo's).
 */
typedef struct FFJsonLogicCache
{
	MemoryContext cxt;			/* the rule's copy and compiled form, or NULL */
	Jsonb	   *rule;			/* NULL until a compile succeeded */
	const JLRule *compiled;
	FFUnshortBuf data_buf;
} FFJsonLogicCache;

/*
 * FFJsonLogicRule returns rule compiled: from the call site's cache when
 * it holds the same document (compared byte for byte: a rule read from a
 * table may change from row to row), else compiled into a new memory
 * context of the call site, with a copy of the document that its strings
 * point into.  A rule that does not compile raises an ERROR each time.
 */
static const JLRule *
FFJsonLogicRule(FFJsonLogicCache *jc, MemoryContext fn_mcxt, Jsonb *rule)
{
	MemoryContext cxt;
	Jsonb	   *copy;

	if (jc->rule != NULL && VARSIZE(jc->rule) == VARSIZE(rule) &&
		memcmp(jc->rule, rule, VARSIZE(rule)) == 0)
		return jc->compiled;
	if (jc->cxt != NULL)
		MemoryContextDelete(jc->cxt);
	jc->rule = NULL;
	jc->compiled = NULL;
	/* set before compiling: if the compile fails, the next call frees it */
	jc->cxt = cxt = AllocSetContextCreate(fn_mcxt, "feature_flags json_logic rule",
										  ALLOCSET_SMALL_SIZES);
	copy = MemoryContextAlloc(cxt, VARSIZE(rule));
	memcpy(copy, rule, VARSIZE(rule));
	jc->compiled = FFCompileArg(FFArenaCreate(cxt), copy, false, false, "JSON Logic rule");
	jc->rule = copy;
	return jc->compiled;
}

PG_FUNCTION_INFO_V1(ff_json_logic);

/*
 * ff_json_logic applies a JSON Logic rule (with flagd's custom operators)
 * to data and returns the result.  A call site compiles its rule once for
 * as long as the rule stays the same.
 */
Datum
ff_json_logic(PG_FUNCTION_ARGS)
{
	Jsonb	   *rule;
	Jsonb	   *data = NULL;
	JLArena    *scratch;
	const JLRule *compiled;
	JLContext	ctx;
	FFJsonbData jdata;
	JLError		err;
	const JLValue *result;
	FFJsonLogicCache *jc = NULL;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	rule = PG_GETARG_JSONB_P(0);
	if (fcinfo->flinfo != NULL)
	{
		jc = (FFJsonLogicCache *) fcinfo->flinfo->fn_extra;
		if (jc == NULL)
			fcinfo->flinfo->fn_extra = jc =
				MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FFJsonLogicCache));
	}
	if (!PG_ARGISNULL(1))
		data = FFJsonbArgInPlace(fcinfo, 1, jc != NULL ? &jc->data_buf : NULL);

	scratch = FFScratchArena(FF_SCRATCH_LIMIT);
	compiled = jc != NULL ? FFJsonLogicRule(jc, fcinfo->flinfo->fn_mcxt, rule) :
		FFCompileArg(scratch, rule, false, false, "JSON Logic rule");
	FFContextInitJsonb(&ctx, &jdata, data);
	memset(&err, 0, sizeof(err));
	result = JLEvaluate(compiled, &ctx, scratch, &err);
	if (jdata.too_deep)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("could not evaluate JSON Logic rule: the data nests deeper than %d levels",
						FF_MAX_JSON_DEPTH),
				 errhint("Flatten the JSON document, or look up only the parts of it the rule needs.")));
	if (jdata.no_memory)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not evaluate JSON Logic rule: out of memory"),
				 errdetail("The data values the rule reads took more than %d MB to convert.",
						   FF_SCRATCH_LIMIT_MB),
				 errhint("Look up only the parts of the data the rule needs.")));
	if (result == NULL)
		ereport(ERROR,
				(errcode(err.code == JL_ERR_TOO_DEEP ? ERRCODE_STATEMENT_TOO_COMPLEX :
						 err.code == JL_ERR_OUT_OF_MEMORY ? ERRCODE_OUT_OF_MEMORY :
						 err.code == JL_ERR_TOO_LARGE ? ERRCODE_PROGRAM_LIMIT_EXCEEDED :
						 ERRCODE_DATA_EXCEPTION),
				 errmsg("could not evaluate JSON Logic rule: %s at %s", err.message,
						err.path[0] ? err.path : "$"),
				 err.code == JL_ERR_OUT_OF_MEMORY ?
				 errdetail("One evaluation may use at most %d MB for the values it computes.",
						   FF_SCRATCH_LIMIT_MB) : 0));
	PG_RETURN_JSONB_P(FFJLToJsonb(result));
}

/* collects the literal results of a rule */
typedef struct FFLiteralList
{
	const JLValue **items;
	int			count;
	int			size;
} FFLiteralList;

/*
 * FFCollectLiteral is the JLRuleLiteralResults callback.
 */
static void
FFCollectLiteral(void *arg, const JLValue *literal, const char *path)
{
	FFLiteralList *list = (FFLiteralList *) arg;

	if (list->count == list->size)
	{
		list->size *= 2;
		list->items = repalloc(list->items, sizeof(JLValue *) * list->size);
	}
	list->items[list->count++] = literal;
}

PG_FUNCTION_INFO_V1(ff_check_rule);

/*
 * ff_check_rule validates a rule for the write-time triggers: an invalid
 * rule raises an ERROR naming label, a valid one returns the segments it
 * references and the literal results it can produce.  The optional third
 * argument (1.7) compiles a flag rule as flagd loads it
 * (JLCompileOptions.flagd_lenient).
 */
Datum
ff_check_rule(PG_FUNCTION_ARGS)
{
	const char *label = PG_ARGISNULL(1) ? "rule" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		flagd = PG_NARGS() > 2 && !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	JsonbParseState *state = NULL;
	JsonbValue	k;
	JsonbValue	v;
	JsonbValue *res;
	FFLiteralList list;
	bool		complete = true;
	size_t		nseg = 0;
	const JLRule *compiled = NULL;
	size_t		i;
	int			j;

	list.size = 8;
	list.count = 0;
	list.items = palloc(sizeof(JLValue *) * list.size);

	if (!PG_ARGISNULL(0))
	{
		JLArena    *scratch = FFScratchArena(FF_SCRATCH_LIMIT);

		compiled = FFCompileArg(scratch, PG_GETARG_JSONB_P(0), true, flagd, label);
		nseg = JLRuleSegmentCount(compiled);
		complete = JLRuleLiteralResults(compiled, FFCollectLiteral, &list);
	}

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	k.type = jbvString;
	k.val.string.val = "segments";
	k.val.string.len = 8;
	pushJsonbValue(&state, WJB_KEY, &k);
	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < nseg; i++)
	{
		size_t		len;
		const char *name = JLRuleSegmentName(compiled, i, &len);

		v.type = jbvString;
		v.val.string.val = (char *) name;
		v.val.string.len = (int) len;
		pushJsonbValue(&state, WJB_ELEM, &v);
	}
	pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	k.val.string.val = "results";
	k.val.string.len = 7;
	pushJsonbValue(&state, WJB_KEY, &k);
	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	for (j = 0; j < list.count; j++)
		FFPushJL(&state, WJB_ELEM, list.items[j]);
	pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	k.val.string.val = "complete";
	k.val.string.len = 8;
	pushJsonbValue(&state, WJB_KEY, &k);
	v.type = jbvBool;
	v.val.boolean = complete;
	pushJsonbValue(&state, WJB_VALUE, &v);
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}

/*
 * FFCompileErrorName names the class of a compile error for
 * ff_rule_compile_error.
 */
static const char *
FFCompileErrorName(JLErrorCode code)
{
	switch (code)
	{
		case JL_ERR_UNKNOWN_OPERATOR:
			return "unknown_operator";
		case JL_ERR_BAD_ARGUMENTS:
			return "bad_arguments";
		case JL_ERR_TOO_DEEP:
			return "too_deep";
		case JL_ERR_TOO_LARGE:
			return "too_large";
		case JL_ERR_OUT_OF_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while compiling a JSON Logic rule")));
			break;
		default:
			break;
	}
	return "other";
}

PG_FUNCTION_INFO_V1(ff_rule_compile_error);

/*
 * ff_rule_compile_error tells, without raising, why a flag rule does not
 * compile: NULL when it compiles, else the class of the first problem
 * ("unknown_operator", "bad_arguments", "too_deep", "too_large", and from
 * 1.7 on "flagd_call": only calls of flagd's own operators that flagd's
 * schema forbids but flagd loads, JLCompileOptions.flagd_lenient).  The
 * write-time validation uses it to store, under ff.invalid_targeting =
 * warning, what flagd stores (unknown operators and unresolved $ref, and
 * from 1.7 on those calls) and to refuse the other schema violations;
 * ff._rule_segment_names uses it to read a stored rule that does not
 * compile by its shape.
 *
 * Such flagd calls are looked past: when the strict compile fails on one,
 * the answer is that of the lenient compile -- "flagd_call" if it
 * succeeds, else the class of what stopped it (1.12 library: a flagd call
 * followed by an unknown operator is "unknown_operator", as the reverse
 * order always was, not "bad_arguments", which made an import of a rule
 * that flagd loads fail).
 */
Datum
ff_rule_compile_error(PG_FUNCTION_ARGS)
{
	Jsonb	   *rule = PG_GETARG_JSONB_P(0);
	JLError		err;

	if (FFCompileRule(FFScratchArena(FF_SCRATCH_LIMIT), rule, true, false, &err) != NULL)
		PG_RETURN_NULL();
	if (err.code == JL_ERR_BAD_ARGUMENTS)
	{
		if (FFCompileRule(FFScratchArena(FF_SCRATCH_LIMIT), rule, true, true, &err) != NULL)
			PG_RETURN_TEXT_P(cstring_to_text("flagd_call"));
	}
	PG_RETURN_TEXT_P(cstring_to_text(FFCompileErrorName(err.code)));
}

/* ---------------------------------------------------------------------
 * ff.bucket
 * --------------------------------------------------------------------- */

/*
 * FFMulHi64 returns the high 64 bits of the 128-bit product a * b.
 */
static inline uint64
FFMulHi64(uint64 a, uint64 b)
{
	uint64		a_lo = (uint32) a;
	uint64		a_hi = a >> 32;
	uint64		b_lo = (uint32) b;
	uint64		b_hi = b >> 32;
	uint64		lo_lo = a_lo * b_lo;
	uint64		hi_lo = a_hi * b_lo;
	uint64		lo_hi = a_lo * b_hi;
	uint64		hi_hi = a_hi * b_hi;
	uint64		cross = (lo_lo >> 32) + (uint32) hi_lo + lo_hi;

	return hi_hi + (hi_lo >> 32) + (cross >> 32);
}

PG_FUNCTION_INFO_V1(ff_bucket);

/*
 * ff_bucket maps value to a bucket in [0, buckets): seed =
 * XXH3_64bits(salt), h = XXH3_64bits_withSeed(value, seed), bucket =
 * (h * buckets) >> 64.
 */
Datum
ff_bucket(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);
	text	   *salt = PG_GETARG_TEXT_PP(1);
	int32		buckets = PG_GETARG_INT32(2);
	XXH64_hash_t seed;
	XXH64_hash_t h;

	if (buckets < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of buckets must be between 1 and 2147483647, not %d",
						buckets),
				 errhint("ff.bucket returns a bucket number in [0, buckets).")));
	seed = XXH3_64bits(VARDATA_ANY(salt), VARSIZE_ANY_EXHDR(salt));
	h = XXH3_64bits_withSeed(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), seed);
	PG_RETURN_INT32((int32) FFMulHi64(h, (uint64) buckets));
}

/* ---------------------------------------------------------------------
 * ff.cache_info
 * --------------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(ff_cache_info);

/*
 * ff_cache_info reports the state of this backend's evaluation cache (the
 * last three columns since 1.20: an earlier ff.cache_info has nine).
 */
Datum
ff_cache_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	FFCacheStats stats;
	Datum		values[12];
	bool		nulls[12];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	FFCacheGetStats(&stats);
	memset(nulls, 0, sizeof(nulls));
	values[0] = Int64GetDatum(stats.rebuilds);
	values[1] = Int64GetDatum(stats.generation);
	values[2] = BoolGetDatum(stats.valid);
	values[3] = Int32GetDatum(stats.environments);
	values[4] = Int32GetDatum(stats.flags);
	values[5] = Int32GetDatum(stats.compiled_flags);
	values[6] = Int32GetDatum(stats.segments);
	values[7] = Int64GetDatum(stats.segment_keys);
	values[8] = Int64GetDatum(stats.memory_bytes);
	values[9] = Int64GetDatum(stats.key_loads);
	values[10] = Int32GetDatum(stats.kept_key_lists);
	values[11] = Int64GetDatum(stats.kept_keys);
	if (tupdesc->natts != 9 && tupdesc->natts != 12)
		elog(ERROR, "ff.cache_info must return 9 or 12 columns");
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
