/*-------------------------------------------------------------------------
 *
 * test_flagd.c
 *	  flagd scenarios: fractional vectors, sem_ver, starts_with/ends_with,
 *	  $flagd injection, FFResolve for every reason, in_segment.
 *
 * The vectors come from flagd-semantics.md sections 5 and 6.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * test/core/test_flagd.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>

#include "test_util.h"

/*
 * test_flagd tests the custom operators.
 */
void
test_flagd(void)
{
	static const struct
	{
		const char *key;
		uint32_t	hash;
	}			edges[] = {
		{"ejOoVL", 0}, {"bY9fO-", 1}, {"SI7p-", 2147483647u}, {"6LvT0", 2147483648u},
		{"ceQdGm", 4294967295u}, {"hello", 613153351u},
		{"fractional-flagjack", 2682799072u}, {"fractional-flagqueen", 4278517551u},
		{"fractional-flag-shorthandjon@company.com", 618039204u},
	};
	size_t		i;
	const char *frac = "{\"fractional\":[{\"cat\":[{\"var\":\"$flagd.flagKey\"},{\"var\":\"user.name\"}]},"
	"[\"clubs\",25],[\"diamonds\",25],[\"hearts\",25],[\"spades\",25]]}";

	t_reset();
	/* murmur3 reference values */
	T_CHECK(JLMurmur3_32("", 0, 0) == 0, "murmur3(\"\") = 0");
	T_CHECK(JLMurmur3_32("", 0, 1) == 0x514E28B7u, "murmur3(\"\", seed 1)");
	T_CHECK(JLMurmur3_32("\xff\xff\xff\xff", 4, 0) == 0x76293B50u, "murmur3(ffffffff)");
	T_CHECK(JLMurmur3_32("!Ce\x87", 4, 0) == 0xF55B516Bu, "murmur3(21436587)");
	T_CHECK(JLMurmur3_32("!Ce\x87", 4, 0x5082EDEE) == 0x2362F9DEu, "murmur3(21436587, seed)");
	T_CHECK(JLMurmur3_32("!Ce", 3, 0) == 0x7E4A8634u, "murmur3 3-byte tail");
	T_CHECK(JLMurmur3_32("!C", 2, 0) == 0xA0F7B07Au, "murmur3 2-byte tail");
	T_CHECK(JLMurmur3_32("!", 1, 0) == 0x72661CF4u, "murmur3 1-byte tail");
	for (i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		T_CHECK(JLMurmur3_32(edges[i].key, strlen(edges[i].key), 0) == edges[i].hash,
				"murmur3(\"%s\") = %u, expected %u", edges[i].key,
				JLMurmur3_32(edges[i].key, strlen(edges[i].key), 0), edges[i].hash);

	/* fractional-flag, v2: the testbed rule with $flagd.flagKey */
	t_inject = true;
	t_flag_key = "fractional-flag";
	T_EVAL(frac, "{\"user\":{\"name\":\"jack\"}}", "\"hearts\"");
	T_EVAL(frac, "{\"user\":{\"name\":\"queen\"}}", "\"spades\"");
	t_flag_key = "fractional-flag-shorthand";
	T_EVAL("{\"fractional\":[[\"heads\"],[\"tails\",1]]}", "{\"targetingKey\":\"jon@company.com\"}", "\"heads\"");
	t_flag_key = "test-flag";
	/* hash edges: lower 50 / upper 50 bucketed by targetingKey */
	T_EVAL("{\"fractional\":[{\"var\":\"targetingKey\"},[\"lower\",50],[\"upper\",50]]}",
		   "{\"targetingKey\":\"SI7p-\"}", "\"lower\"");
	T_EVAL("{\"fractional\":[{\"var\":\"targetingKey\"},[\"lower\",50],[\"upper\",50]]}",
		   "{\"targetingKey\":\"6LvT0\"}", "\"upper\"");
	T_EVAL("{\"fractional\":[{\"var\":\"targetingKey\"},[\"lower\",50],[\"upper\",50]]}",
		   "{\"targetingKey\":\"ejOoVL\"}", "\"lower\"");
	T_EVAL("{\"fractional\":[{\"var\":\"targetingKey\"},[\"lower\",50],[\"upper\",50]]}",
		   "{\"targetingKey\":\"ceQdGm\"}", "\"upper\"");
	/* shorthand without a usable targeting key */
	T_EVAL("{\"fractional\":[[\"heads\"],[\"tails\",1]]}", "{\"targetingKey\":\"\"}", "null");
	T_EVAL("{\"fractional\":[[\"heads\"],[\"tails\",1]]}", "{\"targetingKey\":7}", "null");
	T_EVAL("{\"fractional\":[[\"heads\"],[\"tails\",1]]}", "{}", "null");
	/* null bucketing value falls back to the shorthand (flagd Go) */
	T_EVAL("{\"fractional\":[{\"var\":\"missing\"},[\"only\",1]]}", "{\"targetingKey\":\"k\"}", "\"only\"");
	T_EVAL("{\"fractional\":[{\"var\":\"n\"},[\"a\",1]]}", "{\"n\":5}", "null");
	/* weights */
	T_EVAL("{\"fractional\":[\"any\",[\"one\",{\"-\":50}],[\"two\",100]]}", "{}", "\"two\"");
	T_EVAL("{\"fractional\":[\"other\",[\"one\",{\"-\":50}],[\"two\",100]]}", "{}", "\"two\"");
	T_EVAL("{\"fractional\":[\"x\",[\"one\",0],[\"two\",0]]}", "{}", "null");
	T_EVAL("{\"fractional\":[\"x\",[\"one\",{\"var\":\"w\"}],[\"two\",1]]}", "{\"w\":2.5}", "null");
	T_EVAL("{\"fractional\":[\"x\",[\"one\",{\"var\":\"w\"}],[\"two\",1]]}", "{\"w\":\"3\"}", "null");
	T_EVAL("{\"fractional\":[\"x\",[\"one\",null],[\"two\",0]]}", "{}", "\"one\"");
	T_EVAL("{\"fractional\":[\"x\",[\"one\",{\"var\":\"w\"}]]}", "{\"w\":3000000000}", "null");
	T_EVAL("{\"fractional\":[\"x\",[\"solo\",1]]}", "{}", "\"solo\"");
	T_EVAL("{\"fractional\":[\"x\",[true,1]]}", "{}", "true");
	T_EVAL("{\"fractional\":[\"x\",[null,1]]}", "{}", "null");
	T_EVAL("{\"fractional\":[\"x\",[{\"var\":\"v\"},1]]}", "{\"v\":\"computed\"}", "\"computed\"");
	T_EVAL("{\"fractional\":[\"x\",{\"var\":\"b\"}]}", "{\"b\":[\"dyn\",4]}", "\"dyn\"");
	T_EVAL("{\"fractional\":[\"x\",{\"var\":\"b\"}]}", "{\"b\":\"notabucket\"}", "null");
	T_EVAL("{\"fractional\":[\"x\",{\"var\":\"b\"}]}", "{\"b\":[\"a\",1,2]}", "null");
	/*
	 * Literal buckets are summed at compile time; a computed first argument
	 * that turns out to be a bucket itself still counts as one (shorthand).
	 */
	T_EVAL("{\"fractional\":[{\"var\":\"b\"},[\"two\",0]]}",
		   "{\"b\":[\"one\",1],\"targetingKey\":\"k\"}", "\"one\"");
	T_EVAL("{\"fractional\":[{\"var\":\"b\"},[\"two\",1]]}",
		   "{\"b\":[\"one\",0],\"targetingKey\":\"k\"}", "\"two\"");
	T_EVAL("{\"fractional\":[{\"var\":\"b\"},[\"two\",1]]}",
		   "{\"b\":\"seed\"}", "\"two\"");
	T_EVAL("{\"fractional\":[{\"var\":\"b\"},[\"two\",1]]}",
		   "{\"b\":[\"one\",1,2],\"targetingKey\":\"k\"}", "null");
	T_EVAL("{\"fractional\":[{\"var\":\"b\"},[\"two\",1]]}", "{\"b\":5}", "null");
	/*
	 * From mutation testing (hP): a bucketing value that is neither a
	 * string nor null gives null even with a targetingKey (no fallback to
	 * the shorthand); the shorthand picks buckets other than the first
	 * (murmur3("fractional-flag-shorthandbob") puts bob in the second of
	 * two, computed by an independent implementation); more than 8 buckets,
	 * literal and computed (murmur3("k") * 10 >> 32 = 8).
	 */
	T_EVAL("{\"fractional\":[{\"var\":\"n\"},[\"a\",1]]}", "{\"n\":5,\"targetingKey\":\"k\"}", "null");
	T_EVAL("{\"fractional\":[{\"var\":\"n\"},[\"a\",1]]}", "{\"n\":true,\"targetingKey\":\"k\"}", "null");
	t_flag_key = "fractional-flag-shorthand";
	T_EVAL("{\"fractional\":[[\"heads\"],[\"tails\",1]]}", "{\"targetingKey\":\"bob\"}", "\"tails\"");
	T_EVAL("{\"fractional\":[[\"heads\"],[\"tails\",1]]}", "{\"targetingKey\":\"user-1\"}", "\"heads\"");
	t_flag_key = "test-flag";
	T_EVAL("{\"fractional\":[\"k\",[\"b0\",1],[\"b1\",1],[\"b2\",1],[\"b3\",1],[\"b4\",1],[\"b5\",1],[\"b6\",1],[\"b7\",1],[\"b8\",1],[\"b9\",1]]}", "{}", "\"b8\"");
	T_EVAL("{\"fractional\":[{\"var\":\"s\"},[\"b0\",{\"var\":\"w\"}],[\"b1\",{\"var\":\"w\"}],[\"b2\",{\"var\":\"w\"}],[\"b3\",{\"var\":\"w\"}],[\"b4\",{\"var\":\"w\"}],[\"b5\",{\"var\":\"w\"}],[\"b6\",{\"var\":\"w\"}],[\"b7\",{\"var\":\"w\"}],[\"b8\",{\"var\":\"w\"}],[\"b9\",{\"var\":\"w\"}]]}", "{\"s\":\"k\",\"w\":1}", "\"b8\"");
	T_EVAL("{\"fractional\":[{\"var\":\"s\"},[\"b0\",{\"var\":\"w\"}],[\"b1\",{\"var\":\"w\"}],[\"b2\",{\"var\":\"w\"}],[\"b3\",{\"var\":\"w\"}],[\"b4\",{\"var\":\"w\"}],[\"b5\",{\"var\":\"w\"}],[\"b6\",{\"var\":\"w\"}],[\"b7\",{\"var\":\"w\"}],[\"b8\",{\"var\":\"w\"}],[\"b9\",{\"var\":\"w\"}]]}", "{\"s\":\"k\",\"w\":0}", "null");
	/* compile-time checks of literal weights */
	T_EVAL("{\"fractional\":[\"x\",[\"one\",25.5],[\"two\",1]]}", "{}",
		   "COMPILE BAD_ARGUMENTS $.fractional[1][1]: fractional weight 25.5 is not an integer between 0 and 2147483647");
	T_EVAL("{\"fractional\":[\"x\",[\"one\",-50],[\"two\",100]]}", "{}",
		   "COMPILE BAD_ARGUMENTS $.fractional[1][1]: fractional weight -50 is not an integer between 0 and 2147483647");
	T_EVAL("{\"fractional\":[\"x\",[\"one\",\"5\"]]}", "{}",
		   "COMPILE BAD_ARGUMENTS $.fractional[1][1]: fractional weight must be a non-negative integer, not a string");
	T_EVAL("{\"fractional\":[\"x\",[\"one\",1,2]]}", "{}",
		   "COMPILE BAD_ARGUMENTS $.fractional[1]: fractional bucket must have 1 or 2 elements [variant, weight], not 3");
	T_EVAL("{\"fractional\":[\"x\",\"one\"]}", "{}",
		   "COMPILE BAD_ARGUMENTS $.fractional[1]: fractional bucket must be an array [variant, weight], not a string");
	T_EVAL("{\"fractional\":[5,[\"one\",1]]}", "{}",
		   "COMPILE BAD_ARGUMENTS $.fractional[0]: fractional bucketing value must be a string or a rule, not a number");
	T_EVAL("{\"fractional\":[]}", "{}",
		   "COMPILE BAD_ARGUMENTS $.fractional: fractional needs at least one bucket [variant, weight]");
	T_EVAL("{\"fractional\":[\"seed\"]}", "{}",
		   "COMPILE BAD_ARGUMENTS $.fractional: fractional needs at least one bucket [variant, weight] after the bucketing value");
	T_EVAL("{\"fractional\":[\"x\",[\"a\",2147483647],[\"b\",1]]}", "{}",
		   "COMPILE BAD_ARGUMENTS $.fractional: fractional weights sum to more than 2147483647");
	T_EVAL("{\"fractional\":[\"x\",[{\"bad\":1},1]]}", "{}",
		   "COMPILE UNKNOWN_OPERATOR $.fractional[1][0]: unknown operator \"bad\"");

	/* sem_ver (section 6 testbed outcomes) */
	T_EVAL("{\"sem_ver\":[\"3.0.1\",\"~\",\"3.0.0\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"3.1.0\",\"^\",\"3.0.0\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"3.1.0\",\"~\",\"3.0.0\"]}", "{}", "false");
	T_EVAL("{\"sem_ver\":[\"4.0.0\",\"^\",\"3.0.0\"]}", "{}", "false");
	T_EVAL("{\"sem_ver\":[\"4.0.0\",\"~\",\"3.0.0\"]}", "{}", "false");
	/* as in flagd, neither ^ nor ~ requires the version to be >= the reference (hP) */
	T_EVAL("{\"sem_ver\":[\"3.0.0\",\"~\",\"3.0.5\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"3.0.0\",\"^\",\"3.5.0\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"3.0.0-rc.1\",\"~\",\"3.0.0\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"2.9.0\",\"^\",\"3.0.0\"]}", "{}", "false");
	T_EVAL("{\"sem_ver\":[{\"var\":\"v\"},\"^\",\"1\"]}", "{\"v\":\"1.0\"}", "true");
	T_EVAL("{\"sem_ver\":[{\"var\":\"v\"},\"^\",\"1\"]}", "{\"v\":\"1\"}", "true");
	T_EVAL("{\"sem_ver\":[{\"var\":\"v\"},\"^\",\"1\"]}", "{\"v\":1}", "true");
	T_EVAL("{\"sem_ver\":[{\"var\":\"v\"},\"^\",\"1\"]}", "{\"v\":1.0}", "true");
	T_EVAL("{\"sem_ver\":[{\"var\":\"v\"},\"^\",\"1\"]}", "{\"v\":1.2}", "true");
	T_EVAL("{\"sem_ver\":[{\"var\":\"v\"},\">\",\"1.1\"]}", "{\"v\":1.2}", "true");
	T_EVAL("{\"sem_ver\":[{\"var\":\"v\"},\">\",\"1.1\"]}", "{\"v\":1}", "false");
	T_EVAL("{\"sem_ver\":[\"2.0.0-alpha\",\"<\",\"2.0.0\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0+other\",\"=\",\"1.0.0+build\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"v1.2.3\",\"=\",\"V1.2.3\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-alpha\",\"<\",\"1.0.0-alpha.1\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-alpha.1\",\"<\",\"1.0.0-alpha.beta\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-alpha.beta\",\"<\",\"1.0.0-beta\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-beta\",\"<\",\"1.0.0-beta.2\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-beta.2\",\"<\",\"1.0.0-beta.11\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-beta.11\",\"<\",\"1.0.0-rc.1\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-rc.1\",\"<\",\"1.0.0\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.10.0\",\">\",\"1.9.0\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.2.3\",\"!=\",\"1.2.4\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.2.3\",\"<=\",\"1.2.3\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.2.3\",\">=\",\"1.2.4\"]}", "{}", "false");
	T_EVAL("{\"sem_ver\":[\"99999999999999999999.0.0\",\">\",\"9999999999999999999.0.0\"]}", "{}", "true");
	/* precedence in both directions, identifiers (mutation testing, hP) */
	T_EVAL("{\"sem_ver\":[\"1.2.3\",\">\",\"1.2.3\"]}", "{}", "false");
	T_EVAL("{\"sem_ver\":[\"1.2.3\",\"<\",\"1.2.3\"]}", "{}", "false");
	T_EVAL("{\"sem_ver\":[\"1.2.3\",\">=\",\"1.2.3\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.2.4\",\"!=\",\"1.2.3\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.2.4\",\"=\",\"1.2.3\"]}", "{}", "false");
	T_EVAL("{\"sem_ver\":[\"1.2.3\",\"=\",\"1.2.3\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-alpha.1\",\">\",\"1.0.0-alpha\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-alpha.beta\",\">\",\"1.0.0-alpha.1\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-beta.11\",\">\",\"1.0.0-beta.2\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-beta\",\">\",\"1.0.0-alpha.beta\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-alpha.1\",\"=\",\"1.0.0-alpha.1\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-alpha.1\",\"=\",\"1.0.0-alpha.2\"]}", "{}", "false");
	T_EVAL("{\"sem_ver\":[\"1.0.0-alpha.beta\",\"<\",\"1.0.0-alpha.beta.1\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-a.b.c\",\">\",\"1.0.0-a.b\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-a.b\",\"<\",\"1.0.0-a.b.c\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-a.bb\",\">\",\"1.0.0-a.b.c\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-ALPHA\",\"<\",\"1.0.0-alpha\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-Z\",\">\",\"1.0.0-A\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-al_pha\",\"=\",\"1.0.0-al_pha\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[\"1.0.0-x1\",\">\",\"1.0.0-10\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-1x\",\">\",\"1.0.0-10\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-0a\",\"<\",\"1.0.0-1a\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-01\",\"=\",\"1.0.0-01\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[\"1.0.0-0\",\"<\",\"1.0.0-1\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0-\",\"=\",\"1.0.0\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[\"1.0.0-a..b\",\"=\",\"1.0.0-a..b\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[\"1.0.0+b_1\",\"=\",\"1.0.0\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[\"1.0.0+01\",\"=\",\"1.0.0\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[\"a1.0.0\",\"=\",\"a1.0.0\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[\"1.x2.0\",\"=\",\"1.x2.0\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[\"2.0.0.0\",\"=\",\"2.0.0\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[\"not-a-version\",\"=\",\"2.0.0\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[\"01.0.0\",\"=\",\"1.0.0\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[\"1.0.0-01\",\"=\",\"1.0.0\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[\"1.0-beta\",\"=\",\"1.0.0\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[\"1.0.0-\",\"=\",\"1.0.0\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[\"1.0.0+\",\"=\",\"1.0.0\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[\"\",\"=\",\"1.0.0\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[true,\"=\",\"1.0.0\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[{\"var\":\"v\"},\"=\",\"1.0.0\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[\"1.0.0\",{\"var\":\"op\"},\"1.0.0\"]}", "{\"op\":\"===\"}", "null");
	T_EVAL("{\"sem_ver\":[\"1.0.0\",{\"var\":\"op\"},\"1.0.0\"]}", "{\"op\":\">=\"}", "true");
	T_EVAL("{\"sem_ver\":[\"1.0.0\",\"===\",\"1.0.0\"]}", "{}",
		   "COMPILE BAD_ARGUMENTS $.sem_ver[1]: unknown sem_ver operator \"===\"; expected one of =, !=, <, <=, >, >=, ^, ~");
	T_EVAL("{\"sem_ver\":[\"1.0.0\",1,\"1.0.0\"]}", "{}",
		   "COMPILE BAD_ARGUMENTS $.sem_ver[1]: sem_ver operator must be a string (one of =, !=, <, <=, >, >=, ^, ~), not a number");
	T_EVAL("{\"sem_ver\":[\"1.0.0\",\"=\"]}", "{}",
		   "COMPILE BAD_ARGUMENTS $.sem_ver: sem_ver takes exactly 3 arguments [version, operator, version], got 2");

	/* starts_with / ends_with */
	T_EVAL("{\"starts_with\":[{\"var\":\"e\"},\"user@\"]}", "{\"e\":\"user@x.com\"}", "true");
	T_EVAL("{\"starts_with\":[{\"var\":\"e\"},\"admin@\"]}", "{\"e\":\"user@x.com\"}", "false");
	T_EVAL("{\"ends_with\":[{\"var\":\"e\"},\"@x.com\"]}", "{\"e\":\"user@x.com\"}", "true");
	T_EVAL("{\"ends_with\":[{\"var\":\"e\"},\"@x.com\"]}", "{\"e\":\"x.com\"}", "false");
	T_EVAL("{\"ends_with\":[{\"var\":\"e\"},\"\"]}", "{\"e\":\"abc\"}", "true");
	T_EVAL("{\"starts_with\":[{\"var\":\"e\"},\"1\"]}", "{\"e\":123}", "null");
	T_EVAL("{\"ends_with\":[\"3\",3]}", "{}", "null");
	T_EVAL("{\"ends_with\":[{\"var\":\"missing\"},\"x\"]}", "{}", "null");
	T_EVAL("{\"starts_with\":[\"Abc\",\"a\"]}", "{}", "false");
	T_EVAL("{\"starts_with\":[\"abc\"]}", "{}",
		   "COMPILE BAD_ARGUMENTS $.starts_with: starts_with takes exactly 2 arguments [value, prefix], got 1");
	T_EVAL("{\"ends_with\":[\"a\",\"b\",\"c\"]}", "{}",
		   "COMPILE BAD_ARGUMENTS $.ends_with: ends_with takes exactly 2 arguments [value, suffix], got 3");
	T_EVAL("{\"if\":[{\"ends_with\":[{\"var\":\"n\"},\"x\"]},\"a\",\"b\"]}", "{\"n\":5}", "\"b\"");

	/* $flagd injection */
	T_EVAL("{\"var\":\"$flagd.flagKey\"}", "{}", "\"test-flag\"");
	T_EVAL("{\"var\":\"$flagd.timestamp\"}", "{}", "1700000000");
	T_EVAL("{\"var\":\"$flagd\"}", "{\"$flagd\":\"caller\"}", "{\"flagKey\":\"test-flag\",\"timestamp\":1700000000}");
	T_EVAL("{\"var\":\"\"}", "{\"a\":1,\"$flagd\":{\"flagKey\":\"forged\"}}",
		   "{\"a\":1,\"$flagd\":{\"flagKey\":\"test-flag\",\"timestamp\":1700000000}}");
	T_EVAL("{\"var\":{\"cat\":[\"$flagd.\",\"flagKey\"]}}", "{}", "\"test-flag\"");
	T_EVAL("{\"var\":{\"cat\":[\"$flagd.\",\"other\"]}}", "{\"$flagd\":{\"other\":1}}", "null");
	T_EVAL("{\"map\":[{\"var\":\"xs\"},{\"var\":\"$flagd.flagKey\"}]}", "{\"xs\":[{\"$flagd\":{\"flagKey\":\"inner\"}}]}", "[\"inner\"]");
	t_inject = false;
	T_EVAL("{\"var\":\"$flagd.flagKey\"}", "{\"$flagd\":{\"flagKey\":\"caller\"}}", "\"caller\"");
	T_EVAL("{\"var\":\"\"}", "{\"a\":1}", "{\"a\":1}");
}

/*
 * t_resolve resolves a flag with the given targeting (JSON text or NULL)
 * against data and checks reason, error code and variant.
 */
static void
t_resolve(int line, const char *targeting, bool enabled, int default_variant,
		  const char *data, FFReason reason, FFErrorCode code, const char *variant,
		  const char *msg_part)
{
	JLArena    *a = JLArenaCreate(NULL);
	JLError		err;
	FFVariant	vars[4];
	FFFlag		f;
	JLContext	ctx;
	FFResolution r;
	JLCompileOptions o = {0};
	const char *got_variant;

	/* sorted: "false" "off" "on" "true" */
	vars[0].name = "false";
	vars[1].name = "off";
	vars[2].name = "on";
	vars[3].name = "true";
	for (int i = 0; i < 4; i++)
	{
		vars[i].namelen = strlen(vars[i].name);
		vars[i].value = JLMakeString(a, vars[i].name, vars[i].namelen, false);
	}
	memset(&f, 0, sizeof(f));
	f.key = "my-flag";
	f.keylen = 7;
	f.enabled = enabled;
	f.variants = vars;
	f.nvariants = 4;
	f.default_variant = default_variant;
	f.targeting = NULL;
	if (targeting)
	{
		o.allow_segments = true;
		f.targeting = JLCompile(a, JLParse(a, targeting, strlen(targeting), 0, &err), &o, &err);
		if (f.targeting == NULL)
		{
			t_fail(__FILE__, line, "resolve: cannot compile %s: %s", targeting, err.message);
			JLArenaDestroy(a);
			return;
		}
	}
	JLContextInitValue(&ctx, JLParse(a, data, strlen(data), 0, &err));
	ctx.inject_flagd = true;
	ctx.timestamp = 1700000000;
	ctx.segment = t_segment;
	FFResolve(&f, &ctx, a, &r);
	got_variant = r.variant >= 0 ? vars[r.variant].name : "(none)";
	T_CHECK(r.reason == reason && r.error_code == code && strcmp(got_variant, variant) == 0 &&
			(msg_part == NULL ? r.error_message[0] == '\0' : strstr(r.error_message, msg_part) != NULL),
			"line %d: resolve %s on %s: got %s/%s/%s \"%s\", expected %s/%s/%s \"%s\"", line,
			targeting ? targeting : "(no targeting)", data,
			FFReasonName(r.reason), FFErrorCodeName(r.error_code) ? FFErrorCodeName(r.error_code) : "-",
			got_variant, r.error_message,
			FFReasonName(reason), FFErrorCodeName(code) ? FFErrorCodeName(code) : "-", variant,
			msg_part ? msg_part : "");
	JLArenaDestroy(a);
}

/*
 * test_flagd_lenient covers JLCompileOptions.flagd_lenient: the calls of
 * flagd's own operators that flagd's schema forbids but flagd loads
 * compile, and evaluate as flagd evaluates them (null; a negative whole
 * weight counts as 0); every other compile error stays.
 */
void
test_flagd_lenient(void)
{
	/* strict: each of them is a compile error */
	T_EVAL_PREFIX("{\"starts_with\":[\"abc\"]}", "{}", "COMPILE BAD_ARGUMENTS");
	T_EVAL_PREFIX("{\"sem_ver\":[\"1.0.0\",\"===\",\"1.0.0\"]}", "{}", "COMPILE BAD_ARGUMENTS");
	T_EVAL_PREFIX("{\"fractional\":[[\"one\",-50],[\"two\",100]]}", "{}", "COMPILE BAD_ARGUMENTS");
	T_EVAL_PREFIX("{\"var\":\"$flagd.other\"}", "{}", "COMPILE BAD_ARGUMENTS");

	t_flagd_lenient = true;
	t_inject = true;
	/* starts_with / ends_with without exactly 2 arguments: null */
	T_EVAL("{\"starts_with\":[\"abc\"]}", "{}", "null");
	T_EVAL("{\"ends_with\":[\"xyz\"]}", "{}", "null");
	T_EVAL("{\"ends_with\":[\"xyz\",\"z\",\"y\"]}", "{}", "null");
	T_EVAL("{\"starts_with\":\"abc\"}", "{}", "null");
	/* the null makes an enclosing if take its else branch */
	T_EVAL("{\"if\":[{\"starts_with\":[\"abc\"]},\"true\",\"false\"]}", "{}", "\"false\"");
	/* sem_ver without exactly 3 arguments, or with an unknown operator */
	T_EVAL("{\"sem_ver\":[{\"var\":\"version\"},\"=\"]}", "{\"version\":\"1.0.0\"}", "null");
	T_EVAL("{\"sem_ver\":[\"1.0.0\",\"===\",\"1.0.0\"]}", "{}", "null");
	T_EVAL("{\"sem_ver\":[\"1.0.0\",5,\"1.0.0\"]}", "{}", "null");
	/* what was valid evaluates as before */
	T_EVAL("{\"sem_ver\":[\"1.0.0\",\"=\",\"1.0.0\"]}", "{}", "true");
	T_EVAL("{\"sem_ver\":[{\"var\":\"v\"},\"^\",\"1.0.0\"]}", "{\"v\":\"1.5.0\"}", "true");
	T_EVAL("{\"starts_with\":[{\"var\":\"e\"},\"a\"]}", "{\"e\":\"abc\"}", "true");
	/* a negative whole weight counts as 0: "two" always (flagd's vector) */
	T_EVAL("{\"fractional\":[{\"var\":\"targetingKey\"},[\"one\",-50],[\"two\",100]]}",
		   "{\"targetingKey\":\"any-user\"}", "\"two\"");
	T_EVAL("{\"fractional\":[{\"var\":\"targetingKey\"},[\"one\",-50],[\"two\",100]]}",
		   "{\"targetingKey\":\"another\"}", "\"two\"");
	T_EVAL("{\"fractional\":[[\"one\",-50],[\"two\",100]]}", "{\"targetingKey\":\"u\"}", "\"two\"");
	T_EVAL("{\"fractional\":[\"seed\",[\"one\",-1],[\"two\",-2],[\"three\",1]]}", "{}", "\"three\"");
	/* weights that are not whole, not numbers, too large; all zero */
	T_EVAL("{\"fractional\":[\"seed\",[\"a\",25.5],[\"b\",1]]}", "{}", "null");
	T_EVAL("{\"fractional\":[\"seed\",[\"a\",\"x\"],[\"b\",1]]}", "{}", "null");
	T_EVAL("{\"fractional\":[\"seed\",[\"a\",2147483647],[\"b\",1]]}", "{}", "null");
	T_EVAL("{\"fractional\":[\"seed\",[\"a\",-0.5],[\"b\",1]]}", "{}", "null");
	T_EVAL("{\"fractional\":[\"seed\",[\"a\",0],[\"b\",-3]]}", "{}", "null");
	/* buckets and bucketing values of the wrong shape */
	T_EVAL("{\"fractional\":[\"seed\",[\"a\",1,2]]}", "{}", "null");
	T_EVAL("{\"fractional\":[\"seed\",\"a\"]}", "{}", "null");
	T_EVAL("{\"fractional\":[5,[\"a\",1]]}", "{}", "null");
	T_EVAL("{\"fractional\":[\"seed\"]}", "{}", "null");
	T_EVAL("{\"fractional\":[]}", "{}", "null");
	/* a computed bucket is read at each evaluation */
	T_EVAL("{\"fractional\":[\"seed\",[\"a\",{\"var\":\"w\"}],[\"b\",1]]}", "{\"w\":-7}", "\"b\"");
	/* an unknown $flagd property is missing (the caller's $flagd is replaced) */
	T_EVAL("{\"var\":\"$flagd.other\"}", "{}", "null");
	T_EVAL("{\"var\":[\"$flagd.other\",\"dflt\"]}", "{}", "\"dflt\"");
	T_EVAL("{\"var\":\"$flagd.other\"}", "{\"$flagd\":{\"other\":1}}", "null");
	T_EVAL("{\"var\":\"$flagd.flagKey\"}", "{}", "\"test-flag\"");
	/* everything else is still refused */
	T_EVAL_PREFIX("{\"substr\":[\"abc\",1,2,3]}", "{}", "COMPILE BAD_ARGUMENTS");
	T_EVAL_PREFIX("{\"in_segment\":[]}", "{}", "COMPILE BAD_ARGUMENTS");
	T_EVAL_PREFIX("{\"a\":1,\"b\":2}", "{}", "COMPILE BAD_ARGUMENTS");
	T_EVAL_PREFIX("{\"iff\":[true]}", "{}", "COMPILE UNKNOWN_OPERATOR");
	T_EVAL_PREFIX("{\"starts_with\":[{\"iff\":[]},\"a\",\"b\"]}", "{}", "COMPILE UNKNOWN_OPERATOR");
	t_inject = false;
	t_flagd_lenient = false;
}

/*
 * test_resolve covers every reason of FFResolve.
 */
void
test_resolve(void)
{
	FFVariant	unsorted[3];
	FFFlag		f;

	T_CHECK(strcmp(FFReasonName(FF_REASON_STATIC), "STATIC") == 0, "STATIC");
	T_CHECK(strcmp(FFReasonName(FF_REASON_DEFAULT), "DEFAULT") == 0, "DEFAULT");
	T_CHECK(strcmp(FFReasonName(FF_REASON_TARGETING_MATCH), "TARGETING_MATCH") == 0, "TARGETING_MATCH");
	T_CHECK(strcmp(FFReasonName(FF_REASON_DISABLED), "DISABLED") == 0, "DISABLED");
	T_CHECK(strcmp(FFReasonName(FF_REASON_ERROR), "ERROR") == 0, "ERROR");
	T_CHECK(FFErrorCodeName(FF_ERROR_NONE) == NULL, "no error code name for NONE");
	T_CHECK(strcmp(FFErrorCodeName(FF_ERROR_FLAG_NOT_FOUND), "FLAG_NOT_FOUND") == 0, "FLAG_NOT_FOUND");
	T_CHECK(strcmp(FFErrorCodeName(FF_ERROR_PARSE_ERROR), "PARSE_ERROR") == 0, "PARSE_ERROR");
	T_CHECK(strcmp(FFErrorCodeName(FF_ERROR_TYPE_MISMATCH), "TYPE_MISMATCH") == 0, "TYPE_MISMATCH");
	T_CHECK(strcmp(FFErrorCodeName(FF_ERROR_GENERAL), "GENERAL") == 0, "GENERAL");
	T_CHECK(strcmp(FFErrorCodeName(FF_ERROR_INVALID_CONTEXT), "INVALID_CONTEXT") == 0, "INVALID_CONTEXT");

	/* disabled wins over everything */
	t_resolve(__LINE__, "\"on\"", false, 1, "{}",
			  FF_REASON_DISABLED, FF_ERROR_NONE, "(none)", NULL);
	/* static */
	t_resolve(__LINE__, NULL, true, 1, "{}", FF_REASON_STATIC, FF_ERROR_NONE, "off", NULL);
	t_resolve(__LINE__, NULL, true, -1, "{}", FF_REASON_DEFAULT, FF_ERROR_NONE, "(none)", NULL);
	/* targeting null -> default */
	t_resolve(__LINE__, "{\"if\":[false,\"on\"]}", true, 1, "{}", FF_REASON_DEFAULT, FF_ERROR_NONE, "off", NULL);
	t_resolve(__LINE__, "{\"if\":[false,\"on\",null]}", true, -1, "{}", FF_REASON_DEFAULT, FF_ERROR_NONE, "(none)", NULL);
	/* a string naming a variant, even the default */
	t_resolve(__LINE__, "\"on\"", true, 1, "{}", FF_REASON_TARGETING_MATCH, FF_ERROR_NONE, "on", NULL);
	t_resolve(__LINE__, "\"off\"", true, 1, "{}", FF_REASON_TARGETING_MATCH, FF_ERROR_NONE, "off", NULL);
	t_resolve(__LINE__, "{\"var\":\"v\"}", true, 1, "{\"v\":\"on\"}", FF_REASON_TARGETING_MATCH, FF_ERROR_NONE, "on", NULL);
	/* boolean shorthand */
	t_resolve(__LINE__, "{\"starts_with\":[{\"var\":\"e\"},\"a\"]}", true, 1, "{\"e\":\"abc\"}",
			  FF_REASON_TARGETING_MATCH, FF_ERROR_NONE, "true", NULL);
	t_resolve(__LINE__, "{\"starts_with\":[{\"var\":\"e\"},\"a\"]}", true, 1, "{\"e\":\"xyz\"}",
			  FF_REASON_TARGETING_MATCH, FF_ERROR_NONE, "false", NULL);
	/* bad operator input -> null -> default, not "false" */
	t_resolve(__LINE__, "{\"starts_with\":[{\"var\":\"e\"},\"a\"]}", true, 1, "{\"e\":5}",
			  FF_REASON_DEFAULT, FF_ERROR_NONE, "off", NULL);
	/* unknown variant name, other types */
	t_resolve(__LINE__, "\"purple\"", true, 1, "{}", FF_REASON_ERROR, FF_ERROR_GENERAL, "(none)",
			  "flag \"my-flag\": targeting returned \"purple\", which is not a variant of the flag");
	t_resolve(__LINE__, "{\"+\":[1,2]}", true, 1, "{}", FF_REASON_ERROR, FF_ERROR_GENERAL, "(none)",
			  "flag \"my-flag\": targeting returned the number 3, not a variant name");
	t_resolve(__LINE__, "[\"on\"]", true, 1, "{}", FF_REASON_ERROR, FF_ERROR_GENERAL, "(none)",
			  "targeting returned the array [\"on\"]");
	t_resolve(__LINE__, "{\"var\":\"o\"}", true, 1, "{\"o\":{\"k\":\"on\"}}", FF_REASON_ERROR, FF_ERROR_GENERAL, "(none)",
			  "targeting returned the object {\"k\":\"on\"}");
	/* engine error -> PARSE_ERROR (a broken segment too) */
	t_resolve(__LINE__, "{\"if\":[{\"!\":{\"in_segment\":\"broken\"}},\"on\",\"off\"]}", true, 1,
			  "{\"targetingKey\":\"carol\"}", FF_REASON_ERROR, FF_ERROR_PARSE_ERROR, "(none)",
			  "cannot be evaluated: its stored rule does not compile");
	t_resolve(__LINE__, "{\"in_segment\":\"loop-a\"}", true, 1, "{\"targetingKey\":\"k\"}",
			  FF_REASON_ERROR, FF_ERROR_PARSE_ERROR, "(none)", "flag \"my-flag\": targeting failed at ");
	/* a result that names no variant: no variant (mutation testing, hP) */
	t_resolve(__LINE__, "\"maybe\"", true, 1, "{}", FF_REASON_ERROR, FF_ERROR_GENERAL, "(none)",
			  "targeting returned \"maybe\", which is not a variant of the flag");
	/* $flagd.flagKey comes from the flag */
	t_resolve(__LINE__, "{\"if\":[{\"==\":[{\"var\":\"$flagd.flagKey\"},\"my-flag\"]},\"on\",\"off\"]}", true, 1, "{}",
			  FF_REASON_TARGETING_MATCH, FF_ERROR_NONE, "on", NULL);

	/* FFFindVariant works on unsorted arrays too */
	unsorted[0].name = "zeta";
	unsorted[1].name = "alpha";
	unsorted[2].name = "mid";
	for (int i = 0; i < 3; i++)
		unsorted[i].namelen = strlen(unsorted[i].name);
	memset(&f, 0, sizeof(f));
	f.variants = unsorted;
	f.nvariants = 3;
	T_CHECK(FFFindVariant(&f, "alpha", 5) == 1 && FFFindVariant(&f, "zeta", 4) == 0 &&
			FFFindVariant(&f, "mid", 3) == 2 && FFFindVariant(&f, "nope", 4) == -1,
			"FFFindVariant on unsorted variants");

	/*
	 * More than FF_LINEAR_VARIANTS (8) variants: the binary search, over
	 * the sorted array (bytewise, a prefix first: "v1" < "v10" < "v2"),
	 * finds every name at its own index and no name that is absent; the
	 * same names unsorted are still found (the fallback scan).
	 */
	{
		static const char *const sorted_names[] = {
			"a", "ab", "abc", "b", "v1", "v10", "v11", "v2", "v20", "v3",
			"w", "x", "xy", "y", "z", "zz", "zzz"
		};
		static const char *const absent[] = {"", "aa", "abcd", "v", "v0", "v12", "v4", "zzzz", "0", "~"};
		FFVariant	many[17];
		int			n = 17;
		bool		ok = true;

		for (int i = 0; i < n; i++)
		{
			many[i].name = sorted_names[i];
			many[i].namelen = strlen(sorted_names[i]);
		}
		memset(&f, 0, sizeof(f));
		f.variants = many;
		f.nvariants = n;
		for (int i = 0; i < n; i++)
			ok = ok && FFFindVariant(&f, sorted_names[i], strlen(sorted_names[i])) == i;
		for (int i = 0; i < (int) (sizeof(absent) / sizeof(absent[0])); i++)
			ok = ok && FFFindVariant(&f, absent[i], strlen(absent[i])) == -1;
		T_CHECK(ok, "FFFindVariant over 17 sorted variants");
		/* reversed: not sorted, still found by the scan */
		for (int i = 0; i < n; i++)
		{
			many[i].name = sorted_names[n - 1 - i];
			many[i].namelen = strlen(many[i].name);
		}
		ok = true;
		for (int i = 0; i < n; i++)
			ok = ok && FFFindVariant(&f, sorted_names[i], strlen(sorted_names[i])) == n - 1 - i;
		ok = ok && FFFindVariant(&f, "v12", 3) == -1;
		T_CHECK(ok, "FFFindVariant over 17 unsorted variants");
	}
}

/*
 * test_segments tests in_segment with the fake callback of test_main.c.
 */
void
test_segments(void)
{
	t_reset();
	t_inject = false;
	T_EVAL("{\"in_segment\":\"beta\"}", "{\"targetingKey\":\"alice\"}", "true");
	T_EVAL("{\"in_segment\":[\"beta\"]}", "{\"targetingKey\":\"bob\"}", "false");
	T_EVAL("{\"in_segment\":[\"beta\"]}", "{\"targetingKey\":\"carol\"}", "false");
	T_EVAL("{\"in_segment\":[\"beta\",{\"var\":\"user.id\"}]}", "{\"targetingKey\":\"bob\",\"user\":{\"id\":\"alice\"}}", "true");
	T_EVAL("{\"in_segment\":[\"beta\",{\"var\":\"user.id\"}]}", "{\"user\":{\"id\":7}}", "null");
	T_EVAL("{\"in_segment\":\"beta\"}", "{\"targetingKey\":7}", "null");
	T_EVAL("{\"in_segment\":\"beta\"}", "{}", "null");
	T_EVAL("{\"in_segment\":\"unknown\"}", "{\"targetingKey\":\"alice\"}", "null");
	/* rule fallback: evaluated against the same (root) context */
	T_EVAL("{\"in_segment\":\"vip\"}", "{\"targetingKey\":\"carol\",\"plan\":\"gold\"}", "true");
	T_EVAL("{\"in_segment\":\"vip\"}", "{\"targetingKey\":\"carol\",\"plan\":\"free\"}", "false");
	T_EVAL("{\"in_segment\":\"vip\"}", "{\"targetingKey\":\"bob\",\"plan\":\"gold\"}", "false");
	T_EVAL("{\"map\":[[1],{\"in_segment\":\"vip\"}]}", "{\"targetingKey\":\"carol\",\"plan\":\"gold\"}", "[true]");
	T_EVAL("{\"in_segment\":\"empty\"}", "{\"targetingKey\":\"carol\"}", "false");
	/* without a string key the lists cannot match: the rule decides, if any */
	T_EVAL("{\"in_segment\":\"vip\"}", "{\"plan\":\"gold\"}", "true");
	T_EVAL("{\"in_segment\":\"vip\"}", "{\"plan\":\"free\"}", "false");
	T_EVAL("{\"in_segment\":\"vip\"}", "{}", "false");
	T_EVAL("{\"in_segment\":\"vip\"}", "{\"targetingKey\":7,\"plan\":\"gold\"}", "true");
	T_EVAL("{\"in_segment\":\"vip\"}", "{\"targetingKey\":null,\"plan\":\"gold\"}", "true");
	T_EVAL("{\"in_segment\":[\"vip\",{\"var\":\"user.id\"}]}", "{\"user\":{\"id\":7},\"plan\":\"gold\"}", "true");
	T_EVAL("{\"in_segment\":[\"vip\",{\"var\":\"user.id\"}]}", "{\"targetingKey\":\"bob\",\"plan\":\"gold\"}", "true");
	T_EVAL("{\"in_segment\":\"empty\"}", "{}", "null");
	T_EVAL("{\"in_segment\":\"chain-15\"}", "{}", "true");
	T_EVAL("{\"in_segment\":\"loop-a\"}", "{}",
		   "ERROR RUNTIME $.in_segment: segment \"loop-a\" references itself (cycle through in_segment)");
	/*
	 * a segment that exists but cannot be used fails the evaluation, keys
	 * on its lists and keyless contexts alike: not null, which would let
	 * {"!": {"in_segment": ...}} through
	 */
	T_EVAL("{\"in_segment\":\"broken\"}", "{\"targetingKey\":\"alice\"}",
		   "ERROR RUNTIME $.in_segment: segment \"broken\" cannot be evaluated: its stored rule does not compile");
	T_EVAL("{\"in_segment\":\"broken\"}", "{\"targetingKey\":\"bob\"}",
		   "ERROR RUNTIME $.in_segment: segment \"broken\" cannot be evaluated: its stored rule does not compile");
	T_EVAL("{\"!\":{\"in_segment\":\"broken\"}}", "{}",
		   "ERROR RUNTIME $.!.in_segment: segment \"broken\" cannot be evaluated: its stored rule does not compile");
	/* cycles are runtime errors */
	T_EVAL("{\"in_segment\":\"loop-a\"}", "{\"targetingKey\":\"k\"}",
		   "ERROR RUNTIME $.in_segment: segment \"loop-a\" references itself (cycle through in_segment)");
	/* nesting: 5 levels are fine, 20 exceed the limit of 16 */
	T_EVAL("{\"in_segment\":\"chain-15\"}", "{\"targetingKey\":\"k\"}", "true");
	T_EVAL("{\"in_segment\":\"chain-0\"}", "{\"targetingKey\":\"k\"}",
		   "ERROR RUNTIME $.in_segment: segments nest more than 16 levels deep through in_segment (a cycle through changing keys?)");
	/* argument checks */
	T_EVAL("{\"in_segment\":[]}", "{}",
		   "COMPILE BAD_ARGUMENTS $.in_segment: in_segment takes a segment name and an optional key, got 0 arguments");
	T_EVAL("{\"in_segment\":[{\"var\":\"s\"}]}", "{}",
		   "COMPILE BAD_ARGUMENTS $.in_segment[0]: in_segment needs a literal, non-empty segment name string");
	T_EVAL("{\"in_segment\":5}", "{}",
		   "COMPILE BAD_ARGUMENTS $.in_segment[0]: in_segment needs a literal, non-empty segment name string");
	/* segment names are listed */
	{
		JLArena    *a = JLArenaCreate(NULL);
		JLError		err;
		JLCompileOptions o = {0};
		const char *r = "{\"or\":[{\"in_segment\":\"b\"},{\"in_segment\":[\"a\"]},{\"in_segment\":\"b\"}]}";
		JLRule	   *rule;
		size_t		len0 = 0,
					len1 = 0;
		const char *n0,
				   *n1;

		o.allow_segments = true;
		rule = JLCompile(a, JLParse(a, r, strlen(r), 0, &err), &o, &err);
		T_CHECK(rule && JLRuleSegmentCount(rule) == 2, "two distinct segments");
		if (rule && JLRuleSegmentCount(rule) == 2)
		{
			n0 = JLRuleSegmentName(rule, 0, &len0);
			n1 = JLRuleSegmentName(rule, 1, &len1);
			T_CHECK(len0 == 1 && n0[0] == 'b' && len1 == 1 && n1[0] == 'a', "segment names in order");
			T_CHECK(JLRuleSegmentName(rule, 2, &len0) == NULL, "out of range");
		}
		JLArenaDestroy(a);
	}
}
