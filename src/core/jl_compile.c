/*-------------------------------------------------------------------------
 *
 * jl_compile.c
 *	  Compile a JSON Logic rule (a JLValue) into a tree of operator nodes.
 *
 * Compilation resolves operator names to enums, turns literal sub-trees
 * into pre-built values, pre-splits literal var paths, pre-parses literal
 * sem_ver operands, builds a sorted set for "in" over a literal array of
 * strings, and performs the write-time checks of the flagd schema
 * (unknown operators, arity of the custom operators, literal fractional
 * weights, $flagd properties).  Every error names the JSON path of the
 * offending node.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/core/jl_compile.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jl_internal.h"

typedef struct JLOpName
{
	const char *name;
	JLOp		op;
} JLOpName;

static const JLOpName jl_operators[] = {
	{"var", JLOP_VAR},
	{"missing", JLOP_MISSING},
	{"missing_some", JLOP_MISSING_SOME},
	{"if", JLOP_IF},
	{"==", JLOP_EQ},
	{"===", JLOP_STRICT_EQ},
	{"!=", JLOP_NE},
	{"!==", JLOP_STRICT_NE},
	{"<", JLOP_LT},
	{"<=", JLOP_LE},
	{">", JLOP_GT},
	{">=", JLOP_GE},
	{"!", JLOP_NOT},
	{"!!", JLOP_NOTNOT},
	{"and", JLOP_AND},
	{"or", JLOP_OR},
	{"+", JLOP_ADD},
	{"-", JLOP_SUB},
	{"*", JLOP_MUL},
	{"/", JLOP_DIV},
	{"%", JLOP_MOD},
	{"min", JLOP_MIN},
	{"max", JLOP_MAX},
	{"cat", JLOP_CAT},
	{"substr", JLOP_SUBSTR},
	{"in", JLOP_IN},
	{"merge", JLOP_MERGE},
	{"map", JLOP_MAP},
	{"filter", JLOP_FILTER},
	{"reduce", JLOP_REDUCE},
	{"all", JLOP_ALL},
	{"some", JLOP_SOME},
	{"none", JLOP_NONE},
	{"fractional", JLOP_FRACTIONAL},
	{"sem_ver", JLOP_SEM_VER},
	{"starts_with", JLOP_STARTS_WITH},
	{"ends_with", JLOP_ENDS_WITH},
	{"in_segment", JLOP_IN_SEGMENT},
	{NULL, JLOP_LITERAL}
};

#define JL_INTERN_MAX 32

typedef struct JLCompiler
{
	JLArena    *arena;
	JLError    *err;
	int			max_depth;
	bool		allow_segments;
	bool		allow_ternary;
	bool		flagd_lenient;
	char		path[256];
	size_t		pathlen;
	/* segment names */
	JLPathSegment *segments;
	size_t		nsegments;
	size_t		capsegments;
	/* copy_literals: the scalars copied so far, to share repeats */
	bool		copy_literals;
	const JLValue *interned[JL_INTERN_MAX];
	int			ninterned;
	/* the path string of the node created last (literals share it) */
	const char *anchor;
	size_t		anchorlen;
} JLCompiler;

static JLNode *JLCompileValue(JLCompiler *c, const JLValue *v, int depth);
static JLNode *JLCompileFailV(JLCompiler *c, JLErrorCode code, const char *hint,
							   const char *fmt, va_list ap) JL_PRINTF(4, 0);
static JLNode *JLCompileFail(JLCompiler *c, JLErrorCode code, const char *fmt,...) JL_PRINTF(3, 4);
static JLNode *JLCompileFailHint(JLCompiler *c, JLErrorCode code, const char *hint,
								  const char *fmt,...) JL_PRINTF(4, 5);

/* suggestions for errors that the callers' generic hint does not fit */
#define JL_HINT_ONE_KEY "Each object in a rule is one operator with its arguments; combine conditions with {\"and\": [...]} or {\"or\": [...]}."
#define JL_HINT_FLAGD_VAR "flagd sets only $flagd.flagKey and $flagd.timestamp; read the context's own attributes without the \"$flagd.\" prefix."
#define JL_HINT_WEIGHT "Weights are whole numbers from 0 up and only their ratios count, as in [\"on\", 25], [\"off\", 75]; a bucket without a weight counts 1."
#define JL_HINT_BUCKETS "Write the buckets as [\"variant\", weight] arrays after an optional bucketing value: {\"fractional\": [[\"on\", 50], [\"off\", 50]]}."
#define JL_HINT_SEMVER_OP "The operator is a literal string between the two versions, as in {\"sem_ver\": [{\"var\": \"version\"}, \">=\", \"1.2.0\"]}."
#define JL_HINT_SEGMENT "Name the segment with a string: {\"in_segment\": \"beta\"}, or [\"beta\", {\"var\": \"email\"}] to look up a key other than targetingKey."

/*
 * JLPathPush appends a component to the current JSON path, returning the
 * previous length for JLPathPop.  Paths that would not fit end in "...".
 */
static size_t
JLPathPush(JLCompiler *c, const char *fmt, const char *name, size_t namelen,
		   size_t index)
{
	size_t		old = c->pathlen;
	char		tmp[300];
	int			n;

	if (fmt[0] == '.')
		n = snprintf(tmp, sizeof(tmp), ".%.*s", JLUtf8Clip(name, namelen, 200), name);
	else
		n = snprintf(tmp, sizeof(tmp), "[%zu]", index);
	if (n < 0)
		n = 0;
	if (c->pathlen + (size_t) n + 4 >= sizeof(c->path))
	{
		if (c->pathlen + 4 < sizeof(c->path) &&
			(c->pathlen < 3 || strcmp(c->path + c->pathlen - 3, "...") != 0))
		{
			memcpy(c->path + c->pathlen, "...", 4);
			c->pathlen += 3;
		}
		return old;
	}
	memcpy(c->path + c->pathlen, tmp, n + 1);
	c->pathlen += n;
	return old;
}

/*
 * JLPathPop restores the path to an earlier length.
 */
static void
JLPathPop(JLCompiler *c, size_t old)
{
	c->pathlen = old;
	c->path[old] = '\0';
}

/*
 * JLCompileFailV records a compile error at the current path, with a static
 * hint (or NULL) when it is the first error of the compilation.
 */
static JLNode *
JLCompileFailV(JLCompiler *c, JLErrorCode code, const char *hint, const char *fmt,
			   va_list ap)
{
	char		msg[256];
	bool		first = c->err != NULL && c->err->code == JL_OK;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	JLSetError(c->err, code, c->path, "%s", msg);
	if (first)
		c->err->hint = hint;
	return NULL;
}

/*
 * JLCompileFail records a compile error at the current path.
 */
static JLNode *
JLCompileFail(JLCompiler *c, JLErrorCode code, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	(void) JLCompileFailV(c, code, NULL, fmt, ap);
	va_end(ap);
	return NULL;
}

/*
 * JLCompileFailHint records a compile error at the current path together
 * with a suggestion that fits it better than the caller's generic one.
 */
static JLNode *
JLCompileFailHint(JLCompiler *c, JLErrorCode code, const char *hint, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	(void) JLCompileFailV(c, code, hint, fmt, ap);
	va_end(ap);
	return NULL;
}

/*
 * JLCompileOOM records an allocation failure.
 */
static JLNode *
JLCompileOOM(JLCompiler *c)
{
	return JLCompileFail(c, JL_ERR_OUT_OF_MEMORY, "out of memory while compiling the rule");
}

/*
 * JLNewNode allocates a zeroed node carrying a copy of the current path.
 */
static JLNode *
JLNewNode(JLCompiler *c, JLOp op)
{
	JLNode	   *n = JLArenaAlloc(c->arena, sizeof(JLNode));
	char	   *p;

	if (n == NULL)
		return NULL;
	memset(n, 0, sizeof(JLNode));
	n->op = op;
	if (op == JLOP_LITERAL && c->anchor != NULL &&
		c->pathlen >= c->anchorlen &&
		memcmp(c->path, c->anchor, c->anchorlen) == 0)
	{
		/* share the path of the node created last, plus "[index]" */
		const char *rest = c->path + c->anchorlen;
		size_t		restlen = c->pathlen - c->anchorlen;
		size_t		i;
		uint32_t	index = 0;
		bool		ok = true;

		if (restlen > 0)
		{
			ok = restlen >= 3 && restlen <= 11 && rest[0] == '[' &&
				rest[restlen - 1] == ']' && !(rest[1] == '0' && restlen > 3);
			for (i = 1; ok && i < restlen - 1; i++)
			{
				if (rest[i] < '0' || rest[i] > '9' || index > (UINT32_MAX - 9) / 10)
					ok = false;
				else
					index = index * 10 + (uint32_t) (rest[i] - '0');
			}
		}
		if (ok)
		{
			n->path = c->anchor;
			n->u.lit.has_index = restlen > 0;
			n->u.lit.index = index;
			return n;
		}
	}
	p = JLArenaAlloc(c->arena, c->pathlen + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, c->path, c->pathlen + 1);
	n->path = p;
	c->anchor = p;
	c->anchorlen = c->pathlen;
	return n;
}

/*
 * JLNullCall replaces a call of a flagd operator that flagd loads but
 * cannot apply (flagd_lenient) by what flagd evaluates it to: null.  Its
 * arguments were compiled, so every other error in them is still reported;
 * they have no effect when evaluated, so they are not kept.
 */
static JLNode *
JLNullCall(JLCompiler *c)
{
	JLNode	   *n = JLNewNode(c, JLOP_LITERAL);

	if (n == NULL)
		return JLCompileOOM(c);
	n->u.lit.value = &JLNullValue;
	return n;
}

/*
 * JLNodePath returns the JSON path of node n in the rule, formatted into
 * buf (size bytes) when it is not stored whole.
 */
const char *
JLNodePath(const JLNode *n, char *buf, size_t size)
{
	if (n->op != JLOP_LITERAL || !n->u.lit.has_index)
		return n->path;
	snprintf(buf, size, "%s[%u]", n->path, (unsigned) n->u.lit.index);
	return buf;
}

/*
 * JLCopyLiteral returns v copied into the compiler's arena (copy_literals;
 * v itself otherwise), NULL when out of memory.  Equal scalars share one
 * copy; string bytes and object keys are not copied.
 */
static const JLValue *
JLCopyLiteral(JLCompiler *c, const JLValue *v, int depth)
{
	JLValue    *copy;
	size_t		i;

	if (!c->copy_literals)
		return v;
	switch (v->type)
	{
		case JL_NULL:
			return &JLNullValue;
		case JL_BOOL:
			return JL_BOOL(v->u.boolean);
		case JL_NUMBER:
		case JL_STRING:
			for (i = 0; i < (size_t) c->ninterned; i++)
			{
				const JLValue *w = c->interned[i];

				if (w->type == v->type &&
					(v->type == JL_NUMBER ?
					 memcmp(&w->u.number, &v->u.number, sizeof(double)) == 0 :
					 (w->u.string.len == v->u.string.len &&
					  memcmp(w->u.string.ptr, v->u.string.ptr, v->u.string.len) == 0)))
					return w;
			}
			copy = JLArenaAlloc(c->arena, sizeof(JLValue));
			if (copy == NULL)
				return NULL;
			*copy = *v;
			if (c->ninterned < JL_INTERN_MAX)
				c->interned[c->ninterned++] = copy;
			return copy;
		case JL_ARRAY:
			{
				const JLValue **items = NULL;

				if (depth > c->max_depth)
					return NULL;	/* cannot happen: compile limits depth */
				if (v->u.array.count > 0)
				{
					items = JLArenaAlloc(c->arena, v->u.array.count * sizeof(JLValue *));
					if (items == NULL)
						return NULL;
					for (i = 0; i < v->u.array.count; i++)
						if ((items[i] = JLCopyLiteral(c, v->u.array.items[i], depth + 1)) == NULL)
							return NULL;
				}
				copy = JLArenaAlloc(c->arena, sizeof(JLValue));
				if (copy == NULL)
					return NULL;
				*copy = *v;
				copy->u.array.items = items;
				return copy;
			}
		case JL_OBJECT:
			{
				JLMember   *members = NULL;

				if (depth > c->max_depth)
					return NULL;	/* cannot happen: compile limits depth */
				if (v->u.object.count > 0)
				{
					members = JLArenaAlloc(c->arena, v->u.object.count * sizeof(JLMember));
					if (members == NULL)
						return NULL;
					for (i = 0; i < v->u.object.count; i++)
					{
						members[i] = v->u.object.members[i];
						if ((members[i].value = JLCopyLiteral(c, v->u.object.members[i].value,
															  depth + 1)) == NULL)
							return NULL;
					}
				}
				copy = JLArenaAlloc(c->arena, sizeof(JLValue));
				if (copy == NULL)
					return NULL;
				*copy = *v;
				copy->u.object.members = members;
				return copy;
			}
	}
	return v;
}

/*
 * JLSplitPathInto splits a var path at '.' into segments (allocated in the
 * arena), as String.prototype.split does; "" gives zero segments.
 */
bool
JLSplitPathInto(JLArena *arena, const char *s, size_t len,
				const JLPathSegment **segs, size_t *nsegs)
{
	size_t		n = 1;
	size_t		i;
	size_t		start = 0;
	size_t		k = 0;
	JLPathSegment *out;

	if (len == 0)
	{
		*segs = NULL;
		*nsegs = 0;
		return true;
	}
	for (i = 0; i < len; i++)
		if (s[i] == '.')
			n++;
	out = JLArenaAlloc(arena, n * sizeof(JLPathSegment));
	if (out == NULL)
		return false;
	for (i = 0; i <= len; i++)
	{
		if (i == len || s[i] == '.')
		{
			out[k].ptr = s + start;
			out[k].len = i - start;
			k++;
			start = i + 1;
		}
	}
	*segs = out;
	*nsegs = n;
	return true;
}

/*
 * JLSegEq compares a path segment with a C string.
 */
static bool
JLSegEq(const JLPathSegment *seg, const char *s)
{
	size_t		l = strlen(s);

	return seg->len == l && memcmp(seg->ptr, s, l) == 0;
}

/*
 * JLClassifyFlagd recognises $flagd references in a split path; false
 * (with *ref untouched) for a $flagd property that does not exist.
 */
bool
JLClassifyFlagd(const JLPathSegment *segs, size_t nsegs, JLFlagdRef *ref)
{
	*ref = JL_FLAGD_NONE;
	if (nsegs == 0 || !JLSegEq(&segs[0], "$flagd"))
		return true;
	if (nsegs == 1)
	{
		*ref = JL_FLAGD_WHOLE;
		return true;
	}
	if (nsegs == 2 && JLSegEq(&segs[1], "flagKey"))
	{
		*ref = JL_FLAGD_FLAGKEY;
		return true;
	}
	if (nsegs == 2 && JLSegEq(&segs[1], "timestamp"))
	{
		*ref = JL_FLAGD_TIMESTAMP;
		return true;
	}
	return false;
}

/*
 * JLCompileVar precomputes a literal var path.
 */
static JLNode *
JLCompileVar(JLCompiler *c, JLNode *n)
{
	const JLValue *p;
	JLBuf		buf;
	const JLPathSegment *segs;
	size_t		nsegs;
	JLFlagdRef	flagd = JL_FLAGD_NONE;

	if (n->nargs == 0)
	{
		n->u.var.is_static = true;
		return n;
	}
	if (n->args[0]->op != JLOP_LITERAL)
		return n;				/* computed path */
	p = n->args[0]->u.lit.value;
	n->u.var.is_static = true;
	if (p->type == JL_NULL)
		return n;
	if (p->type == JL_STRING)
	{
		buf.data = (char *) p->u.string.ptr;
		buf.len = p->u.string.len;
	}
	else
	{
		JLBufInit(&buf, c->arena, 16);
		JLAppendString(&buf, p, false, 0);
		if (buf.failed)
			return JLCompileOOM(c);
	}
	if (!JLSplitPathInto(c->arena, buf.data, buf.len, &segs, &nsegs))
		return JLCompileOOM(c);
	if (nsegs > UINT32_MAX)
		return JLCompileFail(c, JL_ERR_TOO_LARGE, "var path has too many segments");
	n->u.var.segs = segs;
	n->u.var.nsegs = (uint32_t) nsegs;
	if (!JLClassifyFlagd(segs, nsegs, &flagd))
	{
		/* flagd_lenient: looked up at each evaluation, and missing there */
		if (c->flagd_lenient)
		{
			n->u.var.is_static = false;
			return n;
		}
		return JLCompileFailHint(c, JL_ERR_BAD_ARGUMENTS, JL_HINT_FLAGD_VAR,
								 "var path \"%.*s\" references an unknown $flagd property; only $flagd.flagKey and $flagd.timestamp exist",
								 JLUtf8Clip(buf.data, buf.len, 100), buf.data);
	}
	n->u.var.flagd = (uint8_t) flagd;
	n->u.var.plain = nsegs > 0 && flagd == JL_FLAGD_NONE && n->nargs < 2;
	return n;
}

/*
 * JLCheckWeight validates a literal fractional weight.
 */
static bool
JLCheckWeight(JLCompiler *c, const JLValue *w)
{
	if (w->type == JL_NULL)
		return true;			/* means 1 */
	if (w->type != JL_NUMBER)
	{
		JLCompileFailHint(c, JL_ERR_BAD_ARGUMENTS, JL_HINT_WEIGHT,
						  "fractional weight must be a non-negative integer, not a %s",
						  JLTypeName(w));
		return false;
	}
	if (w->u.number != floor(w->u.number) || w->u.number < 0 ||
		w->u.number > 2147483647.0)
	{
		char		num[32];

		JLFormatNumber(w->u.number, num);
		JLCompileFailHint(c, JL_ERR_BAD_ARGUMENTS, JL_HINT_WEIGHT,
						  "fractional weight %s is not an integer between 0 and 2147483647",
						  num);
		return false;
	}
	return true;
}

/*
 * JLCheckBucket validates one fractional bucket whose shape is known at
 * compile time; *weight receives its literal weight (-1 if computed).
 */
static bool
JLCheckBucket(JLCompiler *c, const JLNode *b, size_t index, double *weight)
{
	size_t		old = JLPathPush(c, "[", NULL, 0, index);
	size_t		count;
	bool		ok = true;

	*weight = -1;
	if (b->op == JLOP_LITERAL)
	{
		const JLValue *v = b->u.lit.value;

		if (v->type != JL_ARRAY)
		{
			JLCompileFailHint(c, JL_ERR_BAD_ARGUMENTS, JL_HINT_BUCKETS,
							  "fractional bucket must be an array [variant, weight], not a %s",
							  JLTypeName(v));
			ok = false;
		}
		else if ((count = v->u.array.count) < 1 || count > 2)
		{
			JLCompileFailHint(c, JL_ERR_BAD_ARGUMENTS, JL_HINT_BUCKETS,
							  "fractional bucket must have 1 or 2 elements [variant, weight], not %zu",
							  count);
			ok = false;
		}
		else if (count == 2)
		{
			size_t		o2 = JLPathPush(c, "[", NULL, 0, 1);

			ok = JLCheckWeight(c, v->u.array.items[1]);
			JLPathPop(c, o2);
			if (ok)
				*weight = v->u.array.items[1]->type == JL_NULL ? 1 : v->u.array.items[1]->u.number;
		}
		else
			*weight = 1;
	}
	else if (b->op == JLOP_ARRAY)
	{
		if (b->nargs < 1 || b->nargs > 2)
		{
			JLCompileFailHint(c, JL_ERR_BAD_ARGUMENTS, JL_HINT_BUCKETS,
							  "fractional bucket must have 1 or 2 elements [variant, weight], not %u",
							  b->nargs);
			ok = false;
		}
		else if (b->nargs == 2 && b->args[1]->op == JLOP_LITERAL)
		{
			size_t		o2 = JLPathPush(c, "[", NULL, 0, 1);

			ok = JLCheckWeight(c, b->args[1]->u.lit.value);
			JLPathPop(c, o2);
			if (ok)
				*weight = b->args[1]->u.lit.value->type == JL_NULL ? 1 : b->args[1]->u.lit.value->u.number;
		}
		else if (b->nargs == 1)
			*weight = 1;
	}
	JLPathPop(c, old);
	return ok;
}

/*
 * JLCheckFractional checks the literal parts of a fractional operator whose
 * first bucket is argument first (1 after a bucketing value): false, with
 * the error recorded, when flagd's schema forbids them.
 */
static bool
JLCheckFractional(JLCompiler *c, const JLNode *n, size_t first)
{
	size_t		i;
	double		total = 0;

	if (n->nargs == 0)
	{
		JLCompileFailHint(c, JL_ERR_BAD_ARGUMENTS, JL_HINT_BUCKETS,
						  "fractional needs at least one bucket [variant, weight]");
		return false;
	}
	if (n->args[0]->op == JLOP_LITERAL && first == 1)
	{
		const JLValue *b = n->args[0]->u.lit.value;

		if (b->type != JL_STRING && b->type != JL_NULL)
		{
			size_t		old = JLPathPush(c, "[", NULL, 0, 0);

			JLCompileFailHint(c, JL_ERR_BAD_ARGUMENTS, JL_HINT_BUCKETS,
							  "fractional bucketing value must be a string or a rule, not a %s",
							  JLTypeName(b));
			JLPathPop(c, old);
			return false;
		}
	}
	if (first == n->nargs)
	{
		JLCompileFailHint(c, JL_ERR_BAD_ARGUMENTS, JL_HINT_BUCKETS,
						  "fractional needs at least one bucket [variant, weight] after the bucketing value");
		return false;
	}
	for (i = first; i < n->nargs; i++)
	{
		double		w;

		if (n->args[i]->op != JLOP_LITERAL && n->args[i]->op != JLOP_ARRAY)
			continue;			/* computed bucket */
		if (!JLCheckBucket(c, n->args[i], i, &w))
			return false;
		if (w > 0)
			total += w;
	}
	if (total > 2147483647.0)
	{
		JLCompileFailHint(c, JL_ERR_BAD_ARGUMENTS, JL_HINT_WEIGHT,
						  "fractional weights sum to more than 2147483647");
		return false;
	}
	return true;
}

/*
 * JLCompileFractional checks the literal parts of a fractional operator
 * (JLCheckFractional; not with flagd_lenient, where JLEvalFractional yields
 * null for whatever flagd's schema forbids and counts a negative whole
 * weight as 0) and sums literal buckets that follow a bucketing value once.
 */
static JLNode *
JLCompileFractional(JLCompiler *c, JLNode *n)
{
	size_t		first = 0;

	/* a first argument that is not an array is the bucketing value */
	if (n->nargs > 0 && n->args[0]->op != JLOP_ARRAY &&
		!(n->args[0]->op == JLOP_LITERAL && n->args[0]->u.lit.value->type == JL_ARRAY))
		first = 1;
	if (!c->flagd_lenient && !JLCheckFractional(c, n, first))
		return NULL;
	if (first == 1 && !JLFractionalPrepare(c->arena, n, 1))
		return JLCompileOOM(c);
	return n;
}

/*
 * JLCompileSemVer checks arity and the literal operator of sem_ver and
 * pre-parses literal versions.
 */
static JLNode *
JLCompileSemVer(JLCompiler *c, JLNode *n)
{
	int			side;

	if (n->nargs != 3)
	{
		if (c->flagd_lenient)
			return JLNullCall(c);
		return JLCompileFail(c, JL_ERR_BAD_ARGUMENTS,
							 "sem_ver takes exactly 3 arguments [version, operator, version], got %u",
							 n->nargs);
	}
	n->u.semver = JLArenaAlloc(c->arena, sizeof(JLNodeSemVer));
	if (n->u.semver == NULL)
		return JLCompileOOM(c);
	memset(n->u.semver, 0, sizeof(JLNodeSemVer));
	if (n->args[1]->op == JLOP_LITERAL)
	{
		const JLValue *o = n->args[1]->u.lit.value;
		size_t		old = JLPathPush(c, "[", NULL, 0, 1);

		if (o->type != JL_STRING ||
			(n->u.semver->svop = JLSemVerOpParse(o->u.string.ptr, o->u.string.len)) == JL_SV_INVALID)
		{
			/*
			 * flagd_lenient: left JL_SV_INVALID, JLEvalSemVer reads the
			 * operator at each evaluation and yields null
			 */
			if (c->flagd_lenient)
				n->u.semver->svop = JL_SV_INVALID;
			else
			{
				if (o->type == JL_STRING)
					JLCompileFailHint(c, JL_ERR_BAD_ARGUMENTS, JL_HINT_SEMVER_OP,
									  "unknown sem_ver operator \"%.*s\"; expected one of =, !=, <, <=, >, >=, ^, ~",
									  JLUtf8Clip(o->u.string.ptr, o->u.string.len, 40), o->u.string.ptr);
				else
					JLCompileFailHint(c, JL_ERR_BAD_ARGUMENTS, JL_HINT_SEMVER_OP,
									  "sem_ver operator must be a string (one of =, !=, <, <=, >, >=, ^, ~), not a %s",
									  JLTypeName(o));
				JLPathPop(c, old);
				return NULL;
			}
		}
		JLPathPop(c, old);
	}
	for (side = 0; side < 2; side++)
	{
		const JLNode *a = n->args[side == 0 ? 0 : 2];
		JLSemVer   *sv = side == 0 ? &n->u.semver->left : &n->u.semver->right;
		bool	   *flag = side == 0 ? &n->u.semver->left_static : &n->u.semver->right_static;

		if (a->op == JLOP_LITERAL && a->u.lit.value->type == JL_STRING &&
			JLSemVerParse(a->u.lit.value->u.string.ptr, a->u.lit.value->u.string.len, sv))
			*flag = true;
	}
	return n;
}

/*
 * JLStringCmpForSort compares two string values for qsort.
 */
static int
JLStringCmpForSort(const void *a, const void *b)
{
	const JLValue *x = *(const JLValue *const *) a;
	const JLValue *y = *(const JLValue *const *) b;

	return JLCompareBytes(x->u.string.ptr, x->u.string.len,
						  y->u.string.ptr, y->u.string.len);
}

/*
 * JLCompileIn builds a sorted set when the haystack is a literal array of
 * strings, so membership is a binary search.
 */
static JLNode *
JLCompileIn(JLCompiler *c, JLNode *n)
{
	const JLValue *h;
	size_t		i;
	const JLValue **items;

	if (n->nargs < 2 || n->args[1]->op != JLOP_LITERAL)
		return n;
	h = n->args[1]->u.lit.value;
	if (h->type != JL_ARRAY || h->u.array.count < 4)
		return n;
	for (i = 0; i < h->u.array.count; i++)
		if (h->u.array.items[i]->type != JL_STRING)
			return n;
	items = JLArenaAlloc(c->arena, h->u.array.count * sizeof(JLValue *));
	if (items == NULL)
		return JLCompileOOM(c);
	memcpy(items, h->u.array.items, h->u.array.count * sizeof(JLValue *));
	qsort(items, h->u.array.count, sizeof(JLValue *), JLStringCmpForSort);
	n->u.inset.items = items;
	n->u.inset.count = h->u.array.count;
	return n;
}

/*
 * JLCompileInSegment checks in_segment's arguments and records the
 * segment name.
 */
static JLNode *
JLCompileInSegment(JLCompiler *c, JLNode *n)
{
	const JLValue *name;
	size_t		i;

	if (n->nargs < 1 || n->nargs > 2)
		return JLCompileFail(c, JL_ERR_BAD_ARGUMENTS,
							 "in_segment takes a segment name and an optional key, got %u arguments",
							 n->nargs);
	if (n->args[0]->op != JLOP_LITERAL || n->args[0]->u.lit.value->type != JL_STRING ||
		n->args[0]->u.lit.value->u.string.len == 0)
	{
		size_t		old = JLPathPush(c, "[", NULL, 0, 0);

		JLCompileFailHint(c, JL_ERR_BAD_ARGUMENTS, JL_HINT_SEGMENT,
						  "in_segment needs a literal, non-empty segment name string");
		JLPathPop(c, old);
		return NULL;
	}
	name = n->args[0]->u.lit.value;
	n->u.segment.name = name->u.string.ptr;
	n->u.segment.namelen = name->u.string.len;
	for (i = 0; i < c->nsegments; i++)
		if (c->segments[i].len == name->u.string.len &&
			memcmp(c->segments[i].ptr, name->u.string.ptr, name->u.string.len) == 0)
			return n;
	if (c->nsegments == c->capsegments)
	{
		size_t		cap = c->capsegments ? c->capsegments * 2 : 4;
		JLPathSegment *bigger = JLArenaAlloc(c->arena, cap * sizeof(JLPathSegment));

		if (bigger == NULL)
			return JLCompileOOM(c);
		if (c->nsegments > 0)
			memcpy(bigger, c->segments, c->nsegments * sizeof(JLPathSegment));
		c->segments = bigger;
		c->capsegments = cap;
	}
	c->segments[c->nsegments].ptr = name->u.string.ptr;
	c->segments[c->nsegments].len = name->u.string.len;
	c->nsegments++;
	return n;
}

/*
 * JLCompileOperator compiles {"op": args}.
 */
static JLNode *
JLCompileOperator(JLCompiler *c, const JLMember *m, int depth)
{
	const JLOpName *o;
	JLOp		op = JLOP_LITERAL;
	JLNode	   *n;
	const JLValue *args = m->value;
	size_t		nargs;
	size_t		i;
	size_t		old;

	for (o = jl_operators; o->name != NULL; o++)
		if (strlen(o->name) == m->keylen && memcmp(o->name, m->key, m->keylen) == 0)
		{
			op = o->op;
			break;
		}
	if (op == JLOP_IN_SEGMENT && !c->allow_segments)
		op = JLOP_LITERAL;
	if (op == JLOP_LITERAL && c->allow_ternary && m->keylen == 2 &&
		memcmp(m->key, "?:", 2) == 0)
		op = JLOP_IF;
	if (op == JLOP_LITERAL)
	{
		if (m->keylen == 2 && memcmp(m->key, "?:", 2) == 0)
			return JLCompileFail(c, JL_ERR_UNKNOWN_OPERATOR,
								 "unknown operator \"?:\"; use \"if\" instead");
		if (m->keylen == 10 && memcmp(m->key, "in_segment", 10) == 0)
			return JLCompileFail(c, JL_ERR_UNKNOWN_OPERATOR,
								 "operator \"in_segment\" is not allowed here (segments cannot be used in this rule)");
		if (m->keylen == 4 && memcmp(m->key, "$ref", 4) == 0 &&
			args->type == JL_STRING)
			return JLCompileFail(c, JL_ERR_UNKNOWN_OPERATOR,
								 "unknown operator \"$ref\": the flagd shared rule \"%.*s\" was not resolved",
								 JLUtf8Clip(args->u.string.ptr, args->u.string.len, 60),
								 args->u.string.ptr);
		return JLCompileFail(c, JL_ERR_UNKNOWN_OPERATOR, "unknown operator \"%.*s\"",
							 JLUtf8Clip(m->key, m->keylen, 60), m->key);
	}

	old = JLPathPush(c, ".", m->key, m->keylen, 0);
	n = JLNewNode(c, op);
	if (n == NULL)
		return JLCompileOOM(c);
	nargs = args->type == JL_ARRAY ? args->u.array.count : 1;
	if (nargs > UINT32_MAX)
		return JLCompileFail(c, JL_ERR_TOO_LARGE, "too many arguments");
	n->nargs = (uint32_t) nargs;
	n->args = JLArenaAlloc(c->arena, (nargs ? nargs : 1) * sizeof(JLNode *));
	if (n->args == NULL)
		return JLCompileOOM(c);
	if (args->type == JL_ARRAY)
	{
		for (i = 0; i < nargs; i++)
		{
			size_t		o2 = JLPathPush(c, "[", NULL, 0, i);

			n->args[i] = JLCompileValue(c, args->u.array.items[i], depth + 1);
			if (n->args[i] == NULL)
				return NULL;
			JLPathPop(c, o2);
		}
	}
	else
	{
		n->args[0] = JLCompileValue(c, args, depth + 1);
		if (n->args[0] == NULL)
			return NULL;
	}

	switch (op)
	{
		case JLOP_VAR:
			n = JLCompileVar(c, n);
			break;
		case JLOP_MUL:
			if (nargs == 0)
				n = JLCompileFail(c, JL_ERR_BAD_ARGUMENTS, "\"*\" needs at least one argument");
			break;
		case JLOP_MISSING_SOME:
			if (nargs != 2)
				n = JLCompileFail(c, JL_ERR_BAD_ARGUMENTS,
								  "missing_some takes 2 arguments [count, keys], got %zu", nargs);
			break;
		case JLOP_SUBSTR:
			if (nargs < 1 || nargs > 3)
				n = JLCompileFail(c, JL_ERR_BAD_ARGUMENTS,
								  "substr takes 1 to 3 arguments [string, start, length], got %zu", nargs);
			break;
		case JLOP_MAP:
		case JLOP_FILTER:
		case JLOP_ALL:
		case JLOP_SOME:
		case JLOP_NONE:
			if (nargs != 2)
				n = JLCompileFail(c, JL_ERR_BAD_ARGUMENTS,
								  "%.*s takes 2 arguments [array, rule], got %zu",
								  (int) m->keylen, m->key, nargs);
			break;
		case JLOP_REDUCE:
			if (nargs < 2 || nargs > 3)
				n = JLCompileFail(c, JL_ERR_BAD_ARGUMENTS,
								  "reduce takes 2 or 3 arguments [array, rule, initial], got %zu", nargs);
			break;
		case JLOP_STARTS_WITH:
		case JLOP_ENDS_WITH:
			if (nargs != 2 && c->flagd_lenient)
				n = JLNullCall(c);
			else if (nargs != 2)
				n = JLCompileFail(c, JL_ERR_BAD_ARGUMENTS,
								  "%.*s takes exactly 2 arguments [value, %s], got %zu",
								  (int) m->keylen, m->key,
								  op == JLOP_STARTS_WITH ? "prefix" : "suffix", nargs);
			break;
		case JLOP_SEM_VER:
			n = JLCompileSemVer(c, n);
			break;
		case JLOP_FRACTIONAL:
			n = JLCompileFractional(c, n);
			break;
		case JLOP_IN:
			n = JLCompileIn(c, n);
			break;
		case JLOP_IN_SEGMENT:
			n = JLCompileInSegment(c, n);
			break;
		default:
			break;
	}
	if (n != NULL)
		JLPathPop(c, old);
	return n;
}

/*
 * JLIsPlainData reports whether v contains no object at all (so no rule)
 * and stays within the depth limit; such arrays compile to one literal.
 */
static bool
JLIsPlainData(const JLValue *v, int depth, int max_depth)
{
	size_t		i;

	if (depth >= max_depth)
		return false;
	if (v->type == JL_OBJECT)
		return false;
	if (v->type != JL_ARRAY)
		return true;
	for (i = 0; i < v->u.array.count; i++)
	{
		const JLValue *e = v->u.array.items[i];

		if (e->type == JL_OBJECT ||
			(e->type == JL_ARRAY && !JLIsPlainData(e, depth + 1, max_depth)))
			return false;
	}
	return true;
}

/*
 * JLCompileValue compiles any JSON value: single-key objects are
 * operators, arrays are compiled element-wise, the rest are literals.
 */
static JLNode *
JLCompileValue(JLCompiler *c, const JLValue *v, int depth)
{
	JLNode	   *n;

	if (v == NULL)
		return JLCompileFail(c, JL_ERR_BAD_ARGUMENTS, "missing value");
	if (depth >= c->max_depth)
		return JLCompileFail(c, JL_ERR_TOO_DEEP,
							 "rule nesting exceeds the maximum depth of %d", c->max_depth);
	if (v->type == JL_OBJECT && v->u.object.count > 0)
	{
		if (v->u.object.count > 1)
		{
			const JLMember *m0 = &v->u.object.members[0];
			const JLMember *m1 = &v->u.object.members[1];

			return JLCompileFailHint(c, JL_ERR_BAD_ARGUMENTS, JL_HINT_ONE_KEY,
									 "a rule object must have exactly one key (the operator), found %zu keys (\"%.*s\", \"%.*s\"%s)",
									 v->u.object.count,
									 JLUtf8Clip(m0->key, m0->keylen, 40), m0->key,
									 JLUtf8Clip(m1->key, m1->keylen, 40), m1->key,
									 v->u.object.count > 2 ? ", ..." : "");
		}
		return JLCompileOperator(c, &v->u.object.members[0], depth);
	}
	if (v->type == JL_ARRAY && v->u.array.count > 0 &&
		JLIsPlainData(v, depth, c->max_depth))
	{
		/* no rule inside: one literal node, no per-element nodes */
		n = JLNewNode(c, JLOP_LITERAL);
		if (n == NULL)
			return JLCompileOOM(c);
		if ((n->u.lit.value = JLCopyLiteral(c, v, depth)) == NULL)
			return JLCompileOOM(c);
		return n;
	}
	if (v->type == JL_ARRAY && v->u.array.count > 0)
	{
		size_t		i;
		bool		all_literal = true;
		JLNode	  **args;

		args = JLArenaAlloc(c->arena, v->u.array.count * sizeof(JLNode *));
		if (args == NULL)
			return JLCompileOOM(c);
		for (i = 0; i < v->u.array.count; i++)
		{
			size_t		old = JLPathPush(c, "[", NULL, 0, i);

			args[i] = JLCompileValue(c, v->u.array.items[i], depth + 1);
			if (args[i] == NULL)
				return NULL;
			JLPathPop(c, old);
			if (args[i]->op != JLOP_LITERAL)
				all_literal = false;
		}
		n = JLNewNode(c, all_literal ? JLOP_LITERAL : JLOP_ARRAY);
		if (n == NULL)
			return JLCompileOOM(c);
		if ((n->u.lit.value = JLCopyLiteral(c, v, depth)) == NULL)
			return JLCompileOOM(c);
		if (!all_literal)
		{
			if (v->u.array.count > UINT32_MAX)
				return JLCompileFail(c, JL_ERR_TOO_LARGE, "array too large");
			n->args = args;
			n->nargs = (uint32_t) v->u.array.count;
		}
		return n;
	}
	n = JLNewNode(c, JLOP_LITERAL);
	if (n == NULL)
		return JLCompileOOM(c);
	if ((n->u.lit.value = JLCopyLiteral(c, v, depth)) == NULL)
		return JLCompileOOM(c);
	return n;
}

/*
 * JLCompile compiles a rule; NULL with err filled on failure.
 */
JLRule *
JLCompile(JLArena *arena, const JLValue *rule, const JLCompileOptions *options,
		  JLError *err)
{
	JLCompiler	c;
	JLRule	   *r;

	if (err != NULL)
	{
		err->code = JL_OK;
		err->path[0] = '\0';
		err->message[0] = '\0';
		err->hint = NULL;
	}
	memset(&c, 0, sizeof(c));
	c.arena = arena;
	c.err = err;
	c.max_depth = (options && options->max_depth > 0) ? options->max_depth : JL_DEFAULT_MAX_DEPTH;
	c.allow_segments = options ? options->allow_segments : false;
	c.allow_ternary = options ? options->allow_ternary : false;
	c.flagd_lenient = options ? options->flagd_lenient : false;
	c.copy_literals = options ? options->copy_literals : false;
	strcpy(c.path, "$");
	c.pathlen = 1;
	r = JLArenaAlloc(arena, sizeof(JLRule));
	if (r == NULL)
	{
		JLCompileOOM(&c);
		return NULL;
	}
	r->root = JLCompileValue(&c, rule, 0);
	if (r->root == NULL)
		return NULL;
	r->source = c.copy_literals ? NULL : rule;
	r->max_depth = c.max_depth;
	r->segments = c.segments;
	r->nsegments = c.nsegments;
	return r;
}

/*
 * JLRuleSegmentCount returns how many distinct segment names the rule
 * references.
 */
size_t
JLRuleSegmentCount(const JLRule *rule)
{
	return rule->nsegments;
}

/*
 * JLRuleSegmentName returns the i-th referenced segment name (not
 * necessarily NUL-terminated; see len).
 */
const char *
JLRuleSegmentName(const JLRule *rule, size_t i, size_t *len)
{
	if (i >= rule->nsegments)
	{
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = rule->segments[i].len;
	return rule->segments[i].ptr;
}

/*
 * JLLiteralResultsWalk reports the literal results a node can produce;
 * false when some result is computed.
 */
static bool
JLLiteralResultsWalk(const JLNode *n, JLResultCallback cb, void *arg, int depth)
{
	bool		complete = true;
	uint32_t	i;

	if (depth > 1000)
		return false;
	switch (n->op)
	{
		case JLOP_LITERAL:
			if (n->u.lit.value->type != JL_NULL)
			{
				char		path[300];

				cb(arg, n->u.lit.value, JLNodePath(n, path, sizeof(path)));
			}
			return true;
		case JLOP_IF:
			if (n->nargs == 1)
				return JLLiteralResultsWalk(n->args[0], cb, arg, depth + 1);
			for (i = 1; i < n->nargs; i += 2)
				if (!JLLiteralResultsWalk(n->args[i], cb, arg, depth + 1))
					complete = false;
			if (n->nargs >= 3 && n->nargs % 2 == 1 &&
				!JLLiteralResultsWalk(n->args[n->nargs - 1], cb, arg, depth + 1))
				complete = false;
			return complete;
		case JLOP_AND:
		case JLOP_OR:
			for (i = 0; i < n->nargs; i++)
				if (!JLLiteralResultsWalk(n->args[i], cb, arg, depth + 1))
					complete = false;
			return complete;
		case JLOP_FRACTIONAL:
			for (i = 0; i < n->nargs; i++)
			{
				const JLNode *b = n->args[i];

				if (b->op == JLOP_LITERAL && b->u.lit.value->type == JL_ARRAY)
				{
					if (b->u.lit.value->u.array.count >= 1 &&
						b->u.lit.value->u.array.items[0]->type != JL_NULL)
					{
						char		path[320];
						char		bpath[300];

						snprintf(path, sizeof(path), "%s[0]",
								 JLNodePath(b, bpath, sizeof(bpath)));
						cb(arg, b->u.lit.value->u.array.items[0], path);
					}
				}
				else if (b->op == JLOP_ARRAY)
				{
					if (b->nargs >= 1 &&
						!JLLiteralResultsWalk(b->args[0], cb, arg, depth + 1))
						complete = false;
				}
				else if (i > 0)
					complete = false;	/* computed bucket */
			}
			return complete;
		case JLOP_EQ:
		case JLOP_STRICT_EQ:
		case JLOP_NE:
		case JLOP_STRICT_NE:
		case JLOP_LT:
		case JLOP_LE:
		case JLOP_GT:
		case JLOP_GE:
		case JLOP_NOT:
		case JLOP_NOTNOT:
		case JLOP_IN:
		case JLOP_ALL:
		case JLOP_SOME:
		case JLOP_NONE:
		case JLOP_STARTS_WITH:
		case JLOP_ENDS_WITH:
		case JLOP_SEM_VER:
		case JLOP_IN_SEGMENT:
			cb(arg, &JLTrueValue, n->path);
			cb(arg, &JLFalseValue, n->path);
			return true;
		default:
			return false;
	}
}

/*
 * JLRuleLiteralResults enumerates the literal results of a rule.
 */
bool
JLRuleLiteralResults(const JLRule *rule, JLResultCallback cb, void *arg)
{
	return JLLiteralResultsWalk(rule->root, cb, arg, 0);
}
