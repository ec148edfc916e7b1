/*-------------------------------------------------------------------------
 *
 * test_workload.c
 *	  The benchmark workload's ground truth over 1,000,000 users.
 *
 * Evaluates checkout-v2 and ui-theme of shared/bench/workload/flags.json
 * (inlined here: a test must not depend on the benchmark folder) with
 * FFResolve for the generated contexts i = 1..1,000,000 and checks the
 * counts published by flagd-core: checkout-v2 "on" = 562,540; ui-theme
 * classic/dark/neon = 444,446 / 55,555 / 499,999.  The time per
 * evaluation is printed for information only.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * test/core/test_workload.c
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <time.h>

#include "test_util.h"

#define N_USERS 1000000

static const char *const checkout_rule =
"{\"if\":[{\"ends_with\":[{\"var\":\"email\"},\"@example.com\"]},\"on\","
"{\"and\":[{\"in\":[{\"var\":\"country\"},[\"US\",\"CA\"]]},{\"==\":[{\"var\":\"plan\"},\"pro\"]}]},\"on\","
"{\"fractional\":[{\"var\":\"targetingKey\"},[\"on\",50],[\"off\",50]]}]}";

static const char *const theme_rule =
"{\"if\":[{\"sem_ver\":[{\"var\":\"app_version\"},\">=\",\"2.3.0\"]},\"neon\","
"{\"==\":[{\"var\":\"country\"},\"DE\"]},\"dark\"]}";

/* a context of the workload, looked up without building JSON */
typedef struct TUser
{
	char		key[32];
	char		email[48];
	char		version[32];
	const char *country;
	const char *plan;
	JLValue		v_key,
				v_email,
				v_version,
				v_country,
				v_plan;
} TUser;

/*
 * t_user_build fills the attributes of user i (workload/contexts.js).
 */
static void
t_user_build(TUser *u, long i)
{
	static const char *const countries[] = {"US", "CA", "DE", "FR", "GB", "JP", "BR", "IN"};
	int			n;

	n = snprintf(u->key, sizeof(u->key), "user-%ld", i);
	u->v_key.type = JL_STRING;
	u->v_key.u.string.ptr = u->key;
	u->v_key.u.string.len = (size_t) n;
	n = snprintf(u->email, sizeof(u->email), "u%ld@%s", i, i % 20 == 0 ? "example.com" : "mail.test");
	u->v_email.type = JL_STRING;
	u->v_email.u.string.ptr = u->email;
	u->v_email.u.string.len = (size_t) n;
	n = snprintf(u->version, sizeof(u->version), "%ld.%ld.%ld", 1 + i % 3, (i / 3) % 6, (i / 18) % 10);
	u->v_version.type = JL_STRING;
	u->v_version.u.string.ptr = u->version;
	u->v_version.u.string.len = (size_t) n;
	u->country = countries[i % 8];
	u->v_country.type = JL_STRING;
	u->v_country.u.string.ptr = u->country;
	u->v_country.u.string.len = 2;
	u->plan = (i / 8) % 3 == 0 ? "pro" : "free";
	u->v_plan.type = JL_STRING;
	u->v_plan.u.string.ptr = u->plan;
	u->v_plan.u.string.len = strlen(u->plan);
}

/*
 * t_user_lookup is a JLContext lookup over a TUser (single-key paths).
 */
static const JLValue *
t_user_lookup(void *opaque, const JLPathSegment *s, size_t n, JLArena *scratch)
{
	TUser	   *u = opaque;

	if (n != 1)
		return NULL;
#define IS(k) (s[0].len == strlen(k) && memcmp(s[0].ptr, k, s[0].len) == 0)
	if (IS("targetingKey"))
		return &u->v_key;
	if (IS("email"))
		return &u->v_email;
	if (IS("app_version"))
		return &u->v_version;
	if (IS("country"))
		return &u->v_country;
	if (IS("plan"))
		return &u->v_plan;
#undef IS
	return NULL;
}

/*
 * t_now returns a monotonic time in seconds.
 */
static double
t_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * test_workload checks the ground truth counts.
 */
void
test_workload(void)
{
	JLArena    *arena = JLArenaCreate(NULL);
	JLArena    *scratch = JLArenaCreate(NULL);
	JLError		err;
	JLCompileOptions o = {0};
	const JLRule *checkout;
	const JLRule *theme;
	FFVariant	bool_variants[2];
	FFVariant	theme_variants[3];
	FFFlag		fc,
				ft;
	long		counts_checkout[2] = {0, 0};
	long		counts_theme[3] = {0, 0, 0};
	long		errors = 0;
	long		i;
	double		t0,
				t_checkout = 0,
				t_theme = 0;
	TUser		u;
	JLContext	ctx;

	checkout = JLCompile(arena, JLParse(arena, checkout_rule, strlen(checkout_rule), 0, &err), &o, &err);
	theme = JLCompile(arena, JLParse(arena, theme_rule, strlen(theme_rule), 0, &err), &o, &err);
	if (checkout == NULL || theme == NULL)
	{
		t_fail(__FILE__, __LINE__, "workload: cannot compile the workload rules: %s", err.message);
		return;
	}
	/* variants sorted by name */
	bool_variants[0].name = "off";
	bool_variants[0].namelen = 3;
	bool_variants[0].value = &JLFalseValue;
	bool_variants[1].name = "on";
	bool_variants[1].namelen = 2;
	bool_variants[1].value = &JLTrueValue;
	theme_variants[0].name = "classic";
	theme_variants[1].name = "dark";
	theme_variants[2].name = "neon";
	for (i = 0; i < 3; i++)
	{
		theme_variants[i].namelen = strlen(theme_variants[i].name);
		theme_variants[i].value = JLMakeString(arena, theme_variants[i].name, theme_variants[i].namelen, false);
	}
	memset(&fc, 0, sizeof(fc));
	fc.key = "checkout-v2";
	fc.keylen = 11;
	fc.enabled = true;
	fc.variants = bool_variants;
	fc.nvariants = 2;
	fc.default_variant = 0;
	fc.targeting = checkout;
	memset(&ft, 0, sizeof(ft));
	ft.key = "ui-theme";
	ft.keylen = 8;
	ft.enabled = true;
	ft.variants = theme_variants;
	ft.nvariants = 3;
	ft.default_variant = 0;
	ft.targeting = theme;

	memset(&ctx, 0, sizeof(ctx));
	ctx.lookup = t_user_lookup;
	ctx.opaque = &u;
	ctx.inject_flagd = true;
	ctx.timestamp = 1700000000;
	for (i = 1; i <= N_USERS; i++)
	{
		FFResolution r;

		t_user_build(&u, i);
		FFResolve(&fc, &ctx, scratch, &r);
		JLArenaReset(scratch);
		if (r.reason == FF_REASON_ERROR || r.variant < 0)
			errors++;
		else
			counts_checkout[r.variant]++;
		FFResolve(&ft, &ctx, scratch, &r);
		JLArenaReset(scratch);
		if (r.reason == FF_REASON_ERROR || r.variant < 0)
			errors++;
		else
			counts_theme[r.variant]++;
	}
	T_CHECK(errors == 0, "workload: %ld evaluations failed", errors);
	T_CHECK(counts_checkout[1] == 562540, "workload: checkout-v2 on = %ld, expected 562540", counts_checkout[1]);
	T_CHECK(counts_checkout[0] == 437460, "workload: checkout-v2 off = %ld, expected 437460", counts_checkout[0]);
	T_CHECK(counts_theme[0] == 444446, "workload: ui-theme classic = %ld, expected 444446", counts_theme[0]);
	T_CHECK(counts_theme[1] == 55555, "workload: ui-theme dark = %ld, expected 55555", counts_theme[1]);
	T_CHECK(counts_theme[2] == 499999, "workload: ui-theme neon = %ld, expected 499999", counts_theme[2]);

	/* timing, for information: 1000 pre-built users, 1000 rounds each */
	{
		TUser	   *users = malloc(1000 * sizeof(TUser));
		long		round;
		FFResolution r;

		for (i = 0; i < 1000; i++)
			t_user_build(&users[i], i + 1);
		for (int pass = 0; pass < 2; pass++)
		{
			const FFFlag *f = pass == 0 ? &fc : &ft;

			t0 = t_now();
			for (round = 0; round < 1000; round++)
				for (i = 0; i < 1000; i++)
				{
					ctx.opaque = &users[i];
					FFResolve(f, &ctx, scratch, &r);
					JLArenaReset(scratch);
				}
			if (pass == 0)
				t_checkout = t_now() - t0;
			else
				t_theme = t_now() - t0;
		}
		free(users);
	}
	printf("workload (information only): checkout-v2 %.0f ns/eval, ui-theme %.0f ns/eval\n",
		   t_checkout / N_USERS * 1e9, t_theme / N_USERS * 1e9);
	JLArenaDestroy(scratch);
	JLArenaDestroy(arena);
}
