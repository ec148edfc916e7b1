/*-------------------------------------------------------------------------
 *
 * test_ops.c
 *	  Unit tests: values, JSON text, standard operators, compile errors.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * test/core/test_ops.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>

#include "test_util.h"

static void collect(void *arg, const JLValue *lit, const char *path);

/*
 * t_parse_in parses a NUL-terminated JSON text into the given arena.
 */
static const JLValue *
t_parse_in(JLArena *arena, const char *text, JLError *err)
{
	return JLParse(arena, text, strlen(text), 0, err);
}

/*
 * t_number_text formats a number through a JSON value and the serializer.
 */
static const char *
t_number_text(double d)
{
	JLValue    *v = JLMakeNumber(t_arena, d);

	return JLSerialize(t_arena, v, NULL);
}

/*
 * test_values covers constants, constructors, truthiness, equality, numbers.
 */
void
test_values(void)
{
	JLMember	m[3];
	JLValue    *o;
	const JLValue *a;

	t_reset();
	T_CHECK(!JLTruthy(&JLNullValue), "null is falsy");
	T_CHECK(JLTruthy(&JLTrueValue) && !JLTruthy(&JLFalseValue), "booleans");
	T_CHECK(!JLTruthy(JLMakeNumber(t_arena, 0)), "0 is falsy");
	T_CHECK(!JLTruthy(JLMakeNumber(t_arena, NAN)), "NaN is falsy");
	T_CHECK(JLTruthy(JLMakeNumber(t_arena, -0.5)), "-0.5 is truthy");
	T_CHECK(!JLTruthy(JLMakeString(t_arena, "", 0, true)), "\"\" is falsy");
	T_CHECK(JLTruthy(JLMakeString(t_arena, "0", 1, true)), "\"0\" is truthy");
	T_CHECK(!JLTruthy(t_parse("[]")) && JLTruthy(t_parse("[0]")), "[] falsy, [0] truthy");
	T_CHECK(JLTruthy(t_parse("{}")), "{} is truthy (jsonlogic.com)");

	/* objects: sorted, last duplicate wins, lookup */
	m[0].key = "b";
	m[0].keylen = 1;
	m[0].value = JLMakeNumber(t_arena, 1);
	m[1].key = "a";
	m[1].keylen = 1;
	m[1].value = JLMakeNumber(t_arena, 2);
	m[2].key = "b";
	m[2].keylen = 1;
	m[2].value = JLMakeNumber(t_arena, 3);
	o = JLMakeObject(t_arena, m, 3);
	T_CHECK(o->u.object.count == 2, "duplicate keys collapse: %zu", o->u.object.count);
	a = JLObjectGet(o, "b", 1);
	T_CHECK(a && a->u.number == 3, "last duplicate wins");
	T_CHECK(JLObjectGet(o, "c", 1) == NULL, "missing key");
	T_CHECK(strcmp(JLSerialize(t_arena, o, NULL), "{\"a\":2,\"b\":3}") == 0, "object order: %s",
			JLSerialize(t_arena, o, NULL));
	T_CHECK(JLEqual(t_parse("{\"x\":[1,{\"y\":null}],\"z\":\"s\"}"),
					t_parse("{\"z\":\"s\",\"x\":[1.0,{\"y\":null}]}")), "deep equality ignores key order");
	T_CHECK(!JLEqual(t_parse("[1,2]"), t_parse("[2,1]")), "array order matters");
	T_CHECK(!JLEqual(t_parse("1"), t_parse("\"1\"")), "JLEqual is typed");

	/* JavaScript number formatting */
	T_CHECK(strcmp(t_number_text(1), "1") == 0, "1");
	T_CHECK(strcmp(t_number_text(-0.0), "0") == 0, "-0 -> 0");
	T_CHECK(strcmp(t_number_text(0.1 + 0.2), "0.30000000000000004") == 0, "0.1+0.2: %s", t_number_text(0.1 + 0.2));
	T_CHECK(strcmp(t_number_text(1e21), "1e+21") == 0, "1e21: %s", t_number_text(1e21));
	T_CHECK(strcmp(t_number_text(1e20), "100000000000000000000") == 0, "1e20: %s", t_number_text(1e20));
	T_CHECK(strcmp(t_number_text(123456789012), "123456789012") == 0, "big int");
	T_CHECK(strcmp(t_number_text(9007199254740991.0), "9007199254740991") == 0, "2^53-1: %s",
			t_number_text(9007199254740991.0));
	T_CHECK(strcmp(t_number_text(1152921504606846976.0), "1152921504606847000") == 0, "2^60: %s",
			t_number_text(1152921504606846976.0));
	T_CHECK(strcmp(t_number_text(1.2345678901234568e20), "123456789012345680000") == 0, "1.2345678901234568e20: %s",
			t_number_text(1.2345678901234568e20));
	T_CHECK(strcmp(t_number_text(-1e21), "-1e+21") == 0, "-1e21: %s", t_number_text(-1e21));
	T_CHECK(strcmp(t_number_text(123.456), "123.456") == 0, "123.456: %s", t_number_text(123.456));
	T_CHECK(strcmp(t_number_text(1e-7), "1e-7") == 0, "1e-7: %s", t_number_text(1e-7));
	T_CHECK(strcmp(t_number_text(1.5e-7), "1.5e-7") == 0, "1.5e-7: %s", t_number_text(1.5e-7));
	T_CHECK(strcmp(t_number_text(0.000001), "0.000001") == 0, "1e-6: %s", t_number_text(0.000001));
	T_CHECK(strcmp(t_number_text(-2.5), "-2.5") == 0, "-2.5");
	T_CHECK(strcmp(t_number_text(1.7976931348623157e308), "1.7976931348623157e+308") == 0, "max double: %s",
			t_number_text(1.7976931348623157e308));
	T_CHECK(strcmp(t_number_text(5e-324), "5e-324") == 0, "min subnormal: %s", t_number_text(5e-324));
	T_CHECK(strcmp(t_number_text(INFINITY), "null") == 0, "Infinity serialises as null");
	T_CHECK(strcmp(t_number_text(NAN), "null") == 0, "NaN serialises as null");
}

/*
 * t_parse_error returns the error message of parsing text, or "OK".
 */
static const char *
t_parse_error(const char *text, JLErrorCode *code)
{
	static JLError err;

	if (JLParse(t_arena, text, strlen(text), 4, &err) != NULL)
		return "OK";
	*code = err.code;
	return err.message;
}

/*
 * test_json covers parser strictness and the serialiser.
 */
void
test_json(void)
{
	static const char *const bad[] = {
		"", " ", "{", "[1,]", "{\"a\":1,}", "{a:1}", "'x'", "01", "1.", ".5", "-", "1e", "+1",
		"tru", "nul", "[1 2]", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"",
		"\"a\nb\"", "NaN", "Infinity", "1e400", "[] []", "\"\xff\"", "\"\xc0\x80\"",
		"\"\xed\xa0\x80\"", "/* c */ 1", NULL
	};
	const char *const *b;
	JLErrorCode code;
	const JLValue *v;
	size_t		len;
	char	   *s;

	t_reset();
	for (b = bad; *b; b++)
	{
		code = JL_OK;
		T_CHECK(strcmp(t_parse_error(*b, &code), "OK") != 0 && code == JL_ERR_SYNTAX,
				"JSON text \"%s\" must be rejected as a syntax error (got %s)", *b,
				t_parse_error(*b, &code));
	}
	code = JL_OK;
	T_CHECK(strcmp(t_parse_error("[[[[[1]]]]]", &code), "OK") != 0 && code == JL_ERR_TOO_DEEP,
			"depth limit 4 rejects 5 levels");
	T_CHECK(strcmp(t_parse_error("[[[[1]]]]", &code), "OK") == 0, "depth limit 4 accepts 4 levels");
	T_CHECK(strstr(t_parse_error("{\"a\": tru}", &code), "offset 6") != NULL,
			"syntax errors name the offset: %s", t_parse_error("{\"a\": tru}", &code));
	{
		const char *txt = " {\"b\" : [1, -2.5e2, true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\\\"\"], \"a\":{}} ";

		v = JLParse(t_arena, txt, strlen(txt), 0, NULL);
	}
	T_CHECK(v != NULL, "valid JSON parses");
	if (v)
	{
		s = JLSerialize(t_arena, v, &len);
		T_CHECK(strcmp(s, "{\"a\":{},\"b\":[1,-250,true,false,null,\"x\xc3\xa9\xf0\x9f\x98\x80\\n\\\"\"]}") == 0,
				"serialisation: %s", s);
		T_CHECK(len == strlen(s), "serialised length");
	}
	v = JLParse(t_arena, "\"a\\u0000b\\u001f\"", 16, 0, NULL);
	T_CHECK(v && v->u.string.len == 4 && v->u.string.ptr[1] == '\0', "\\u0000 kept inside strings");
	if (v)
		T_CHECK(strcmp(JLSerialize(t_arena, v, NULL), "\"a\\u0000b\\u001f\"") == 0, "control characters escaped: %s",
				JLSerialize(t_arena, v, NULL));
	v = JLParse(t_arena, "{\"k\":1,\"k\":2}", 13, 0, NULL);
	T_CHECK(v && v->u.object.count == 1 && JLObjectGet(v, "k", 1)->u.number == 2, "duplicate keys: last wins");
	v = JLParse(t_arena, "-0", 2, 0, NULL);
	T_CHECK(v && strcmp(JLSerialize(t_arena, v, NULL), "0") == 0, "-0 parses as 0");
	v = JLParse(t_arena, "123456789012345678901234567890", 30, 0, NULL);
	T_CHECK(v && strcmp(JLSerialize(t_arena, v, NULL), "1.2345678901234568e+29") == 0, "long number: %s",
			v ? JLSerialize(t_arena, v, NULL) : "?");

	/*
	 * From mutation testing (hP): upper-case hex escapes, the last code
	 * point (4-byte UTF-8 from 0xF4, raw and escaped), the digit 9 in
	 * every part of a number, every escape the serialiser writes, and
	 * syntax errors named by line and column.
	 */
	{
		static const char *const rt[][2] = {
			{"\"\\u00E9\\u00C9\"", "\"\xc3\xa9\xc3\x89\""},
			{"\"\\uDBFF\\uDFFF\"", "\"\xf4\x8f\xbf\xbf\""},
			{"\"\xf4\x8f\xbf\xbf\"", "\"\xf4\x8f\xbf\xbf\""},
			{"[9, 99.9, 9e9, -9.5E+9, 0.9e-9]", "[9,99.9,9000000000,-9500000000,9e-10]"},
			{"\"\\r\\t\\b\\f\\n\\\\\\/\"", "\"\\r\\t\\b\\f\\n\\\\/\""},
			{"{\"a\":{\"b\":[{\"c\":[]}]}}", "{\"a\":{\"b\":[{\"c\":[]}]}}"},
		};

		for (int i = 0; i < (int) (sizeof(rt) / sizeof(rt[0])); i++)
		{
			v = JLParse(t_arena, rt[i][0], strlen(rt[i][0]), 0, NULL);
			s = v ? JLSerialize(t_arena, v, NULL) : "(parse error)";
			T_CHECK(strcmp(s, rt[i][1]) == 0, "JSON %s serialises as %s, got %s", rt[i][0], rt[i][1], s);
		}
		code = JL_OK;
		T_CHECK(strcmp(t_parse_error("\"\xf5\x80\x80\x80\"", &code), "OK") != 0, "UTF-8 lead byte 0xF5 refused");
		T_CHECK(strstr(t_parse_error("[1,\n 2,\n x]", &code), "line 3") != NULL,
				"syntax errors name the line: %s", t_parse_error("[1,\n 2,\n x]", &code));
	}
}

/*
 * test_operators covers every standard operator and its edge cases.
 */
void
test_operators(void)
{
	t_reset();
	/* var */
	T_EVAL("{\"var\":\"a.b\"}", "{\"a\":{\"b\":[1,2]}}", "[1,2]");
	T_EVAL("{\"var\":\"a.b.1\"}", "{\"a\":{\"b\":[1,2]}}", "2");
	T_EVAL("{\"var\":\"a.b.2\"}", "{\"a\":{\"b\":[1,2]}}", "null");
	T_EVAL("{\"var\":\"a.b.01\"}", "{\"a\":{\"b\":[1,2]}}", "null");
	T_EVAL("{\"var\":\"a.b.-1\"}", "{\"a\":{\"b\":[1,2]}}", "null");
	T_EVAL("{\"var\":[\"a.x\",\"dflt\"]}", "{\"a\":{\"b\":1}}", "\"dflt\"");
	T_EVAL("{\"var\":[\"a\",\"dflt\"]}", "{\"a\":null}", "\"dflt\"");
	T_EVAL("{\"var\":[\"a\",\"dflt\"]}", "{\"a\":false}", "false");
	T_EVAL("{\"var\":[\"a\",\"dflt\"]}", "{\"a\":0}", "0");
	T_EVAL("{\"var\":\"\"}", "{\"a\":1}", "{\"a\":1}");
	T_EVAL("{\"var\":\"a.length\"}", "{\"a\":\"xyz\"}", "null");
	T_EVAL("{\"var\":\"x\"}", "\"string data\"", "null");
	T_EVAL("{\"var\":1.5}", "{\"1\":{\"5\":\"deep\"}}", "\"deep\"");
	T_EVAL("{\"var\":{\"cat\":[\"a\",\".\",\"b\"]}}", "{\"a\":{\"b\":7}}", "7");
	T_EVAL("{\"var\":{\"var\":\"which\"}}", "{\"which\":\"v\",\"v\":\"dyn\"}", "\"dyn\"");
	T_EVAL("{\"var\":\"a..b\"}", "{\"a\":{\"\":{\"b\":3}}}", "3");
	T_EVAL("{\"var\":\"\\u00e9t\\u00e9\"}", "{\"\xc3\xa9t\xc3\xa9\":\"summer\"}", "\"summer\"");
	T_EVAL("{\"var\":\"Name\"}", "{\"name\":\"lower\"}", "null");

	/* missing / missing_some */
	T_EVAL("{\"missing\":[\"a\",\"b\",\"c\"]}", "{\"a\":\"\",\"b\":0,\"c\":null}", "[\"a\",\"c\"]");
	T_EVAL("{\"missing\":[[\"x\",\"y\"]]}", "{\"y\":1}", "[\"x\"]");
	T_EVAL("{\"missing_some\":[0,[\"a\"]]}", "{}", "[]");
	T_EVAL("{\"missing_some\":[1,\"a\"]}", "{}", "[\"a\"]");
	T_EVAL_PREFIX("{\"missing_some\":[1]}", "{}", "COMPILE BAD_ARGUMENTS $.missing_some: missing_some takes 2 arguments");

	/* if */
	T_EVAL("{\"if\":[]}", "{}", "null");
	T_EVAL("{\"if\":true}", "{}", "true");
	T_EVAL("{\"if\":[false,1,false,2]}", "{}", "null");
	T_EVAL("{\"if\":[{\"var\":\"x\"},\"yes\",\"no\"]}", "{\"x\":{}}", "\"yes\"");
	T_EVAL("{\"if\":[{\"var\":\"x\"},\"yes\",\"no\"]}", "{\"x\":[]}", "\"no\"");

	/* equality */
	T_EVAL("{\"==\":[null,null]}", "{}", "true");
	T_EVAL("{\"==\":[null,0]}", "{}", "false");
	T_EVAL("{\"==\":[null,false]}", "{}", "false");
	T_EVAL("{\"==\":[0,false]}", "{}", "true");
	T_EVAL("{\"==\":[\"1\",true]}", "{}", "true");
	T_EVAL("{\"==\":[\"\",0]}", "{}", "true");
	T_EVAL("{\"==\":[\" 12 \",12]}", "{}", "true");
	T_EVAL("{\"==\":[\"0x10\",16]}", "{}", "true");
	T_EVAL("{\"==\":[\"1e3\",1000]}", "{}", "true");
	T_EVAL("{\"==\":[\"12abc\",12]}", "{}", "false");
	T_EVAL("{\"==\":[[1],1]}", "{}", "true");
	T_EVAL("{\"==\":[[1,2],\"1,2\"]}", "{}", "true");
	T_EVAL("{\"==\":[[],\"\"]}", "{}", "true");
	T_EVAL("{\"==\":[[],false]}", "{}", "true");
	T_EVAL("{\"==\":[{\"var\":\"o\"},\"[object Object]\"]}", "{\"o\":{\"a\":1}}", "true");
	T_EVAL("{\"==\":[[1,[2]],[1,[2]]]}", "{}", "true");
	T_EVAL("{\"==\":[\"a\"]}", "{}", "false");
	T_EVAL("{\"==\":[null]}", "{}", "true");
	T_EVAL("{\"===\":[null]}", "{}", "false");
	T_EVAL("{\"===\":[1,1.0]}", "{}", "true");
	T_EVAL("{\"===\":[\"a\",\"a\"]}", "{}", "true");
	T_EVAL("{\"===\":[false,0]}", "{}", "false");
	T_EVAL("{\"!==\":[false,0]}", "{}", "true");
	T_EVAL("{\"!=\":[\"1\",1]}", "{}", "false");
	T_EVAL("{\"!=\":[\"abc\",\"abd\"]}", "{}", "true");

	/* relational */
	T_EVAL("{\"<\":[\"10\",\"9\"]}", "{}", "true");
	T_EVAL("{\"<\":[\"10\",9]}", "{}", "false");
	T_EVAL("{\"<\":[null,1]}", "{}", "true");
	T_EVAL("{\"<\":[\"a\",1]}", "{}", "false");
	T_EVAL("{\">=\":[\"a\",1]}", "{}", "false");
	T_EVAL("{\"<=\":[null,0]}", "{}", "true");
	T_EVAL("{\">\":[true,0]}", "{}", "true");
	T_EVAL("{\"<\":[[2],3]}", "{}", "true");
	T_EVAL("{\"<\":[\"B\",\"a\"]}", "{}", "true");
	T_EVAL("{\"<\":[\"\xc3\xa9\",\"z\"]}", "{}", "false");
	T_EVAL("{\"<\":[1,2,3]}", "{}", "true");
	T_EVAL("{\"<\":[1,3,3]}", "{}", "false");
	T_EVAL("{\"<=\":[1,3,3]}", "{}", "true");
	T_EVAL("{\"<=\":[1,4,3]}", "{}", "false");
	T_EVAL("{\">\":[3,2,1]}", "{}", "true");
	T_EVAL("{\">\":[1]}", "{}", "false");

	/* negation, logic */
	T_EVAL("{\"!\":[]}", "{}", "true");
	T_EVAL("{\"!!\":[]}", "{}", "false");
	T_EVAL("{\"!!\":[\"0\"]}", "{}", "true");
	T_EVAL("{\"!\":{\"var\":\"x\"}}", "{\"x\":{}}", "false");
	T_EVAL("{\"and\":[]}", "{}", "null");
	T_EVAL("{\"or\":[]}", "{}", "null");
	T_EVAL("{\"or\":[0,\"\",null]}", "{}", "null");
	T_EVAL("{\"and\":[1,\"a\",[1]]}", "{}", "[1]");
	T_EVAL("{\"or\":[false,{\"var\":\"x\"}]}", "{\"x\":\"found\"}", "\"found\"");

	/* arithmetic */
	T_EVAL("{\"+\":[]}", "{}", "0");
	T_EVAL("{\"+\":[\"3 dogs\",1]}", "{}", "4");
	T_EVAL("{\"+\":[\" 2.5e1x\",0]}", "{}", "25");
	T_EVAL("{\"+\":[true,1]}", "{}", "null");
	T_EVAL("{\"+\":[null,1]}", "{}", "null");
	T_EVAL("{\"+\":[[2,3],1]}", "{}", "3");
	T_EVAL("{\"+\":\"-7\"}", "{}", "-7");
	T_EVAL("{\"+\":[0.1,0.2]}", "{}", "0.30000000000000004");
	T_EVAL("{\"*\":[\"2\",\"3\"]}", "{}", "6");
	T_EVAL("{\"*\":[1e200,1e200]}", "{}", "null");
	T_EVAL_PREFIX("{\"*\":[]}", "{}", "COMPILE BAD_ARGUMENTS $.*:");
	T_EVAL("{\"-\":[\"3 dogs\",1]}", "{}", "null");
	T_EVAL("{\"-\":[\"5\",true]}", "{}", "4");
	T_EVAL("{\"-\":[null]}", "{}", "0");
	T_EVAL("{\"-\":[]}", "{}", "null");
	T_EVAL("{\"-\":[5,2,1]}", "{}", "3");
	T_EVAL("{\"/\":[1,0]}", "{}", "null");
	T_EVAL("{\"/\":[0,0]}", "{}", "null");
	T_EVAL("{\"/\":[1,3]}", "{}", "0.3333333333333333");
	T_EVAL("{\"/\":[\"\",2]}", "{}", "0");
	T_EVAL("{\"%\":[-7,3]}", "{}", "-1");
	T_EVAL("{\"%\":[7.5,2]}", "{}", "1.5");
	T_EVAL("{\"%\":[1,0]}", "{}", "null");
	T_EVAL("{\"if\":[{\"/\":[1,0]},\"inf is truthy\",\"no\"]}", "{}", "\"inf is truthy\"");
	T_EVAL("{\"if\":[{\"/\":[0,0]},\"yes\",\"NaN is falsy\"]}", "{}", "\"NaN is falsy\"");
	T_EVAL("[{\"/\":[1,0]},2]", "{}", "[null,2]");
	T_EVAL("{\"min\":[]}", "{}", "null");
	T_EVAL("{\"max\":[]}", "{}", "null");
	T_EVAL("{\"max\":[1,\"5\",3]}", "{}", "5");
	T_EVAL("{\"min\":[1,\"x\",3]}", "{}", "null");
	T_EVAL("{\"min\":[-1,null]}", "{}", "-1");

	/* very long numeric strings convert exactly, without allocating */
	{
		char	   *big = malloc(4000);
		char	   *rule = malloc(4100);
		char	   *data = malloc(4100);

		strcpy(big, "1");
		memset(big + 1, '0', 250);
		big[251] = '.';
		memset(big + 252, '0', 900);
		strcpy(big + 1152, "1");
		snprintf(data, 4100, "{\"s\":\"%s\"}", big);
		T_EVAL("{\"==\":[{\"var\":\"s\"},1e250]}", data, "true");
		strcpy(big, "0.");
		memset(big + 2, '0', 1200);
		strcpy(big + 1202, "1e1205");
		snprintf(data, 4100, "{\"s\":\"%s\"}", big);
		T_EVAL("{\"+\":[{\"var\":\"s\"},0]}", data, "10000");
		T_EVAL("{\"-\":[{\"var\":\"s\"},1]}", data, "9999");
		snprintf(rule, 4100, "{\"==\":[\"%s\",10000]}", big);
		T_EVAL(rule, "{}", "true");
		free(big);
		free(rule);
		free(data);
	}

	/* cat, substr */
	T_EVAL("{\"cat\":[]}", "{}", "\"\"");
	T_EVAL("{\"cat\":[null,true,1.5,[1,[2,null]],{\"var\":\"o\"}]}", "{\"o\":{}}", "\"true1.51,2,[object Object]\"");
	T_EVAL("{\"cat\":[1e21,0.0000001,-0]}", "{}", "\"1e+211e-70\"");
	T_EVAL("{\"cat\":[0.1,{\"+\":[0.1,0.2]}]}", "{}", "\"0.10.30000000000000004\"");
	T_EVAL("{\"substr\":[\"h\xc3\xa9llo\",1,3]}", "{}", "\"\xc3\xa9ll\"");
	T_EVAL("{\"substr\":[\"hello\",10]}", "{}", "\"\"");
	T_EVAL("{\"substr\":[\"hello\",-10]}", "{}", "\"hello\"");
	T_EVAL("{\"substr\":[\"hello\",1,-10]}", "{}", "\"\"");
	T_EVAL("{\"substr\":[\"hello\",0,null]}", "{}", "\"\"");
	T_EVAL("{\"substr\":[12345,1,2]}", "{}", "\"23\"");
	T_EVAL("{\"substr\":[null,1]}", "{}", "\"ull\"");
	T_EVAL("{\"substr\":[\"hello\"]}", "{}", "\"hello\"");
	T_EVAL("{\"substr\":[\"hello\",\"1\",\"2\"]}", "{}", "\"el\"");

	/* in */
	T_EVAL("{\"in\":[\"\",\"abc\"]}", "{}", "true");
	T_EVAL("{\"in\":[\"a\",\"\"]}", "{}", "false");
	T_EVAL("{\"in\":[1,\"a1b\"]}", "{}", "true");
	T_EVAL("{\"in\":[null,\"nullable\"]}", "{}", "true");
	T_EVAL("{\"in\":[1,[\"1\"]]}", "{}", "false");
	T_EVAL("{\"in\":[1,[0,1.0]]}", "{}", "true");
	T_EVAL("{\"in\":[[1],[[1]]]}", "{}", "true");
	T_EVAL("{\"in\":[\"a\",null]}", "{}", "false");
	T_EVAL("{\"in\":[\"a\",{\"var\":\"o\"}]}", "{\"o\":{\"a\":1}}", "false");
	T_EVAL("{\"in\":[\"a\"]}", "{}", "false");
	T_EVAL("{\"in\":[{\"var\":\"c\"},[\"US\",\"CA\",\"DE\",\"FR\",\"GB\"]]}", "{\"c\":\"FR\"}", "true");
	T_EVAL("{\"in\":[{\"var\":\"c\"},[\"US\",\"CA\",\"DE\",\"FR\",\"GB\"]]}", "{\"c\":\"JP\"}", "false");
	T_EVAL("{\"in\":[{\"var\":\"c\"},[\"US\",\"CA\",\"DE\",\"FR\",\"GB\"]]}", "{\"c\":1}", "false");
	T_EVAL("{\"in\":[{\"var\":\"c\"},[\"US\",\"CA\",\"DE\",\"FR\",\"\"]]}", "{\"c\":\"\"}", "true");

	/* merge */
	T_EVAL("{\"merge\":[[1,[2]],3,null,[]]}", "{}", "[1,[2],3,null]");

	/* map, filter, reduce, all, some, none */
	T_EVAL("{\"map\":[[1,2],{\"var\":\"\"}]}", "{}", "[1,2]");
	T_EVAL("{\"map\":[\"str\",{\"var\":\"\"}]}", "{}", "[]");
	T_EVAL("{\"map\":[{\"var\":\"xs\"},{\"+\":[{\"var\":\"\"},{\"var\":\"k\"}]}]}", "{\"xs\":[1],\"k\":5}", "[null]");
	T_EVAL("{\"filter\":[[0,1,\"\",\"a\",null,[]],{\"var\":\"\"}]}", "{}", "[1,\"a\"]");
	T_EVAL("{\"reduce\":[[1,2,3],{\"+\":[{\"var\":\"current\"},{\"var\":\"accumulator\"}]}]}", "{}", "null");
	T_EVAL("{\"reduce\":[[1,2,3],{\"cat\":[{\"var\":\"accumulator\"},{\"var\":\"current\"}]},\"\"]}", "{}", "\"123\"");
	T_EVAL("{\"reduce\":[[1],{\"var\":\"\"},0]}", "{}", "{\"current\":1,\"accumulator\":0}");
	T_EVAL("{\"reduce\":[5,{\"var\":\"current\"},\"init\"]}", "{}", "\"init\"");
	T_EVAL("{\"all\":[[],true]}", "{}", "false");
	T_EVAL("{\"all\":[null,true]}", "{}", "false");
	T_EVAL("{\"some\":[null,true]}", "{}", "false");
	T_EVAL("{\"none\":[null,true]}", "{}", "true");
	T_EVAL("{\"all\":[[[1],[2]],{\"var\":\"0\"}]}", "{}", "true");
	T_EVAL("{\"some\":[{\"var\":\"xs\"},{\"in\":[2,{\"var\":\"a\"}]}]}", "{\"xs\":[{\"a\":[1,2]}]}", "true");
	T_EVAL_PREFIX("{\"map\":[[1]]}", "{}", "COMPILE BAD_ARGUMENTS $.map: map takes 2 arguments");
	T_EVAL_PREFIX("{\"reduce\":[[1]]}", "{}", "COMPILE BAD_ARGUMENTS $.reduce:");

	/*
	 * From mutation testing (hP): signed numeric strings in comparisons,
	 * the edges of number parsing (a lone dot, no integer or fraction
	 * digits, NBSP, BOM and the line separators as whitespace, U+2010 not),
	 * parseFloat of empty and nested arrays, objects of different sizes,
	 * NaN and Infinity in cat, a string against an object, in on strings.
	 */
	T_EVAL("{\"==\":[-5,\"-5\"]}", "{}", "true");
	T_EVAL("{\"==\":[\"+5\",5]}", "{}", "true");
	T_EVAL("{\"<\":[\"-1\",0]}", "{}", "true");
	T_EVAL("{\"+\":[\".\"]}", "{}", "null");
	T_EVAL("{\"+\":[\".5\"]}", "{}", "0.5");
	T_EVAL("{\"+\":[\"5.\"]}", "{}", "5");
	T_EVAL("{\"+\":[\"-.5\"]}", "{}", "-0.5");
	T_EVAL("{\"+\":[\"+.5e1\"]}", "{}", "5");
	T_EVAL("{\"+\":[\"\\u00a05\"]}", "{}", "5");
	T_EVAL("{\"+\":[\"\\u20105\"]}", "{}", "null");
	T_EVAL("{\"+\":[\"\\u20295\"]}", "{}", "5");
	T_EVAL("{\"+\":[\"\\ufeff5\"]}", "{}", "5");
	T_EVAL("{\"*\":[[],2]}", "{}", "null");
	T_EVAL("{\"*\":[[[]],2]}", "{}", "null");
	T_EVAL("{\"*\":[[\"3\"],2]}", "{}", "6");
	T_EVAL("{\"===\":[{\"var\":\"a\"},{\"var\":\"b\"}]}", "{\"a\":{\"x\":1},\"b\":{\"x\":1,\"y\":2}}", "false");
	T_EVAL("{\"===\":[{\"var\":\"b\"},{\"var\":\"a\"}]}", "{\"a\":{\"x\":1},\"b\":{\"x\":1,\"y\":2}}", "false");
	T_EVAL("{\"cat\":[{\"/\":[0,0]}]}", "{}", "\"NaN\"");
	T_EVAL("{\"cat\":[\"a\",{\"/\":[1,0]}]}", "{}", "\"aInfinity\"");
	T_EVAL("{\">\":[\"a\",{\"var\":\"o\"}]}", "{\"o\":{}}", "true");
	T_EVAL("{\"<\":[\"a\",{\"var\":\"o\"}]}", "{\"o\":{}}", "false");
	T_EVAL("{\"==\":[\"-5\",\"-5\"]}", "{}", "true");
	T_EVAL("{\"<\":[\"+1\",\"2\"]}", "{}", "true");
	T_EVAL("{\"<\":[\"+1\",2]}", "{}", "true");
	T_EVAL("{\"in\":[5,\"a5b\"]}", "{}", "true");
	T_EVAL("{\"in\":[\"b5\",\"ab5\"]}", "{}", "true");
	T_EVAL("{\"in\":[\"ab5\",\"ab5\"]}", "{}", "true");
	T_EVAL("{\"in\":[\"\",\"ab\"]}", "{}", "true");

	/* arrays containing rules, literals */
	T_EVAL("[1,{\"var\":\"x\"},[{\"var\":\"y\"}]]", "{\"x\":2,\"y\":3}", "[1,2,[3]]");
	T_EVAL("{}", "{}", "{}");
	T_EVAL("\"plain\"", "{}", "\"plain\"");
}

/*
 * test_bytes_equal checks JLBytesEqual against memcmp for every length up
 * to 24 (its word-load branches cover 4-16) with one byte changed at every
 * position, so a missed byte in the overlapping loads would show.
 */
void
test_bytes_equal(void)
{
	char		a[32];
	char		b[32];
	size_t		len;
	size_t		pos;

	for (len = 0; len <= 24; len++)
	{
		for (pos = 0; pos < len; pos++)
			a[pos] = b[pos] = (char) ('a' + pos);
		T_CHECK(JLBytesEqual(a, b, len), "JLBytesEqual: equal strings of %zu bytes", len);
		for (pos = 0; pos < len; pos++)
		{
			b[pos] = 'Z';
			T_CHECK(!JLBytesEqual(a, b, len),
					"JLBytesEqual: %zu bytes differing at byte %zu", len, pos);
			b[pos] = a[pos];
		}
	}
}

/*
 * test_compile checks that compile errors name the path and the problem.
 */
void
test_compile(void)
{
	JLArena    *arena = JLArenaCreate(NULL);
	JLError		err;
	JLCompileOptions o = {0};
	const JLValue *v;
	JLRule	   *r;
	int			i;
	char	   *deep;

	t_reset();
	T_EVAL("{\"nope\":[1]}", "{}", "COMPILE UNKNOWN_OPERATOR $: unknown operator \"nope\"");
	/* long names are cut at 60 bytes, never inside a UTF-8 character */
	T_EVAL("{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\u00e9x\":[1]}", "{}", "COMPILE UNKNOWN_OPERATOR $: unknown operator \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"");
	T_EVAL("{\"$ref\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\u00e9x\"}", "{}",
		   "COMPILE UNKNOWN_OPERATOR $: unknown operator \"$ref\": the flagd shared rule \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" was not resolved");
	T_EVAL("{\"if\":[true,{\"and\":[{\"bogus\":1}]}]}", "{}",
		   "COMPILE UNKNOWN_OPERATOR $.if[1].and[0]: unknown operator \"bogus\"");
	T_EVAL("{\"?:\":[true,1,2]}", "{}", "COMPILE UNKNOWN_OPERATOR $: unknown operator \"?:\"; use \"if\" instead");
	t_ternary = true;
	T_EVAL("{\"?:\":[true,1,2]}", "{}", "1");
	t_ternary = false;
	T_EVAL("{\"a\":1,\"b\":2}", "{}",
		   "COMPILE BAD_ARGUMENTS $: a rule object must have exactly one key (the operator), found 2 keys (\"a\", \"b\")");
	T_EVAL("[1,{\"==\":[1,1],\"x\":2}]", "{}",
		   "COMPILE BAD_ARGUMENTS $[1]: a rule object must have exactly one key (the operator), found 2 keys (\"x\", \"==\")");
	T_EVAL("{\"$ref\":\"shared\"}", "{}", "COMPILE UNKNOWN_OPERATOR $: unknown operator \"$ref\": the flagd shared rule \"shared\" was not resolved");
	T_EVAL("{\"$ref\":1}", "{}", "COMPILE UNKNOWN_OPERATOR $: unknown operator \"$ref\"");
	T_EVAL("{\"var\":\"$flagd.nope\"}", "{}",
		   "COMPILE BAD_ARGUMENTS $.var: var path \"$flagd.nope\" references an unknown $flagd property; only $flagd.flagKey and $flagd.timestamp exist");
	T_EVAL("{\"var\":[\"$flagd.flagKey.x\",1]}", "{}",
		   "COMPILE BAD_ARGUMENTS $.var: var path \"$flagd.flagKey.x\" references an unknown $flagd property; only $flagd.flagKey and $flagd.timestamp exist");

	/* errors that the generic hints do not fit carry their own */
	{
		static const struct
		{
			const char *rule;
			const char *hint_part;	/* NULL: no hint of its own */
		}			hints[] = {
			{"{\"a\":1,\"b\":2}", "{\"and\": [...]}"},
			{"{\"var\":\"$flagd.nope\"}", "without the \"$flagd.\" prefix"},
			{"{\"fractional\":[[\"a\",2.5]]}", "whole numbers from 0 up"},
			{"{\"fractional\":[[\"a\",-1]]}", "whole numbers from 0 up"},
			{"{\"fractional\":[[\"a\",\"1\"]]}", "whole numbers from 0 up"},
			{"{\"fractional\":[[\"a\",2147483647],[\"b\",1]]}", "only their ratios count"},
			{"{\"fractional\":[\"k\"]}", "[\"variant\", weight] arrays"},
			{"{\"fractional\":[1,[\"a\",1]]}", "optional bucketing value"},
			{"{\"fractional\":[[\"a\",1,2]]}", "[\"variant\", weight] arrays"},
			{"{\"sem_ver\":[\"1.0.0\",\"===\",\"1.0.0\"]}", "literal string between the two versions"},
			{"{\"sem_ver\":[\"1.0.0\",1,\"1.0.0\"]}", "literal string between the two versions"},
			{"{\"in_segment\":[{\"var\":\"s\"}]}", "{\"in_segment\": \"beta\"}"},
			{"{\"sem_ver\":[\"1.0.0\",\"=\"]}", NULL},
			{"{\"substr\":[\"a\",1,2,3]}", NULL},
			{"{\"nope\":1}", NULL},
			/* the first error keeps its hint; the later ones are not recorded */
			{"{\"and\":[{\"a\":1,\"b\":2},{\"nope\":1}]}", "{\"and\": [...]}"},
		};
		JLCompileOptions so = {0};

		so.allow_segments = true;
		for (i = 0; i < (int) (sizeof(hints) / sizeof(hints[0])); i++)
		{
			v = t_parse_in(arena, hints[i].rule, &err);
			err.hint = "stale";
			r = v ? JLCompile(arena, v, &so, &err) : NULL;
			if (hints[i].hint_part == NULL)
				T_CHECK(r == NULL && err.code != JL_OK && err.hint == NULL,
						"%s: no hint of its own expected, got %s", hints[i].rule,
						err.hint ? err.hint : "(none)");
			else
				T_CHECK(r == NULL && err.hint != NULL && strstr(err.hint, hints[i].hint_part) != NULL,
						"%s: hint containing %s expected, got %s (%s)", hints[i].rule,
						hints[i].hint_part, err.hint ? err.hint : "(none)", err.message);
		}
	}

	/* in_segment needs allow_segments */
	v = t_parse_in(arena, "{\"in_segment\":\"beta\"}", &err);
	r = JLCompile(arena, v, &o, &err);
	T_CHECK(r == NULL && err.code == JL_ERR_UNKNOWN_OPERATOR &&
			strstr(err.message, "in_segment") != NULL, "in_segment without allow_segments: %s", err.message);

	/* depth limits */
	deep = malloc(10000);
	deep[0] = '\0';
	for (i = 0; i < 200; i++)
		strcat(deep, "{\"!\":");
	strcat(deep, "true");
	for (i = 0; i < 200; i++)
		strcat(deep, "}");
	v = JLParse(arena, deep, strlen(deep), 1000, &err);
	T_CHECK(v != NULL, "deep JSON parses with a high limit");
	o.max_depth = 100;
	r = JLCompile(arena, v, &o, &err);
	T_CHECK(r == NULL && err.code == JL_ERR_TOO_DEEP, "compile depth limit: %s", err.message);
	o.max_depth = 1000;
	r = JLCompile(arena, v, &o, &err);
	T_CHECK(r != NULL, "compiles with a high limit");
	if (r)
	{
		JLContext	ctx;
		const JLValue *res;

		JLContextInitValue(&ctx, &JLNullValue);
		ctx.max_depth = 50;
		res = JLEvaluate(r, &ctx, arena, &err);
		T_CHECK(res == NULL && err.code == JL_ERR_TOO_DEEP && strstr(err.message, "50") != NULL,
				"evaluation depth limit: %s", err.message);
		ctx.max_depth = 500;
		res = JLEvaluate(r, &ctx, arena, &err);
		T_CHECK(res != NULL && res->type == JL_BOOL && res->u.boolean, "200 negations of true");
	}
	free(deep);

	/*
	 * the string form of nested arrays stops at 256 levels (README,
	 * deliberate difference 11): 256 arrays around 1 join to "1", 257 to ""
	 */
	{
		static const int levels[2] = {256, 257};
		static const char *const want[2] = {"1", ""};
		int			k;

		for (k = 0; k < 2; k++)
		{
			char	   *data = malloc(2 * 300 + 16);
			const JLValue *d;
			const JLValue *res;
			JLContext	ctx;

			strcpy(data, "{\"a\":");
			for (i = 0; i < levels[k]; i++)
				strcat(data, "[");
			strcat(data, "1");
			for (i = 0; i < levels[k]; i++)
				strcat(data, "]");
			strcat(data, "}");
			d = JLParse(arena, data, strlen(data), 1000, &err);
			v = t_parse_in(arena, "{\"cat\":[{\"var\":\"a\"}]}", &err);
			o.max_depth = 0;
			r = (d && v) ? JLCompile(arena, v, &o, &err) : NULL;
			res = NULL;
			if (r)
			{
				JLContextInitValue(&ctx, d);
				res = JLEvaluate(r, &ctx, arena, &err);
			}
			T_CHECK(res != NULL && res->type == JL_STRING &&
					res->u.string.len == strlen(want[k]) &&
					memcmp(res->u.string.ptr, want[k], res->u.string.len) == 0,
					"cat of %d nested arrays around 1 is \"%s\"", levels[k], want[k]);
			free(data);
		}
	}

	/* literal results */
	{
		static char seen[512];

		v = t_parse_in(arena, "{\"if\":[{\"var\":\"a\"},\"x\",{\"==\":[1,1]},{\"fractional\":[[\"y\",1],[\"z\",1]]},null]}", &err);
		o.max_depth = 0;
		r = v ? JLCompile(arena, v, &o, &err) : NULL;
		T_CHECK(r != NULL, "literal results rule compiles: %s", err.message);
		if (r)
		{
			seen[0] = '\0';
			T_CHECK(JLRuleLiteralResults(r, collect, seen), "all results literal");
			T_CHECK(strcmp(seen, "\"x\"@$.if[1] \"y\"@$.if[3].fractional[0][0] \"z\"@$.if[3].fractional[1][0] ") == 0,
					"literal results: %s", seen);
		}
		v = t_parse_in(arena, "{\"if\":[true,{\"var\":\"v\"},\"n\"]}", &err);
		r = v ? JLCompile(arena, v, &o, &err) : NULL;
		seen[0] = '\0';
		T_CHECK(r && !JLRuleLiteralResults(r, collect, seen) && strcmp(seen, "\"n\"@$.if[2] ") == 0,
				"computed results are reported as incomplete: %s", seen);
		v = t_parse_in(arena, "{\"starts_with\":[{\"var\":\"e\"},\"a\"]}", &err);
		r = v ? JLCompile(arena, v, &o, &err) : NULL;
		seen[0] = '\0';
		T_CHECK(r && JLRuleLiteralResults(r, collect, seen) &&
				strcmp(seen, "true@$.starts_with false@$.starts_with ") == 0,
				"boolean operators report true and false: %s", seen);
	}
	JLArenaDestroy(arena);
}

/*
 * collect appends "literal@path " to the buffer in arg.
 */
static void
collect(void *arg, const JLValue *lit, const char *path)
{
	char	   *buf = arg;
	JLArena    *a = JLArenaCreate(NULL);

	snprintf(buf + strlen(buf), 512 - strlen(buf), "%s@%s ", JLSerialize(a, lit, NULL), path);
	JLArenaDestroy(a);
}
