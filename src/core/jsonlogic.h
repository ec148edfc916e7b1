/*-------------------------------------------------------------------------
 *
 * jsonlogic.h
 *	  Portable JSON Logic evaluator core of feature_flags.
 *
 * This header is the whole contract between the evaluator core and its
 * callers (the PostgreSQL glue in the src directory, the unit tests and the fuzzer in
 * test/core/).  The core depends on nothing but the C99 standard library:
 * no PostgreSQL header may be included anywhere under src/core/.
 *
 * Memory: everything the core allocates comes from a JLArena, which takes
 * its chunks from a caller-supplied allocator (malloc by default; palloc in
 * a memory context inside PostgreSQL).  The core keeps no static mutable
 * state, so a caller may abandon an evaluation at any point (for instance a
 * longjmp out of the interrupt callback) and simply reset the arena.
 *
 * Errors: the core never aborts.  Functions that can fail fill a JLError
 * with a code, a JSON path into the rule ("$.if[2].fractional[1]") and a
 * message, and return NULL/false.  JLParse, JLCompile and JLEvaluate reset
 * the JLError on entry (it need not be initialised).
 *
 * Contract notes added by the core engineer (nothing below changes a
 * signature; these pin down what the original comments left open):
 *  - JLCompileOptions gained allow_ternary (default false; see there).
 *  - JLLookupValue was added (the in-memory lookup, for wrappers).
 *  - A rule object must have exactly one key; more is a compile error
 *    (JL_ERR_BAD_ARGUMENTS).  {} is a literal (the empty object).
 *  - var with a default ([path, default]) returns the default when the
 *    value is missing OR null (flagd-semantics.md section 7.2).
 *  - Results are JSON-safe: a NaN/Infinity produced by arithmetic becomes
 *    null in the value JLEvaluate returns (inside arrays/objects too).
 *  - The interrupt callback runs every 1024 evaluation steps, every 1024
 *    iterations of loops over user data and before each nested segment
 *    rule evaluation.
 *  - JLRuleLiteralResults reports every non-null literal result (strings
 *    and booleans, but also numbers/arrays/objects, which the caller should
 *    reject as targeting results) and true+false for boolean operators.
 *  - FFVariant arrays should be sorted bytewise by name (memcmp order,
 *    a prefix first); FFFindVariant falls back to a linear scan, so an
 *    unsorted array still works.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/core/jsonlogic.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FF_JSONLOGIC_H
#define FF_JSONLOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * JLBytesEqual compares two byte strings of len bytes for equality.  The
 * short strings that rules compare most (attribute names, country codes,
 * variant names: up to 16 bytes) take two overlapping word loads per side,
 * or up to three byte compares, instead of a call to memcmp.
 */
static inline bool
JLBytesEqual(const char *a, const char *b, size_t len)
{
	if (len >= 8 && len <= 16)
	{
		uint64_t	a1,
					a2,
					b1,
					b2;

		memcpy(&a1, a, 8);
		memcpy(&b1, b, 8);
		memcpy(&a2, a + len - 8, 8);
		memcpy(&b2, b + len - 8, 8);
		return a1 == b1 && a2 == b2;
	}
	if (len >= 4 && len < 8)
	{
		uint32_t	a1,
					a2,
					b1,
					b2;

		memcpy(&a1, a, 4);
		memcpy(&b1, b, 4);
		memcpy(&a2, a + len - 4, 4);
		memcpy(&b2, b + len - 4, 4);
		return a1 == b1 && a2 == b2;
	}
	if (len < 4)
	{
		/* 0 to 3 bytes: the first, middle and last cover every byte */
		return len == 0 ||
			(a[0] == b[0] && a[len / 2] == b[len / 2] && a[len - 1] == b[len - 1]);
	}
	return memcmp(a, b, len) == 0;
}

/* ---------------------------------------------------------------------
 * Arena allocation
 * --------------------------------------------------------------------- */

typedef struct JLAllocator
{
	/* returns NULL on failure (or does not return, e.g. palloc's ERROR) */
	void	   *(*alloc) (void *ctx, size_t size);
	void		(*release) (void *ctx, void *ptr);
	void	   *ctx;
} JLAllocator;

typedef struct JLArena JLArena;

/* allocator NULL means malloc/free */
extern JLArena *JLArenaCreate(const JLAllocator *allocator);
/* frees everything allocated since creation, keeps one chunk for reuse */
extern void JLArenaReset(JLArena *arena);
extern void JLArenaDestroy(JLArena *arena);
/* 8-byte aligned; NULL on allocator failure */
extern void *JLArenaAlloc(JLArena *arena, size_t size);
/* bytes currently held from the allocator (for memory reporting) */
extern size_t JLArenaBytes(const JLArena *arena);

/* ---------------------------------------------------------------------
 * JSON values
 * --------------------------------------------------------------------- */

typedef enum JLType
{
	JL_NULL = 0,
	JL_BOOL,
	JL_NUMBER,
	JL_STRING,
	JL_ARRAY,
	JL_OBJECT
} JLType;

typedef struct JLValue JLValue;

typedef struct JLMember
{
	const char *key;			/* not NUL-terminated necessarily */
	size_t		keylen;
	const JLValue *value;
} JLMember;

struct JLValue
{
	JLType		type;
	union
	{
		bool		boolean;
		double		number;
		struct
		{
			const char *ptr;	/* UTF-8, may contain NUL bytes */
			size_t		len;
		}			string;
		struct
		{
			const JLValue **items;
			size_t		count;
		}			array;
		struct
		{
			/* sorted by (keylen, key bytes) like jsonb; no duplicate keys */
			const JLMember *members;
			size_t		count;
		}			object;
	}			u;
};

/* shared immutable constants */
extern const JLValue JLNullValue;
extern const JLValue JLTrueValue;
extern const JLValue JLFalseValue;

extern JLValue *JLMakeNumber(JLArena *arena, double n);
extern JLValue *JLMakeString(JLArena *arena, const char *ptr, size_t len, bool copy);
/* members need not be sorted; duplicates: last wins */
extern JLValue *JLMakeObject(JLArena *arena, JLMember *members, size_t count);
extern JLValue *JLMakeArray(JLArena *arena, const JLValue **items, size_t count);
/* member lookup, O(log n) */
extern const JLValue *JLObjectGet(const JLValue *object, const char *key, size_t keylen);
/* jsonb's order of object keys: shorter first, then bytewise (-1, 0, 1) */
extern int	JLCompareKeys(const char *a, size_t alen, const char *b, size_t blen);
/* bytewise order, a shorter prefix first: code point order for UTF-8 (-1, 0, 1) */
extern int	JLCompareBytes(const char *a, size_t alen, const char *b, size_t blen);

/* "null", "boolean", "number", "string", "array" or "object" */
extern const char *JLTypeNameOf(JLType type);

/* JavaScript-style truthiness as on jsonlogic.com */
extern bool JLTruthy(const JLValue *v);
/* deep equality of JSON values (numbers by value, object key order ignored) */
extern bool JLEqual(const JLValue *a, const JLValue *b);

typedef enum JLErrorCode
{
	JL_OK = 0,
	JL_ERR_SYNTAX,				/* JSON text does not parse */
	JL_ERR_UNKNOWN_OPERATOR,	/* {"nope": ...} */
	JL_ERR_BAD_ARGUMENTS,		/* operator used with an invalid argument shape */
	JL_ERR_TOO_DEEP,			/* nesting beyond the limit */
	JL_ERR_TOO_LARGE,			/* size beyond a limit */
	JL_ERR_OUT_OF_MEMORY,
	JL_ERR_RUNTIME				/* evaluation failed (unknown segment, cycle...) */
} JLErrorCode;

typedef struct JLError
{
	JLErrorCode code;
	char		path[256];		/* "$" = the rule itself, "$.if[2]" ... */
	char		message[256];
	const char *hint;			/* a static suggestion for this error, or NULL */
} JLError;

/*
 * Parse JSON text (RFC 8259; a top-level scalar is allowed).  max_depth
 * bounds nesting (0 = JL_DEFAULT_MAX_DEPTH).
 */
#define JL_DEFAULT_MAX_DEPTH 256
extern const JLValue *JLParse(JLArena *arena, const char *text, size_t len,
							  int max_depth, JLError *err);
/*
 * Compact serialisation, NUL-terminated, numbers as JavaScript prints them
 * (non-finite numbers as null, as JSON.stringify does).  NULL on
 * allocation failure or nesting beyond 10000 levels.
 */
extern char *JLSerialize(JLArena *arena, const JLValue *v, size_t *len);

/* ---------------------------------------------------------------------
 * Rules
 * --------------------------------------------------------------------- */

typedef struct JLRule JLRule;

typedef struct JLCompileOptions
{
	int			max_depth;		/* 0 = JL_DEFAULT_MAX_DEPTH */
	bool		allow_segments; /* accept the in_segment operator */

	/*
	 * Added by core: accept jsonlogic.com's "?:" as an alias of "if".  flagd
	 * does not have it, so the extension leaves it off (an unknown-operator
	 * compile error); only the jsonlogic.com conformance runner sets it.
	 */
	bool		allow_ternary;

	/*
	 * Added for the backend cache: copy every literal the rule keeps into
	 * the rule's arena (repeated equal scalars once), so that the source
	 * tree may live in a scratch arena and be thrown away after
	 * JLCompile.  String bytes and object keys are NOT copied: they must
	 * outlive the rule.  JLRule's source tree is then not kept.
	 */
	bool		copy_literals;

	/*
	 * Added for flagd documents: compile flagd's own operators called in a
	 * way that flagd's schema forbids but flagd loads and evaluates --
	 * starts_with/ends_with without 2 or sem_ver without 3 arguments, a
	 * literal sem_ver operator outside the eight, literal fractional
	 * buckets, weights or bucketing values of the wrong shape, a var path
	 * "$flagd.<x>" other than flagKey/timestamp -- as flagd evaluates
	 * them instead of failing: the call yields null (a negative whole
	 * weight counts as 0, as a computed one does; the unknown $flagd
	 * property is missing, so var yields its default).  Everything else
	 * stays a compile error.
	 */
	bool		flagd_lenient;
} JLCompileOptions;

/*
 * Compile a JSON Logic rule (any JSON value; non-rules are literals).
 * Unknown operators and malformed custom-operator arguments (wrong arity
 * of starts_with/ends_with/sem_ver, fractional weights that are literal
 * non-integers, an unknown sem_ver operator literal...) are compile errors.
 * The rule may reference the input value; it must stay alive as long as
 * the compiled rule.
 *
 * The complete list of compile errors: JL_ERR_UNKNOWN_OPERATOR for an
 * unknown key, "?:" without allow_ternary, in_segment without
 * allow_segments; JL_ERR_BAD_ARGUMENTS for a multi-key rule object, a var
 * path "$flagd.<x>" other than flagKey/timestamp, starts_with/ends_with
 * without exactly 2 and sem_ver without exactly 3 arguments, a literal
 * sem_ver operator outside = != < <= > >= ^ ~, a literal fractional bucket
 * that is not a [variant] or [variant, weight] array, a literal weight
 * that is not an integer in 0..2147483647 (or literal weights summing
 * beyond it), a literal bucketing value that is not a string, fractional
 * without buckets, in_segment without a literal non-empty name or with
 * more than 2 arguments, "*" without arguments, map/filter/all/some/none
 * without exactly 2, reduce without 2-3, missing_some without 2 and
 * substr without 1-3 arguments; JL_ERR_TOO_DEEP beyond max_depth;
 * JL_ERR_OUT_OF_MEMORY.  err->path is the JSON path of the offending node.
 * With flagd_lenient, the malformed calls of flagd's own operators listed
 * there compile instead (see JLCompileOptions).
 */
extern JLRule *JLCompile(JLArena *arena, const JLValue *rule,
						 const JLCompileOptions *options, JLError *err);

/* The literal segment names the rule references through in_segment. */
extern size_t JLRuleSegmentCount(const JLRule *rule);
extern const char *JLRuleSegmentName(const JLRule *rule, size_t i, size_t *len);

/*
 * The literal strings/booleans the rule can return as its final result
 * (the branches of if/?:, the variants of fractional, bare values...), for
 * write-time checks that targeting names existing variants.  Returns false
 * when a result can be computed (e.g. {"var":...} as an if branch), in
 * which case the list is incomplete.  Every non-null literal is reported,
 * whatever its type (a number or array result is a targeting bug the
 * caller can report); operators that return booleans (==, <, in,
 * starts_with, sem_ver, in_segment...) report both true and false at their
 * own path.  null results are not reported (they select the default).
 */
typedef void (*JLResultCallback) (void *arg, const JLValue *literal, const char *path);
extern bool JLRuleLiteralResults(const JLRule *rule, JLResultCallback cb, void *arg);

/* ---------------------------------------------------------------------
 * Evaluation context
 * --------------------------------------------------------------------- */

/* a pre-split "var" path: "user.name" -> ["user", "name"] */
typedef struct JLPathSegment
{
	const char *ptr;
	size_t		len;
} JLPathSegment;

typedef struct JLSegmentInfo
{
	/* +1 key is in the include list, -1 in the exclude list, 0 neither */
	int			membership;
	/* the segment's own rule, or NULL; evaluated with the same context */
	const JLRule *rule;

	/*
	 * Non-NULL when the segment exists but cannot be used (its stored rule
	 * does not compile): in_segment then fails the evaluation with
	 * JL_ERR_RUNTIME and this text, whatever the key lists say.
	 */
	const char *broken;
} JLSegmentInfo;

typedef struct JLContext
{
	/*
	 * Look up a path in the root data.  Return NULL when missing.  The
	 * returned value may be allocated in scratch.  nsegments == 0 means the
	 * whole data object.  Segments are the var path split at '.', so array
	 * elements arrive as decimal strings ("items.0").  With inject_flagd the
	 * core answers every path starting with "$flagd" itself, so lookup is
	 * never asked for them.  May be NULL (no data).
	 */
	const JLValue *(*lookup) (void *opaque, const JLPathSegment *segments,
							  size_t nsegments, JLArena *scratch);

	/*
	 * Find a segment by name; false if it does not exist (in_segment then
	 * yields null), true with info->broken set if it exists but cannot be
	 * used.  key is the targeting key being tested, or NULL when
	 * the context has none (set membership 0 and give the rule).  The
	 * callback may be NULL when segments are not available.
	 */
	bool		(*segment) (void *opaque, const char *name, size_t namelen,
							const char *key, size_t keylen,
							JLSegmentInfo *info);

	/*
	 * Called every 1024 evaluation steps, every 1024 iterations of loops
	 * over user data and before each nested segment rule evaluation; may
	 * not return (PostgreSQL's CHECK_FOR_INTERRUPTS longjmps).  Return true
	 * to abort the evaluation with JL_ERR_RUNTIME.  May be NULL.
	 */
	bool		(*interrupt) (void *opaque);

	void	   *opaque;

	/* flagd injection: $flagd.flagKey and $flagd.timestamp */
	bool		inject_flagd;
	const char *flag_key;
	size_t		flag_key_len;
	int64_t		timestamp;		/* Unix epoch seconds */

	int			max_depth;		/* evaluation recursion limit, 0 = default */
} JLContext;

/* A JLContext over an in-memory JLValue (tests, fuzzer, map/filter data) */
extern void JLContextInitValue(JLContext *ctx, const JLValue *data);

/*
 * Added by core: descend into an in-memory value along a split path
 * (objects by key, arrays by canonical decimal index "0", "17"); NULL when
 * missing.  This is the lookup JLContextInitValue uses, exposed for
 * callers that wrap it in their own lookup callback.
 */
extern const JLValue *JLLookupValue(const JLValue *v, const JLPathSegment *segs,
									size_t nsegs);

/*
 * Evaluate.  Returns the result (possibly allocated in scratch, possibly
 * pointing into the rule or the context) or NULL with err filled in on an
 * evaluation error: JL_ERR_TOO_DEEP (ctx->max_depth), JL_ERR_RUNTIME
 * (interrupt, in_segment cycle), JL_ERR_OUT_OF_MEMORY.  Bad operand types
 * never fail: they follow JavaScript semantics or, for the flagd
 * operators, yield null.
 */
extern const JLValue *JLEvaluate(const JLRule *rule, const JLContext *ctx,
								 JLArena *scratch, JLError *err);

/*
 * The same, but a NaN or infinite number in the result is returned as it
 * was computed, not as null (flag resolution: a number is never a variant).
 */
extern const JLValue *JLEvaluateRaw(const JLRule *rule, const JLContext *ctx,
									JLArena *scratch, JLError *err);

/* ---------------------------------------------------------------------
 * Hashing helpers (exposed for tests and the PostgreSQL side)
 * --------------------------------------------------------------------- */

extern uint32_t JLMurmur3_32(const void *data, size_t len, uint32_t seed);

/* ---------------------------------------------------------------------
 * flagd flag resolution (flagd-semantics.md section 3)
 * --------------------------------------------------------------------- */

typedef enum FFReason
{
	FF_REASON_STATIC = 0,
	FF_REASON_DEFAULT,
	FF_REASON_TARGETING_MATCH,
	FF_REASON_DISABLED,
	FF_REASON_ERROR
} FFReason;

typedef enum FFErrorCode
{
	FF_ERROR_NONE = 0,
	FF_ERROR_FLAG_NOT_FOUND,
	FF_ERROR_PARSE_ERROR,
	FF_ERROR_TYPE_MISMATCH,
	FF_ERROR_GENERAL,
	FF_ERROR_INVALID_CONTEXT
} FFErrorCode;

extern const char *FFReasonName(FFReason reason);
/* NULL for FF_ERROR_NONE */
extern const char *FFErrorCodeName(FFErrorCode code);

typedef struct FFVariant
{
	const char *name;
	size_t		namelen;
	const JLValue *value;
} FFVariant;

typedef struct FFFlag
{
	const char *key;
	size_t		keylen;
	bool		enabled;
	const FFVariant *variants;	/* sorted by name (memcmp order) for
								 * binary search */
	size_t		nvariants;
	int			default_variant;	/* index into variants, -1 = none */
	const JLRule *targeting;	/* NULL = none (also for {}) */
} FFFlag;

typedef struct FFResolution
{
	FFReason	reason;
	FFErrorCode error_code;
	int			variant;		/* index into variants, -1 = caller default */
	char		error_message[256];
} FFResolution;

/* find a variant by name, -1 if none */
extern int	FFFindVariant(const FFFlag *flag, const char *name, size_t len);

/*
 * Resolve a flag (steps 2-4 of section 3; not-found and the type check are
 * the caller's).  ctx->flag_key/inject_flagd are set by the callee from
 * the flag when ctx->inject_flagd is true.  Outcomes:
 *   disabled                         DISABLED, variant -1
 *   no targeting                     STATIC + default variant, or DEFAULT, -1
 *   targeting -> null                DEFAULT + default variant (or -1)
 *   targeting -> variant name        TARGETING_MATCH (even for the default)
 *   targeting -> true/false          TARGETING_MATCH on variant "true"/"false"
 *   unknown name, number, array...   ERROR/GENERAL, -1, message names both
 *   evaluation error                 ERROR/PARSE_ERROR, -1, message has path
 * error_message is "" unless reason is ERROR.
 */
extern void FFResolve(const FFFlag *flag, const JLContext *ctx,
					  JLArena *scratch, FFResolution *out);

#endif							/* FF_JSONLOGIC_H */
