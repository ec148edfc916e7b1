/*-------------------------------------------------------------------------
 *
 * test_main.c
 *	  Entry point and harness of the core's test binary (make core-check).
 *
 * Usage: core-tests <path of jsonlogic tests.json>
 * Prints one line per failed check and, last, "N passed, N failed";
 * exits 1 on any failure.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * test/core/test_main.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdlib.h>

#include "test_util.h"

int			t_passed = 0;
int			t_failed = 0;
JLArena    *t_arena = NULL;
bool		t_inject = false;
bool		t_ternary = false;
bool		t_flagd_lenient = false;
const char *t_flag_key = "test-flag";

/*
 * t_fail reports one failed check.
 */
void
t_fail(const char *file, int line, const char *fmt,...)
{
	va_list		ap;

	t_failed++;
	printf("FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/*
 * t_reset empties the shared test arena.
 */
void
t_reset(void)
{
	JLArenaReset(t_arena);
}

/*
 * t_code_name names an error code.
 */
const char *
t_code_name(JLErrorCode code)
{
	static const char *const names[] = {"OK", "SYNTAX", "UNKNOWN_OPERATOR",
		"BAD_ARGUMENTS", "TOO_DEEP", "TOO_LARGE", "OUT_OF_MEMORY", "RUNTIME"};

	if ((int) code < 0 || (int) code >= (int) (sizeof(names) / sizeof(names[0])))
		return "?";
	return names[code];
}

/*
 * t_parse parses JSON text in the test arena; failures are reported.
 */
const JLValue *
t_parse(const char *text)
{
	JLError		err;
	const JLValue *v = JLParse(t_arena, text, strlen(text), 0, &err);

	if (v == NULL)
		t_fail(__FILE__, __LINE__, "cannot parse test JSON %s: %s", text, err.message);
	return v;
}

/* fake segments: see t_segment */
static const JLRule *t_seg_rule_vip;
static const JLRule *t_seg_rule_loop_a;
static const JLRule *t_seg_rule_loop_b;
static const JLRule *t_seg_rule_chain[20];

/*
 * t_segment is the fake segment callback: "beta" includes "alice",
 * excludes "bob"; "vip" has a rule (plan == "gold"); "empty" has no rule;
 * "loop-a" and "loop-b" reference each other; "chain-0" .. "chain-19"
 * each refer to the next (chain-19 is true); "broken" exists but cannot
 * be used (its lists include "alice" and exclude "bob", which must not
 * matter); anything else is unknown.
 */
bool
t_segment(void *opaque, const char *name, size_t namelen, const char *key,
		  size_t keylen, JLSegmentInfo *info)
{
#define NAME_IS(s) (namelen == strlen(s) && memcmp(name, s, namelen) == 0)
#define KEY_IS(s) (keylen == strlen(s) && memcmp(key, s, keylen) == 0)
	info->membership = 0;
	info->rule = NULL;
	if (NAME_IS("beta"))
	{
		if (KEY_IS("alice"))
			info->membership = 1;
		else if (KEY_IS("bob"))
			info->membership = -1;
		return true;
	}
	if (NAME_IS("vip"))
	{
		if (KEY_IS("bob"))
			info->membership = -1;
		info->rule = t_seg_rule_vip;
		return true;
	}
	if (NAME_IS("empty"))
		return true;
	if (NAME_IS("broken"))
	{
		if (KEY_IS("alice"))
			info->membership = 1;
		else if (KEY_IS("bob"))
			info->membership = -1;
		info->broken = "its stored rule does not compile";
		return true;
	}
	if (NAME_IS("loop-a"))
	{
		info->rule = t_seg_rule_loop_a;
		return true;
	}
	if (NAME_IS("loop-b"))
	{
		info->rule = t_seg_rule_loop_b;
		return true;
	}
	if (namelen >= 6 && memcmp(name, "chain-", 6) == 0)
	{
		int			n = atoi(name + 6);

		if (n < 0 || n >= 20)
			return false;
		info->rule = t_seg_rule_chain[n];
		return true;
	}
	return false;
#undef NAME_IS
#undef KEY_IS
}

/*
 * t_segments_init compiles the fake segments' rules (in their own arena).
 */
static void
t_segments_init(void)
{
	static JLArena *seg_arena;
	JLCompileOptions o = {0};
	JLError		err;
	const char *vip = "{\"==\":[{\"var\":\"plan\"},\"gold\"]}";
	const char *la = "{\"in_segment\":\"loop-b\"}";
	const char *lb = "{\"in_segment\":\"loop-a\"}";
	int			i;

	seg_arena = JLArenaCreate(NULL);
	o.allow_segments = true;
	t_seg_rule_vip = JLCompile(seg_arena, JLParse(seg_arena, vip, strlen(vip), 0, &err), &o, &err);
	t_seg_rule_loop_a = JLCompile(seg_arena, JLParse(seg_arena, la, strlen(la), 0, &err), &o, &err);
	t_seg_rule_loop_b = JLCompile(seg_arena, JLParse(seg_arena, lb, strlen(lb), 0, &err), &o, &err);
	for (i = 0; i < 20; i++)
	{
		char		ch[64];

		/* chain-i refers to chain-(i+1); chain-19 is a plain comparison */
		if (i < 19)
			snprintf(ch, sizeof(ch), "{\"in_segment\":\"chain-%d\"}", i + 1);
		else
			snprintf(ch, sizeof(ch), "{\"==\":[1,1]}");
		t_seg_rule_chain[i] = JLCompile(seg_arena, JLParse(seg_arena, ch, strlen(ch), 0, &err), &o, &err);
		if (t_seg_rule_chain[i] == NULL)
			t_fail(__FILE__, __LINE__, "cannot compile chain segment %d", i);
	}
	if (!t_seg_rule_vip || !t_seg_rule_loop_a || !t_seg_rule_loop_b)
		t_fail(__FILE__, __LINE__, "cannot compile fake segment rules");
}

/*
 * t_format formats a result string in the test arena.
 */
static const char *
t_format(const char *fmt,...)
{
	char		buf[1024];
	va_list		ap;
	char	   *out;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	out = JLArenaAlloc(t_arena, strlen(buf) + 1);
	strcpy(out, buf);
	return out;
}

/*
 * t_eval parses, compiles and evaluates; see test_util.h.
 */
const char *
t_eval(const char *rule, const char *data)
{
	JLError		err;
	const JLValue *r;
	const JLValue *d;
	JLRule	   *compiled;
	JLCompileOptions o = {0};
	JLContext	ctx;
	const JLValue *res;
	char	   *text;

	r = JLParse(t_arena, rule, strlen(rule), 0, &err);
	if (r == NULL)
		return t_format("PARSE %s %s: %s", t_code_name(err.code), err.path, err.message);
	d = JLParse(t_arena, data, strlen(data), 0, &err);
	if (d == NULL)
		return t_format("PARSE-DATA %s: %s", t_code_name(err.code), err.message);
	o.allow_segments = true;
	o.allow_ternary = t_ternary;
	o.flagd_lenient = t_flagd_lenient;
	compiled = JLCompile(t_arena, r, &o, &err);
	if (compiled == NULL)
		return t_format("COMPILE %s %s: %s", t_code_name(err.code), err.path, err.message);
	JLContextInitValue(&ctx, d);
	ctx.segment = t_segment;
	if (t_inject)
	{
		ctx.inject_flagd = true;
		ctx.flag_key = t_flag_key;
		ctx.flag_key_len = strlen(t_flag_key);
		ctx.timestamp = 1700000000;
	}
	res = JLEvaluate(compiled, &ctx, t_arena, &err);
	if (res == NULL)
		return t_format("ERROR %s %s: %s", t_code_name(err.code), err.path, err.message);
	text = JLSerialize(t_arena, res, NULL);
	return text ? text : "SERIALIZE-FAILED";
}

/*
 * main runs every test group and prints the summary line.
 */
int
main(int argc, char **argv)
{
	t_arena = JLArenaCreate(NULL);
	if (t_arena == NULL)
	{
		printf("cannot create arena\n0 passed, 1 failed\n");
		return 1;
	}
	t_segments_init();
	test_values();
	test_json();
	test_operators();
	test_compile();
	test_bytes_equal();
	test_flagd();
	test_flagd_lenient();
	test_resolve();
	test_segments();
	test_limits();
	if (argc < 2)
	{
		t_fail(__FILE__, __LINE__,
			   "conformance: no path given; usage: %s <path of shared/conformance/jsonlogic/tests.json>",
			   argv[0]);
	}
	else
		test_conformance(argv[1]);
	test_workload();
	printf("%d passed, %d failed\n", t_passed, t_failed);
	JLArenaDestroy(t_arena);
	return t_failed > 0 ? 1 : 0;
}
