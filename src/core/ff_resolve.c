/*-------------------------------------------------------------------------
 *
 * ff_resolve.c
 *	  flagd flag resolution: state, static default, targeting result.
 *
 * Implements steps 2-4 of flagd-semantics.md section 3.  Flag lookup
 * (FLAG_NOT_FOUND) and the type check of the chosen variant
 * (TYPE_MISMATCH) are the caller's, who knows the requested type.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/core/ff_resolve.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jl_internal.h"

/*
 * FFReasonName returns the OpenFeature name of a reason.
 */
const char *
FFReasonName(FFReason reason)
{
	switch (reason)
	{
		case FF_REASON_STATIC:
			return "STATIC";
		case FF_REASON_DEFAULT:
			return "DEFAULT";
		case FF_REASON_TARGETING_MATCH:
			return "TARGETING_MATCH";
		case FF_REASON_DISABLED:
			return "DISABLED";
		case FF_REASON_ERROR:
			return "ERROR";
	}
	return "UNKNOWN";
}

/*
 * FFErrorCodeName returns the OpenFeature name of an error code, NULL for
 * FF_ERROR_NONE.
 */
const char *
FFErrorCodeName(FFErrorCode code)
{
	switch (code)
	{
		case FF_ERROR_NONE:
			return NULL;
		case FF_ERROR_FLAG_NOT_FOUND:
			return "FLAG_NOT_FOUND";
		case FF_ERROR_PARSE_ERROR:
			return "PARSE_ERROR";
		case FF_ERROR_TYPE_MISMATCH:
			return "TYPE_MISMATCH";
		case FF_ERROR_GENERAL:
			return "GENERAL";
		case FF_ERROR_INVALID_CONTEXT:
			return "INVALID_CONTEXT";
	}
	return "GENERAL";
}

/* flags with at most this many variants are searched linearly */
#define FF_LINEAR_VARIANTS 8

/*
 * FFFindVariant finds a variant by name: a linear scan comparing lengths
 * first for the usual handful of variants, else a binary search over the
 * sorted array (bytewise order, shorter prefix first), then, should the
 * caller have sorted differently, a linear scan.
 */
int
FFFindVariant(const FFFlag *flag, const char *name, size_t len)
{
	size_t		lo = 0;
	size_t		hi = flag->nvariants;
	size_t		i;

	if (flag->nvariants <= FF_LINEAR_VARIANTS)
		hi = 0;					/* straight to the linear scan */
	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;
		const FFVariant *v = &flag->variants[mid];
		int			c = JLCompareBytes(v->name, v->namelen, name, len);

		if (c == 0)
			return (int) mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = 0; i < flag->nvariants; i++)
		if (flag->variants[i].namelen == len &&
			JLBytesEqual(flag->variants[i].name, name, len))
			return (int) i;
	return -1;
}

/*
 * FFSetResult fills a resolution.
 */
static void
FFSetResult(FFResolution *out, FFReason reason, FFErrorCode code, int variant)
{
	out->reason = reason;
	out->error_code = code;
	out->variant = variant;
	out->error_message[0] = '\0';
}

static void FFSetMessage(FFResolution *out, const char *fmt,...) JL_PRINTF(2, 3);

/*
 * FFSetMessage formats the error message of a resolution.
 */
static void
FFSetMessage(FFResolution *out, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(out->error_message, sizeof(out->error_message), fmt, ap);
	va_end(ap);
	/* a message cut by the buffer must not end inside a character */
	if (n >= (int) sizeof(out->error_message))
		out->error_message[JLUtf8TrimTail(out->error_message,
										  sizeof(out->error_message) - 1)] = '\0';
}

/*
 * FFKeyClip returns how many bytes of the flag's key an error message
 * shows: at most 80, not ending inside a character.  Only messages need
 * it, so it is not computed for every evaluation.
 */
static int
FFKeyClip(const FFFlag *flag)
{
	return JLUtf8Clip(flag->key, flag->keylen, 80);
}

/*
 * FFResolve resolves a flag against a context (section 3, steps 2-4).
 */
void
FFResolve(const FFFlag *flag, const JLContext *ctx, JLArena *scratch,
		  FFResolution *out)
{
	JLContext	local;
	JLError		err;
	const JLValue *r;
	int			idx;
	int			clip;

	if (!flag->enabled)
	{
		FFSetResult(out, FF_REASON_DISABLED, FF_ERROR_NONE, -1);
		return;
	}
	if (flag->targeting == NULL)
	{
		if (flag->default_variant >= 0)
			FFSetResult(out, FF_REASON_STATIC, FF_ERROR_NONE, flag->default_variant);
		else
			FFSetResult(out, FF_REASON_DEFAULT, FF_ERROR_NONE, -1);
		return;
	}
	local = *ctx;
	if (local.inject_flagd)
	{
		local.flag_key = flag->key;
		local.flag_key_len = flag->keylen;
	}
	/* raw: a NaN or an infinity is a number here, not a null (no decision) */
	r = JLEvaluateRaw(flag->targeting, &local, scratch, &err);
	if (r == NULL)
	{
		FFSetResult(out, FF_REASON_ERROR, FF_ERROR_PARSE_ERROR, -1);
		FFSetMessage(out, "flag \"%.*s\": targeting failed at %s: %s",
					 FFKeyClip(flag), flag->key, err.path, err.message);
		return;
	}
	switch (r->type)
	{
		case JL_NULL:
			FFSetResult(out, FF_REASON_DEFAULT, FF_ERROR_NONE, flag->default_variant);
			return;
		case JL_STRING:
			idx = FFFindVariant(flag, r->u.string.ptr, r->u.string.len);
			if (idx >= 0)
			{
				FFSetResult(out, FF_REASON_TARGETING_MATCH, FF_ERROR_NONE, idx);
				return;
			}
			FFSetResult(out, FF_REASON_ERROR, FF_ERROR_GENERAL, -1);
			clip = JLUtf8Clip(r->u.string.ptr, r->u.string.len, 80);
			FFSetMessage(out, "flag \"%.*s\": targeting returned \"%.*s%s\", which is not a variant of the flag",
						 FFKeyClip(flag), flag->key, clip, r->u.string.ptr,
						 (size_t) clip < r->u.string.len ? "..." : "");
			return;
		case JL_BOOL:
			idx = r->u.boolean ? FFFindVariant(flag, "true", 4) : FFFindVariant(flag, "false", 5);
			if (idx >= 0)
			{
				FFSetResult(out, FF_REASON_TARGETING_MATCH, FF_ERROR_NONE, idx);
				return;
			}
			FFSetResult(out, FF_REASON_ERROR, FF_ERROR_GENERAL, -1);
			FFSetMessage(out, "flag \"%.*s\": targeting returned %s, but the flag has no variant named \"%s\"",
						 FFKeyClip(flag), flag->key, r->u.boolean ? "true" : "false",
						 r->u.boolean ? "true" : "false");
			return;
		default:
			{
				size_t		len;
				char	   *text;

				if (r->type == JL_NUMBER && !isfinite(r->u.number))
				{
					FFSetResult(out, FF_REASON_ERROR, FF_ERROR_GENERAL, -1);
					FFSetMessage(out, "flag \"%.*s\": targeting returned %s, not a variant name",
								 FFKeyClip(flag), flag->key,
								 isnan(r->u.number) ? "NaN" :
								 r->u.number > 0 ? "Infinity" : "-Infinity");
					return;
				}
				text = JLSerialize(scratch, r, &len);
				FFSetResult(out, FF_REASON_ERROR, FF_ERROR_GENERAL, -1);
				FFSetMessage(out, "flag \"%.*s\": targeting returned %s %.*s%s, not a variant name",
							 FFKeyClip(flag), flag->key,
							 r->type == JL_NUMBER ? "the number" :
							 r->type == JL_ARRAY ? "the array" : "the object",
							 text ? JLUtf8Clip(text, len, 60) : 27,
							 text ? text : "(nested too deeply to show)",
							 text && len > 60 ? "..." : "");
				return;
			}
	}
}
