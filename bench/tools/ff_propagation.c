/*-------------------------------------------------------------------------
 *
 * ff_propagation.c
 *	  Change-propagation probe of the feature_flags benchmark (target f).
 *
 * Three libpq connections to the same database, over TCP loopback:
 *
 *	writer	 flips the default variant of one string flag per trial, in its
 *			 own transaction (BEGIN; UPDATE ff.flags ...; COMMIT);
 *	listener LISTENs on the notification channel;
 *	reader	 with a warm per-backend cache, evaluates the flag with
 *			 ff.get_string() as its very next statement after the commit
 *			 returned, and checks that it sees the new value.
 *
 * The COMMIT is sent asynchronously and both sockets are watched with
 * poll(), so the time at which the notification arrives is taken when it
 * arrives, not when the writer's acknowledgement has been read.  Latencies
 * are measured from the moment COMMIT is sent.
 *
 * Usage:
 *	ff_propagation CONNINFO TRIALS ENVIRONMENT FLAG CHANNEL
 *
 * Output: one line of key=value pairs (microseconds) on stdout; diagnostics
 * on stderr.  Exit status 0 when the probe ran (stale results or missing
 * notifications are reported, not judged), 1 on any connection/SQL error.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * bench/tools/ff_propagation.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

/* PropNowUs returns microseconds on the monotonic clock */
static double
PropNowUs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* PropDie prints the connection's error and exits */
static void
PropDie(PGconn *conn, const char *what)
{
	fprintf(stderr, "ff_propagation: %s: %s", what,
			conn ? PQerrorMessage(conn) : "(no connection)\n");
	exit(1);
}

/* PropConnect opens one connection or exits */
static PGconn *
PropConnect(const char *conninfo)
{
	PGconn	   *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK)
		PropDie(conn, "connect");
	return conn;
}

/* PropExec runs a command that must succeed, returning its result */
static PGresult *
PropExec(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "ff_propagation: query failed: %s\n  %s", sql,
				PQerrorMessage(conn));
		exit(1);
	}
	return res;
}

/* PropCompare orders doubles for qsort */
static int
PropCompare(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* PropPercentile returns the p-th percentile (nearest rank) of sorted v[n] */
static double
PropPercentile(const double *v, int n, double p)
{
	int			rank;

	if (n <= 0)
		return -1;
	rank = (int) (p / 100.0 * n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/* main runs the trials and prints the summary line */
int
main(int argc, char **argv)
{
	const char *conninfo;
	int			trials;
	const char *env;
	const char *flag;
	const char *channel;
	PGconn	   *writer;
	PGconn	   *listener;
	PGconn	   *reader;
	PGresult   *res;
	const char *params[3];
	char		listen_sql[256];
	double	   *notify_us;
	double	   *commit_us;
	double	   *read_us;
	int			n_notify = 0;
	int			stale = 0;
	int			missing = 0;
	long		notifications = 0;
	int			t;

	if (argc != 6)
	{
		fprintf(stderr, "usage: %s CONNINFO TRIALS ENVIRONMENT FLAG CHANNEL\n", argv[0]);
		return 2;
	}
	conninfo = argv[1];
	trials = atoi(argv[2]);
	env = argv[3];
	flag = argv[4];
	channel = argv[5];
	if (trials <= 0 || strlen(channel) > 200)
	{
		fprintf(stderr, "ff_propagation: bad TRIALS or CHANNEL\n");
		return 2;
	}

	notify_us = calloc(trials, sizeof(double));
	commit_us = calloc(trials, sizeof(double));
	read_us = calloc(trials, sizeof(double));
	if (!notify_us || !commit_us || !read_us)
		return 1;

	writer = PropConnect(conninfo);
	listener = PropConnect(conninfo);
	reader = PropConnect(conninfo);

	snprintf(listen_sql, sizeof(listen_sql), "LISTEN \"%s\"", channel);
	PQclear(PropExec(listener, listen_sql));

	res = PQprepare(writer, "flip",
					"UPDATE ff.flags SET default_variant = $3 "
					"WHERE environment = $1 AND key = $2", 3, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		PropDie(writer, "prepare flip");
	PQclear(res);
	res = PQprepare(reader, "read",
					"SELECT ff.get_string($1, '{}'::jsonb, 'DEFAULT-RETURNED', $2)",
					2, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		PropDie(reader, "prepare read");
	PQclear(res);

	/* warm the reader's cache */
	params[0] = flag;
	params[1] = env;
	res = PQexecPrepared(reader, "read", 2, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		PropDie(reader, "warm-up read");
	PQclear(res);

	for (t = 0; t < trials; t++)
	{
		const char *want = (t % 2 == 0) ? "b" : "a";
		double		t0;
		bool		got_notify = false;
		bool		got_commit = false;
		PGnotify   *nf;

		PQclear(PropExec(writer, "BEGIN"));
		params[0] = env;
		params[1] = flag;
		params[2] = want;
		res = PQexecPrepared(writer, "flip", 3, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK || strcmp(PQcmdTuples(res), "1") != 0)
			PropDie(writer, "flip (expected exactly one row)");
		PQclear(res);

		t0 = PropNowUs();
		if (!PQsendQuery(writer, "COMMIT"))
			PropDie(writer, "send COMMIT");

		while (!got_notify || !got_commit)
		{
			struct pollfd pfd[2];
			int			np = 0;
			int			rc;
			int			wait_ms = 2000;

			if (!got_commit)
			{
				pfd[np].fd = PQsocket(writer);
				pfd[np].events = POLLIN;
				np++;
			}
			if (!got_notify)
			{
				pfd[np].fd = PQsocket(listener);
				pfd[np].events = POLLIN;
				np++;
			}
			rc = poll(pfd, np, wait_ms);
			if (rc < 0 && errno != EINTR)
				PropDie(NULL, "poll");
			if (rc == 0)
			{
				/* 2 s without news: count the notification as missing */
				if (!got_commit)
					PropDie(writer, "COMMIT did not return within 2 s");
				missing++;
				break;
			}
			if (!got_notify)
			{
				if (!PQconsumeInput(listener))
					PropDie(listener, "listener input");
				while ((nf = PQnotifies(listener)) != NULL)
				{
					if (!got_notify)
					{
						notify_us[n_notify++] = PropNowUs() - t0;
						got_notify = true;
					}
					notifications++;
					PQfreemem(nf);
				}
			}
			if (!got_commit)
			{
				if (!PQconsumeInput(writer))
					PropDie(writer, "writer input");
				while (!PQisBusy(writer))
				{
					res = PQgetResult(writer);
					if (res == NULL)
					{
						got_commit = true;
						commit_us[t] = PropNowUs() - t0;
						break;
					}
					if (PQresultStatus(res) != PGRES_COMMAND_OK)
						PropDie(writer, "COMMIT");
					PQclear(res);
				}
			}
		}

		/* the reader's very next statement must see the committed value */
		{
			double		r0 = PropNowUs();
			const char *got;

			params[0] = flag;
			params[1] = env;
			res = PQexecPrepared(reader, "read", 2, params, NULL, NULL, 0);
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
				PropDie(reader, "read");
			read_us[t] = PropNowUs() - r0;
			got = PQgetvalue(res, 0, 0);
			if (strcmp(got, want) != 0)
			{
				if (stale < 5)
					fprintf(stderr, "ff_propagation: trial %d: stale read \"%s\", expected \"%s\"\n",
							t, got, want);
				stale++;
			}
			PQclear(res);
		}
	}

	/* late or duplicate notifications still in flight */
	{
		struct pollfd pfd;
		PGnotify   *nf;

		pfd.fd = PQsocket(listener);
		pfd.events = POLLIN;
		while (poll(&pfd, 1, 200) > 0)
		{
			if (!PQconsumeInput(listener))
				break;
			while ((nf = PQnotifies(listener)) != NULL)
			{
				notifications++;
				PQfreemem(nf);
			}
		}
	}

	qsort(notify_us, n_notify, sizeof(double), PropCompare);
	qsort(commit_us, trials, sizeof(double), PropCompare);
	qsort(read_us, trials, sizeof(double), PropCompare);
	printf("trials=%d stale=%d missing_notify=%d notifications=%ld "
		   "notify_p50_us=%.1f notify_p99_us=%.1f notify_max_us=%.1f "
		   "commit_p50_us=%.1f commit_p99_us=%.1f read_p50_us=%.1f read_p99_us=%.1f\n",
		   trials, stale, missing, notifications,
		   PropPercentile(notify_us, n_notify, 50), PropPercentile(notify_us, n_notify, 99),
		   n_notify ? notify_us[n_notify - 1] : -1.0,
		   PropPercentile(commit_us, trials, 50), PropPercentile(commit_us, trials, 99),
		   PropPercentile(read_us, trials, 50), PropPercentile(read_us, trials, 99));

	PQfinish(writer);
	PQfinish(listener);
	PQfinish(reader);
	return 0;
}
