/*-------------------------------------------------------------------------
 *
 * fuzz_corpus_gen.c
 *	  Build the fuzzer's seed corpus from the jsonlogic.com test list.
 *
 * Usage: fuzz-corpus-gen <tests.json> <output directory>
 * Writes one file per test case ("[rule, data]") plus flagd-specific
 * seeds (fractional, sem_ver, starts_with/ends_with, in_segment, $flagd).
 * The corpus lives under build/ and is never committed.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * test/core/fuzz_corpus_gen.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonlogic.h"

static const char *const extra_seeds[] = {
	"[{\"if\":[{\"ends_with\":[{\"var\":\"email\"},\"@example.com\"]},\"on\",{\"and\":[{\"in\":[{\"var\":\"country\"},[\"US\",\"CA\"]]},{\"==\":[{\"var\":\"plan\"},\"pro\"]}]},\"on\",{\"fractional\":[{\"var\":\"targetingKey\"},[\"on\",50],[\"off\",50]]}]},{\"targetingKey\":\"user-3\",\"country\":\"FR\",\"plan\":\"pro\",\"email\":\"u3@mail.test\"}]",
	"[{\"if\":[{\"sem_ver\":[{\"var\":\"app_version\"},\">=\",\"2.3.0\"]},\"neon\",{\"==\":[{\"var\":\"country\"},\"DE\"]},\"dark\"]},{\"app_version\":\"2.3.0-rc.1+b\"}]",
	"[{\"fractional\":[[\"heads\"],[\"tails\",1]]},{\"targetingKey\":\"jon@company.com\"}]",
	"[{\"fractional\":[{\"cat\":[{\"var\":\"$flagd.flagKey\"},{\"var\":\"user.name\"}]},[\"clubs\",25],[\"diamonds\",25],[\"hearts\",25],[\"spades\",25]]},{\"user\":{\"name\":\"jack\"}}]",
	"[{\"sem_ver\":[{\"var\":\"v\"},\"~\",\"v1.2\"]},{\"v\":1.2}]",
	"[{\"starts_with\":[{\"var\":\"e\"},\"a\"]},{\"e\":\"abc\"}]",
	"[{\"in_segment\":[\"self\",{\"cat\":[{\"var\":\"targetingKey\"},\"x\"]}]},{\"targetingKey\":\"k\"}]",
	"[{\"or\":[{\"in_segment\":\"in\"},{\"in_segment\":\"out\"},{\"in_segment\":\"none\"},{\"in_segment\":\"self\"}]},{\"targetingKey\":\"k\"}]",
	"[{\"var\":\"\"},{\"$flagd\":1,\"a\":[1,2]}]",
	"[{\"reduce\":[{\"var\":\"xs\"},{\"+\":[{\"var\":\"current\"},{\"var\":\"accumulator\"}]},0]},{\"xs\":[1,2,3]}]",
	"[{\"substr\":[\"h\\u00e9llo\",-3,-1]},null]",
	"[{\"cat\":[1e21,0.1,{\"/\":[1,0]}]},null]",
	NULL
};

/*
 * write_file writes one corpus file.
 */
static int
write_file(const char *dir, int n, const char *text, size_t len)
{
	char		path[4096];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/seed-%04d.json", dir, n);
	f = fopen(path, "wb");
	if (f == NULL)
	{
		fprintf(stderr, "cannot write %s\n", path);
		return 0;
	}
	fwrite(text, 1, len, f);
	fclose(f);
	return 1;
}

/*
 * main reads tests.json and writes the corpus.
 */
int
main(int argc, char **argv)
{
	FILE	   *f;
	char	   *buf;
	long		len;
	JLArena    *arena;
	JLError		err;
	const JLValue *all;
	int			n = 0;
	size_t		i;

	if (argc != 3)
	{
		fprintf(stderr, "usage: %s <tests.json> <output directory>\n", argv[0]);
		return 2;
	}
	arena = JLArenaCreate(NULL);
	for (i = 0; extra_seeds[i] != NULL; i++)
		n += write_file(argv[2], n, extra_seeds[i], strlen(extra_seeds[i]));
	f = fopen(argv[1], "rb");
	if (f == NULL)
	{
		fprintf(stderr, "cannot read %s (expected at ../shared/conformance/jsonlogic/tests.json); only the %d built-in seeds were written\n",
				argv[1], n);
		return 0;
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) len + 1);
	if (buf == NULL || fread(buf, 1, (size_t) len, f) != (size_t) len)
		return 1;
	fclose(f);
	all = JLParse(arena, buf, (size_t) len, 0, &err);
	if (all == NULL || all->type != JL_ARRAY)
	{
		fprintf(stderr, "%s: %s\n", argv[1], all ? "not an array" : err.message);
		return 1;
	}
	for (i = 0; i < all->u.array.count; i++)
	{
		const JLValue *c = all->u.array.items[i];
		const JLValue *pair[2];
		JLValue    *arr;
		size_t		tlen;
		char	   *text;

		if (c->type != JL_ARRAY || c->u.array.count != 3)
			continue;
		pair[0] = c->u.array.items[0];
		pair[1] = c->u.array.items[1];
		arr = JLMakeArray(arena, pair, 2);
		text = JLSerialize(arena, arr, &tlen);
		if (text)
			n += write_file(argv[2], n, text, tlen);
	}
	printf("wrote %d seeds to %s\n", n, argv[2]);
	free(buf);
	JLArenaDestroy(arena);
	return 0;
}
