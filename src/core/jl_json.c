/*-------------------------------------------------------------------------
 *
 * jl_json.c
 *	  JSON text parser (RFC 8259) and compact serialiser.
 *
 * The parser is a recursive descent over the text with an explicit depth
 * bound; it validates UTF-8, decodes escapes (including surrogate pairs;
 * lone surrogates are rejected as jsonb does), builds objects sorted like
 * jsonb (last duplicate key wins) and rejects numbers that overflow a
 * double.  The serialiser prints numbers the way JavaScript does and
 * non-finite numbers as null (as JSON.stringify does).
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/core/jl_json.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jl_internal.h"

typedef struct JLParser
{
	JLArena    *arena;
	const char *text;
	size_t		len;
	size_t		pos;
	int			max_depth;
	JLError    *err;
} JLParser;

static const JLValue *JLParseValue(JLParser *p, int depth);

/*
 * JLParseFail records a syntax error at the current offset (with line and
 * column) and returns NULL.
 */
static const JLValue *
JLParseFail(JLParser *p, JLErrorCode code, const char *what)
{
	size_t		line = 1;
	size_t		col = 1;
	size_t		i;

	for (i = 0; i < p->pos && i < p->len; i++)
	{
		if (p->text[i] == '\n')
		{
			line++;
			col = 1;
		}
		else
			col++;
	}
	JLSetError(p->err, code, "$", "%s at offset %zu (line %zu, column %zu)",
			   what, p->pos, line, col);
	return NULL;
}

/*
 * JLParseOOM records an allocation failure.
 */
static const JLValue *
JLParseOOM(JLParser *p)
{
	JLSetError(p->err, JL_ERR_OUT_OF_MEMORY, "$", "out of memory while parsing JSON");
	return NULL;
}

/*
 * JLSkipSpace skips JSON whitespace.
 */
static void
JLSkipSpace(JLParser *p)
{
	while (p->pos < p->len)
	{
		char		c = p->text[p->pos];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			p->pos++;
		else
			break;
	}
}

/*
 * JLHex4 decodes four hex digits at s, -1 if invalid.
 */
static long
JLHex4(const char *s)
{
	long		v = 0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		char		c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * JLUtf8Length returns the length of the valid UTF-8 sequence at s (at
 * most len bytes), 0 if invalid (overlong, surrogate, > U+10FFFF).
 */
size_t
JLUtf8Length(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return (len >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF)
	{
		if (len < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && s[1] < 0xA0)
			return 0;
		if (c == 0xED && s[1] >= 0xA0)
			return 0;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4)
	{
		if (len < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
			(s[3] & 0xC0) != 0x80)
			return 0;
		if (c == 0xF0 && s[1] < 0x90)
			return 0;
		if (c == 0xF4 && s[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

/*
 * JLEncodeUtf8 writes code point cp as UTF-8 into out, returning the
 * length.
 */
static int
JLEncodeUtf8(unsigned long cp, char *out)
{
	if (cp < 0x80)
	{
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (char) (0xC0 | (cp >> 6));
		out[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (char) (0xE0 | (cp >> 12));
		out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | (cp >> 18));
	out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/*
 * JLParseStringRaw parses a JSON string at the current position (which is
 * a '"') into *out and *outlen (arena copy, NUL-terminated).
 */
static bool
JLParseStringRaw(JLParser *p, const char **out, size_t *outlen)
{
	size_t		start = ++p->pos;
	size_t		i = start;
	bool		plain = true;
	char	   *buf;
	size_t		n = 0;

	/* first pass: find the end, validate, see whether escapes exist */
	for (;;)
	{
		unsigned char c;
		size_t		ul;

		if (i >= p->len)
		{
			p->pos = i;
			JLParseFail(p, JL_ERR_SYNTAX, "unterminated string");
			return false;
		}
		c = (unsigned char) p->text[i];
		if (c == '"')
			break;
		if (c < 0x20)
		{
			p->pos = i;
			JLParseFail(p, JL_ERR_SYNTAX, "control character in string (must be escaped)");
			return false;
		}
		if (c == '\\')
		{
			plain = false;
			i += 2;
			continue;
		}
		ul = JLUtf8Length((const unsigned char *) p->text + i, p->len - i);
		if (ul == 0)
		{
			p->pos = i;
			JLParseFail(p, JL_ERR_SYNTAX, "invalid UTF-8 in string");
			return false;
		}
		i += ul;
	}
	if (plain)
	{
		buf = JLArenaAlloc(p->arena, i - start + 1);
		if (buf == NULL)
		{
			JLParseOOM(p);
			return false;
		}
		memcpy(buf, p->text + start, i - start);
		buf[i - start] = '\0';
		*out = buf;
		*outlen = i - start;
		p->pos = i + 1;
		return true;
	}
	/* escapes never make the text longer */
	buf = JLArenaAlloc(p->arena, i - start + 1);
	if (buf == NULL)
	{
		JLParseOOM(p);
		return false;
	}
	p->pos = start;
	while (p->pos < i)
	{
		char		c = p->text[p->pos];

		if (c != '\\')
		{
			buf[n++] = c;
			p->pos++;
			continue;
		}
		if (p->pos + 1 >= p->len)
		{
			JLParseFail(p, JL_ERR_SYNTAX, "unterminated escape");
			return false;
		}
		c = p->text[p->pos + 1];
		switch (c)
		{
			case '"':
			case '\\':
			case '/':
				buf[n++] = c;
				break;
			case 'b':
				buf[n++] = '\b';
				break;
			case 'f':
				buf[n++] = '\f';
				break;
			case 'n':
				buf[n++] = '\n';
				break;
			case 'r':
				buf[n++] = '\r';
				break;
			case 't':
				buf[n++] = '\t';
				break;
			case 'u':
				{
					long		cp;

					if (p->pos + 6 > p->len || (cp = JLHex4(p->text + p->pos + 2)) < 0)
					{
						JLParseFail(p, JL_ERR_SYNTAX, "invalid \\u escape");
						return false;
					}
					if (cp >= 0xDC00 && cp <= 0xDFFF)
					{
						JLParseFail(p, JL_ERR_SYNTAX,
									"unpaired low surrogate in \\u escape");
						return false;
					}
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						long		lo;

						if (p->pos + 12 > p->len ||
							p->text[p->pos + 6] != '\\' ||
							p->text[p->pos + 7] != 'u' ||
							(lo = JLHex4(p->text + p->pos + 8)) < 0xDC00 ||
							lo > 0xDFFF)
						{
							JLParseFail(p, JL_ERR_SYNTAX,
										"high surrogate not followed by a low surrogate in \\u escape");
							return false;
						}
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						p->pos += 6;
					}
					n += JLEncodeUtf8((unsigned long) cp, buf + n);
					p->pos += 6;
					continue;
				}
			default:
				JLParseFail(p, JL_ERR_SYNTAX, "invalid escape sequence in string");
				return false;
		}
		p->pos += 2;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	p->pos = i + 1;
	return true;
}

/*
 * JLParseNumber parses a JSON number (strict grammar) at the current
 * position.
 */
static const JLValue *
JLParseNumber(JLParser *p)
{
	size_t		start = p->pos;
	size_t		i = start;
	char		small[64];
	char	   *buf = small;
	double		d;
	JLValue    *v;

	if (i < p->len && p->text[i] == '-')
		i++;
	if (i >= p->len || p->text[i] < '0' || p->text[i] > '9')
	{
		p->pos = i;
		return JLParseFail(p, JL_ERR_SYNTAX, "invalid number");
	}
	if (p->text[i] == '0')
		i++;
	else
		while (i < p->len && p->text[i] >= '0' && p->text[i] <= '9')
			i++;
	if (i < p->len && p->text[i] == '.')
	{
		i++;
		if (i >= p->len || p->text[i] < '0' || p->text[i] > '9')
		{
			p->pos = i;
			return JLParseFail(p, JL_ERR_SYNTAX, "invalid number: digit expected after '.'");
		}
		while (i < p->len && p->text[i] >= '0' && p->text[i] <= '9')
			i++;
	}
	if (i < p->len && (p->text[i] == 'e' || p->text[i] == 'E'))
	{
		i++;
		if (i < p->len && (p->text[i] == '+' || p->text[i] == '-'))
			i++;
		if (i >= p->len || p->text[i] < '0' || p->text[i] > '9')
		{
			p->pos = i;
			return JLParseFail(p, JL_ERR_SYNTAX, "invalid number: digit expected in exponent");
		}
		while (i < p->len && p->text[i] >= '0' && p->text[i] <= '9')
			i++;
	}
	if (i - start >= sizeof(small))
	{
		buf = JLArenaAlloc(p->arena, i - start + 1);
		if (buf == NULL)
			return JLParseOOM(p);
	}
	memcpy(buf, p->text + start, i - start);
	buf[i - start] = '\0';
	d = strtod(buf, NULL);
	if (!isfinite(d))
		return JLParseFail(p, JL_ERR_SYNTAX, "number out of range for a double");
	if (d == 0)
		d = 0;					/* no negative zero */
	p->pos = i;
	v = JLMakeNumber(p->arena, d);
	if (v == NULL)
		return JLParseOOM(p);
	return v;
}

/*
 * JLParseWord matches true/false/null.
 */
static bool
JLParseWord(JLParser *p, const char *word, size_t len)
{
	if (p->len - p->pos >= len && memcmp(p->text + p->pos, word, len) == 0)
	{
		p->pos += len;
		return true;
	}
	return false;
}

/*
 * JLParseArray parses an array; the current character is '['.
 */
static const JLValue *
JLParseArray(JLParser *p, int depth)
{
	const JLValue *small[16];
	const JLValue **items = small;
	size_t		cap = 16;
	size_t		n = 0;
	const JLValue **final;
	JLValue    *v;

	p->pos++;
	JLSkipSpace(p);
	if (p->pos < p->len && p->text[p->pos] == ']')
		p->pos++;
	else
	{
		for (;;)
		{
			const JLValue *item = JLParseValue(p, depth + 1);

			if (item == NULL)
				return NULL;
			if (n == cap)
			{
				const JLValue **bigger = JLArenaAlloc(p->arena, cap * 2 * sizeof(JLValue *));

				if (bigger == NULL)
					return JLParseOOM(p);
				memcpy(bigger, items, n * sizeof(JLValue *));
				items = bigger;
				cap *= 2;
			}
			items[n++] = item;
			JLSkipSpace(p);
			if (p->pos < p->len && p->text[p->pos] == ',')
			{
				p->pos++;
				continue;
			}
			if (p->pos < p->len && p->text[p->pos] == ']')
			{
				p->pos++;
				break;
			}
			return JLParseFail(p, JL_ERR_SYNTAX, "expected ',' or ']' in array");
		}
	}
	final = JLArenaAlloc(p->arena, (n ? n : 1) * sizeof(JLValue *));
	if (final == NULL)
		return JLParseOOM(p);
	if (n > 0)
		memcpy(final, items, n * sizeof(JLValue *));
	v = JLMakeArray(p->arena, final, n);
	if (v == NULL)
		return JLParseOOM(p);
	return v;
}

/*
 * JLParseObject parses an object; the current character is '{'.
 */
static const JLValue *
JLParseObject(JLParser *p, int depth)
{
	JLMember	small[16];
	JLMember   *members = small;
	size_t		cap = 16;
	size_t		n = 0;
	JLValue    *v;

	p->pos++;
	JLSkipSpace(p);
	if (p->pos < p->len && p->text[p->pos] == '}')
		p->pos++;
	else
	{
		for (;;)
		{
			const char *key;
			size_t		keylen;
			const JLValue *value;

			JLSkipSpace(p);
			if (p->pos >= p->len || p->text[p->pos] != '"')
				return JLParseFail(p, JL_ERR_SYNTAX, "expected a string key in object");
			if (!JLParseStringRaw(p, &key, &keylen))
				return NULL;
			JLSkipSpace(p);
			if (p->pos >= p->len || p->text[p->pos] != ':')
				return JLParseFail(p, JL_ERR_SYNTAX, "expected ':' after object key");
			p->pos++;
			value = JLParseValue(p, depth + 1);
			if (value == NULL)
				return NULL;
			if (n == cap)
			{
				JLMember   *bigger = JLArenaAlloc(p->arena, cap * 2 * sizeof(JLMember));

				if (bigger == NULL)
					return JLParseOOM(p);
				memcpy(bigger, members, n * sizeof(JLMember));
				members = bigger;
				cap *= 2;
			}
			members[n].key = key;
			members[n].keylen = keylen;
			members[n].value = value;
			n++;
			JLSkipSpace(p);
			if (p->pos < p->len && p->text[p->pos] == ',')
			{
				p->pos++;
				continue;
			}
			if (p->pos < p->len && p->text[p->pos] == '}')
			{
				p->pos++;
				break;
			}
			return JLParseFail(p, JL_ERR_SYNTAX, "expected ',' or '}' in object");
		}
	}
	v = JLMakeObject(p->arena, members, n);
	if (v == NULL)
		return JLParseOOM(p);
	return v;
}

/*
 * JLParseValue parses any JSON value at the current position.
 */
static const JLValue *
JLParseValue(JLParser *p, int depth)
{
	char		c;

	JLSkipSpace(p);
	if (p->pos >= p->len)
		return JLParseFail(p, JL_ERR_SYNTAX, "unexpected end of JSON input");
	c = p->text[p->pos];
	if ((c == '[' || c == '{') && depth >= p->max_depth)
	{
		JLSetError(p->err, JL_ERR_TOO_DEEP, "$",
				   "JSON nesting exceeds the maximum depth of %d at offset %zu",
				   p->max_depth, p->pos);
		return NULL;
	}
	switch (c)
	{
		case '{':
			return JLParseObject(p, depth);
		case '[':
			return JLParseArray(p, depth);
		case '"':
			{
				const char *s;
				size_t		len;
				JLValue    *v;

				if (!JLParseStringRaw(p, &s, &len))
					return NULL;
				v = JLMakeString(p->arena, s, len, false);
				if (v == NULL)
					return JLParseOOM(p);
				return v;
			}
		case 't':
			if (JLParseWord(p, "true", 4))
				return &JLTrueValue;
			break;
		case 'f':
			if (JLParseWord(p, "false", 5))
				return &JLFalseValue;
			break;
		case 'n':
			if (JLParseWord(p, "null", 4))
				return &JLNullValue;
			break;
		default:
			if (c == '-' || (c >= '0' && c <= '9'))
				return JLParseNumber(p);
			break;
	}
	return JLParseFail(p, JL_ERR_SYNTAX, "unexpected character");
}

/*
 * JLParse parses JSON text into values allocated in arena.
 */
const JLValue *
JLParse(JLArena *arena, const char *text, size_t len, int max_depth,
		JLError *err)
{
	JLParser	p;
	const JLValue *v;

	if (err != NULL)
	{
		err->code = JL_OK;
		err->path[0] = '\0';
		err->message[0] = '\0';
	}
	p.arena = arena;
	p.text = text;
	p.len = len;
	p.pos = 0;
	p.max_depth = max_depth > 0 ? max_depth : JL_DEFAULT_MAX_DEPTH;
	p.err = err;
	v = JLParseValue(&p, 0);
	if (v == NULL)
		return NULL;
	JLSkipSpace(&p);
	if (p.pos != p.len)
		return JLParseFail(&p, JL_ERR_SYNTAX, "unexpected data after the JSON value");
	return v;
}

/*
 * JLSerializeString appends a JSON string literal.
 */
static void
JLSerializeString(JLBuf *buf, const char *s, size_t len)
{
	size_t		i;
	size_t		run = 0;

	JLBufAppendChar(buf, '"');
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];
		const char *esc = NULL;
		char		tmp[8];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		JLBufAppend(buf, s + run, i - run);
		run = i + 1;
		switch (c)
		{
			case '"':
				esc = "\\\"";
				break;
			case '\\':
				esc = "\\\\";
				break;
			case '\n':
				esc = "\\n";
				break;
			case '\r':
				esc = "\\r";
				break;
			case '\t':
				esc = "\\t";
				break;
			case '\b':
				esc = "\\b";
				break;
			case '\f':
				esc = "\\f";
				break;
			default:
				snprintf(tmp, sizeof(tmp), "\\u%04x", c);
				esc = tmp;
				break;
		}
		JLBufAppend(buf, esc, strlen(esc));
	}
	JLBufAppend(buf, s + run, len - run);
	JLBufAppendChar(buf, '"');
}

/*
 * JLSerializeValue appends the compact JSON form of v; false when the
 * nesting is absurdly deep.
 */
static bool
JLSerializeValue(JLBuf *buf, const JLValue *v, int depth)
{
	char		num[32];
	int			n;
	size_t		i;

	if (depth > 10000)
		return false;
	if (v == NULL)
	{
		JLBufAppend(buf, "null", 4);
		return true;
	}
	switch (v->type)
	{
		case JL_NULL:
			JLBufAppend(buf, "null", 4);
			break;
		case JL_BOOL:
			if (v->u.boolean)
				JLBufAppend(buf, "true", 4);
			else
				JLBufAppend(buf, "false", 5);
			break;
		case JL_NUMBER:
			if (!isfinite(v->u.number))
				JLBufAppend(buf, "null", 4);
			else
			{
				n = JLFormatNumber(v->u.number, num);
				JLBufAppend(buf, num, n);
			}
			break;
		case JL_STRING:
			JLSerializeString(buf, v->u.string.ptr, v->u.string.len);
			break;
		case JL_ARRAY:
			JLBufAppendChar(buf, '[');
			for (i = 0; i < v->u.array.count; i++)
			{
				if (i > 0)
					JLBufAppendChar(buf, ',');
				if (!JLSerializeValue(buf, v->u.array.items[i], depth + 1))
					return false;
			}
			JLBufAppendChar(buf, ']');
			break;
		case JL_OBJECT:
			JLBufAppendChar(buf, '{');
			for (i = 0; i < v->u.object.count; i++)
			{
				const JLMember *m = &v->u.object.members[i];

				if (i > 0)
					JLBufAppendChar(buf, ',');
				JLSerializeString(buf, m->key, m->keylen);
				JLBufAppendChar(buf, ':');
				if (!JLSerializeValue(buf, m->value, depth + 1))
					return false;
			}
			JLBufAppendChar(buf, '}');
			break;
	}
	return true;
}

/*
 * JLSerialize returns the compact JSON text of v (NUL-terminated, in the
 * arena), or NULL on allocation failure or nesting beyond 10000 levels.
 */
char *
JLSerialize(JLArena *arena, const JLValue *v, size_t *len)
{
	JLBuf		buf;

	JLBufInit(&buf, arena, 64);
	if (!JLSerializeValue(&buf, v, 0))
		return NULL;
	JLBufAppendChar(&buf, '\0');
	if (buf.failed)
		return NULL;
	if (len != NULL)
		*len = buf.len - 1;
	return buf.data;
}
