/*-------------------------------------------------------------------------
 *
 * jl_internal.h
 *	  Private declarations shared by the files of the evaluator core.
 *
 * Nothing here is part of the contract with callers (that is jsonlogic.h);
 * it describes the compiled rule tree, the evaluation state and the small
 * JavaScript-semantics helpers (ToNumber, ToString, loose equality...) the
 * operators are built from.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/core/jl_internal.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FF_JL_INTERNAL_H
#define FF_JL_INTERNAL_H

#include "jsonlogic.h"

/* printf-style format checking */
#if defined(__GNUC__)
#define JL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define JL_PRINTF(f, a)
#endif

/* keep a cold function out of its caller (its stack frame with it) */
#if defined(__GNUC__)
#define JL_NOINLINE __attribute__((noinline))
#else
#define JL_NOINLINE
#endif

/* how many loop iterations / evaluation steps between interrupt checks */
#define JL_INTERRUPT_INTERVAL 1024

/* operators of the compiled tree */
typedef enum JLOp
{
	JLOP_LITERAL = 0,			/* a pre-built value */
	JLOP_ARRAY,					/* an array literal containing rules */
	JLOP_VAR,
	JLOP_MISSING,
	JLOP_MISSING_SOME,
	JLOP_IF,					/* also "?:" when allowed */
	JLOP_EQ,
	JLOP_STRICT_EQ,
	JLOP_NE,
	JLOP_STRICT_NE,
	JLOP_LT,
	JLOP_LE,
	JLOP_GT,
	JLOP_GE,
	JLOP_NOT,
	JLOP_NOTNOT,
	JLOP_AND,
	JLOP_OR,
	JLOP_ADD,
	JLOP_SUB,
	JLOP_MUL,
	JLOP_DIV,
	JLOP_MOD,
	JLOP_MIN,
	JLOP_MAX,
	JLOP_CAT,
	JLOP_SUBSTR,
	JLOP_IN,
	JLOP_MERGE,
	JLOP_MAP,
	JLOP_FILTER,
	JLOP_REDUCE,
	JLOP_ALL,
	JLOP_SOME,
	JLOP_NONE,
	JLOP_FRACTIONAL,
	JLOP_SEM_VER,
	JLOP_STARTS_WITH,
	JLOP_ENDS_WITH,
	JLOP_IN_SEGMENT
} JLOp;

/* $flagd references of a static var path */
typedef enum JLFlagdRef
{
	JL_FLAGD_NONE = 0,
	JL_FLAGD_WHOLE,				/* "$flagd" */
	JL_FLAGD_FLAGKEY,			/* "$flagd.flagKey" */
	JL_FLAGD_TIMESTAMP			/* "$flagd.timestamp" */
} JLFlagdRef;

/* a parsed semantic version; identifiers point into the source string */
typedef struct JLSemVer
{
	const char *major;
	size_t		majorlen;
	const char *minor;
	size_t		minorlen;
	const char *patch;
	size_t		patchlen;
	const char *pre;			/* pre-release, without the '-'; NULL if none */
	size_t		prelen;
} JLSemVer;

/* sem_ver comparison operators */
typedef enum JLSemVerOp
{
	JL_SV_INVALID = 0,
	JL_SV_EQ,
	JL_SV_NE,
	JL_SV_LT,
	JL_SV_LE,
	JL_SV_GT,
	JL_SV_GE,
	JL_SV_CARET,
	JL_SV_TILDE
} JLSemVerOp;

typedef struct JLNode JLNode;

/* one bucket of fractional: its variant and whole weight */
typedef struct JLBucket
{
	const JLValue *variant;
	uint64_t	weight;
} JLBucket;

/*
 * The buckets of a fractional node whose buckets are all literals and
 * valid, checked and summed once at compile time.
 */
typedef struct JLFracBuckets
{
	uint32_t	count;
	uint64_t	total;
	JLBucket	buckets[];
} JLFracBuckets;

/* the pre-parsed operands of a sem_ver node */
typedef struct JLNodeSemVer
{
	bool		left_static;	/* args[0] is a valid literal version */
	bool		right_static;	/* args[2] is a valid literal version */
	JLSemVer	left;
	JLSemVer	right;
	JLSemVerOp	svop;			/* JL_SV_INVALID: computed at run time */
} JLNodeSemVer;

struct JLNode
{
	JLOp		op;
	uint32_t	nargs;
	JLNode	  **args;
	const char *path;			/* JSON path of this node in the rule */
	union
	{
		struct
		{
			/* packed into 16 bytes: the union's size is every node's */
			const JLPathSegment *segs;
			uint32_t	nsegs;
			uint8_t		flagd;	/* a JLFlagdRef */
			bool		is_static;	/* path known at compile time */
			bool		plain;	/* static, non-empty, no $flagd, no default:
								 * a root lookup and nothing else */
		}			var;
		struct
		{
			/* literal haystack of strings, sorted for binary search */
			const JLValue **items;
			size_t		count;
		}			inset;
		/* sem_ver: out of line, so that every other node stays small */
		struct JLNodeSemVer *semver;
		/* fractional: the buckets after the bucketing value, when literal */
		const struct JLFracBuckets *frac;
		struct
		{
			/* JLOP_LITERAL: the value; JLOP_ARRAY: the source array */
			const JLValue *value;

			/*
			 * A literal's path is often its parent's plus "[index]": then
			 * path points to the parent's string and has_index is set
			 * (JLNodePath puts the two together).
			 */
			uint32_t	index;
			bool		has_index;
		}			lit;
		struct
		{
			const char *name;
			size_t		namelen;
		}			segment;
	}			u;
};

struct JLRule
{
	JLNode	   *root;
	const JLValue *source;
	int			max_depth;
	/* unique literal segment names referenced through in_segment */
	const JLPathSegment *segments;
	size_t		nsegments;
};

/* evaluation state, one per JLEvaluate call */
typedef struct JLEvalState
{
	const JLContext *ctx;
	JLArena    *scratch;
	JLError    *err;
	int			depth;
	int			max_depth;
	uint32_t	steps;
	/* segments being evaluated (cycle detection) */
	int			nactive;
	struct
	{
		const char *name;
		size_t		namelen;
		const char *key;
		size_t		keylen;
	}			active[16];
} JLEvalState;

/* arena-backed growable byte buffer */
typedef struct JLBuf
{
	JLArena    *arena;
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		failed;
} JLBuf;

extern void JLBufInit(JLBuf *buf, JLArena *arena, size_t initial);
extern void JLBufAppend(JLBuf *buf, const char *data, size_t len);
extern void JLBufAppendChar(JLBuf *buf, char c);

/* jl_value.c: JavaScript semantics */
extern int	JLFormatNumber(double n, char *buf);	/* buf >= 32 bytes */
extern double JLToNumber(const JLValue *v);
extern double JLParseFloat(const JLValue *v);
extern double JLStringToNumber(const char *s, size_t len);
extern void JLAppendString(JLBuf *buf, const JLValue *v, bool null_as_empty, int depth);
extern bool JLLooseEqual(const JLValue *a, const JLValue *b, JLArena *arena);
extern bool JLStrictEqual(const JLValue *a, const JLValue *b);
/* JS relational comparison a < b (or a <= b when or_equal); false if undefined */
extern bool JLLessThan(const JLValue *a, const JLValue *b, bool or_equal,
					   JLArena *arena);
extern int	JLUtf8Clip(const char *s, size_t len, size_t max);
extern size_t JLUtf8TrimTail(const char *s, size_t len);
extern size_t JLUtf8Length(const unsigned char *s, size_t len);
extern const char *JLTypeName(const JLValue *v);

/* jl_compile.c */
extern bool JLSplitPathInto(JLArena *arena, const char *s, size_t len,
							const JLPathSegment **segs, size_t *nsegs);
extern const char *JLNodePath(const JLNode *n, char *buf, size_t size);
extern bool JLClassifyFlagd(const JLPathSegment *segs, size_t nsegs,
							JLFlagdRef *ref);

/* jl_eval.c */
extern const JLValue *JLEvalNodeFull(JLEvalState *st, const JLNode *node,
									 const JLValue *scope);

/*
 * JLLookupStatic looks var node's compiled path up in the root data
 * through the caller's lookup callback (NULL when missing).
 */
static inline const JLValue *
JLLookupStatic(const JLEvalState *st, const JLNode *node)
{
	const JLContext *ctx = st->ctx;

	if (ctx->lookup == NULL)
		return NULL;
	return ctx->lookup(ctx->opaque, node->u.var.segs, node->u.var.nsegs,
					   st->scratch);
}

/*
 * JLEvalNode evaluates one node: a literal is its value, without a call;
 * every other node goes through JLEvalNodeFull (depth and interrupt
 * accounting, then the operator).
 */
static inline const JLValue *
JLEvalNode(JLEvalState *st, const JLNode *node, const JLValue *scope)
{
	if (node->op == JLOP_LITERAL)
		return node->u.lit.value;
	if (node->op == JLOP_VAR && node->u.var.plain && scope == NULL)
	{
		/* a leaf that cannot recurse: no depth or step accounting */
		const JLValue *found = JLLookupStatic(st, node);

		return (found == NULL || found->type == JL_NULL) ? &JLNullValue : found;
	}
	return JLEvalNodeFull(st, node, scope);
}

extern bool JLEvalFail(JLEvalState *st, JLErrorCode code, const char *path,
					   const char *fmt,...) JL_PRINTF(4, 5);
extern const JLValue *JLLookupRoot(JLEvalState *st, const JLPathSegment *segs,
								   size_t nsegs);
extern bool JLEvalCheckInterrupt(JLEvalState *st);

/* jl_ops_flagd.c */
extern bool JLSemVerParse(const char *s, size_t len, JLSemVer *out);
extern JLSemVerOp JLSemVerOpParse(const char *s, size_t len);
extern const JLValue *JLEvalFractional(JLEvalState *st, const JLNode *node,
									   const JLValue *scope);
extern bool JLFractionalPrepare(JLArena *arena, JLNode *node, uint32_t first);
extern const JLValue *JLEvalSemVer(JLEvalState *st, const JLNode *node,
								   const JLValue *scope);
extern const JLValue *JLEvalStringAffix(JLEvalState *st, const JLNode *node,
										const JLValue *scope, bool prefix);
extern const JLValue *JLEvalInSegment(JLEvalState *st, const JLNode *node,
									  const JLValue *scope);

/* jl_error helpers */
extern void JLSetError(JLError *err, JLErrorCode code, const char *path,
					   const char *fmt,...) JL_PRINTF(4, 5);

#define JL_BOOL(b) ((b) ? &JLTrueValue : &JLFalseValue)

#endif							/* FF_JL_INTERNAL_H */
