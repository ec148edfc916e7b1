/*-------------------------------------------------------------------------
 *
 * test_util.h
 *	  Tiny test harness shared by the core's unit tests.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * test/core/test_util.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FF_TEST_UTIL_H
#define FF_TEST_UTIL_H

#include <stdio.h>
#include <string.h>

#include "jsonlogic.h"

extern int	t_passed;
extern int	t_failed;
extern JLArena *t_arena;		/* reset by t_reset() */

extern void t_fail(const char *file, int line, const char *fmt,...)
#if defined(__GNUC__)
			__attribute__((format(printf, 3, 4)))
#endif
			;
extern void t_reset(void);

/* parse or die (as a test failure); NULL on failure */
extern const JLValue *t_parse(const char *text);

/*
 * Evaluate rule (JSON text) against data (JSON text), returning the
 * compact JSON result, or "COMPILE <code> <path>: <message>" /
 * "ERROR <code> <path>: <message>".  Segments are allowed and served by
 * the fake segment callback of test_main.c; $flagd is injected with flag
 * key t_flag_key and timestamp 1700000000 when t_inject is set.
 */
extern const char *t_eval(const char *rule, const char *data);
extern bool t_inject;
extern bool t_ternary;
extern bool t_flagd_lenient;	/* JLCompileOptions.flagd_lenient */
extern const char *t_flag_key;	/* $flagd.flagKey, default "test-flag" */
extern bool t_segment(void *opaque, const char *name, size_t namelen,
					  const char *key, size_t keylen, JLSegmentInfo *info);
extern const char *t_code_name(JLErrorCode code);

#define T_CHECK(cond, ...) \
	do { if (cond) t_passed++; else t_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)

#define T_EVAL(rule, data, expected) \
	do { \
		const char *t_got_ = t_eval(rule, data); \
		T_CHECK(strcmp(t_got_, expected) == 0, "%s with data %s: got %s, expected %s", \
				rule, data, t_got_, expected); \
	} while (0)

/* the result must start with the given prefix (for error messages) */
#define T_EVAL_PREFIX(rule, data, prefix) \
	do { \
		const char *t_got_ = t_eval(rule, data); \
		T_CHECK(strncmp(t_got_, prefix, strlen(prefix)) == 0, "%s with data %s: got %s, expected %s...", \
				rule, data, t_got_, prefix); \
	} while (0)

extern void test_values(void);
extern void test_json(void);
extern void test_operators(void);
extern void test_compile(void);
extern void test_bytes_equal(void);
extern void test_flagd(void);
extern void test_flagd_lenient(void);
extern void test_resolve(void);
extern void test_segments(void);
extern void test_workload(void);
extern void test_limits(void);
extern void test_conformance(const char *path);

#endif
