/*
 * ketama_ref: libmemcached itself, as the oracle for package ketama's tests.
 * The tests build it with `cc ketama_ref.c -lmemcached` (libmemcached-dev,
 * installed by `make deps`).
 *
 * Usage:
 *   ketama_ref place [-dead I]... HOST PORT WEIGHT [HOST PORT WEIGHT]...
 *   ketama_ref set   [-eject]     HOST PORT WEIGHT [HOST PORT WEIGHT]...
 *
 * Servers are added in argument order with memcached_server_add_with_weight
 * under MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED (what PHP's
 * OPT_LIBKETAMA_COMPATIBLE sets). Keys arrive on stdin, one per line,
 * hex-encoded so that any byte (NUL, CR, LF) can be a key byte.
 *
 * place: contacts nothing. For each key prints the server index
 *   memcached_generate_hash picks. Each -dead I marks server I as ejected the
 *   way libmemcached's own auto-eject does (next_retry in the future with
 *   REMOVE_FAILED_SERVERS on) and rebuilds the continuum, so the output is
 *   where libmemcached sends keys while that server is ejected.
 * set: memcached_set(key, "1") on the real servers; for each key prints
 *   "RC INDEX": libmemcached's return code (0 = stored) and the index
 *   memcached_generate_hash gives right after the attempt. With -eject,
 *   REMOVE_FAILED_SERVERS is on with a failure limit of 1 and a long dead
 *   timeout, so a server that refuses connections is ejected on its first
 *   failure and the continuum rebuilt without it.
 *
 * Exit status: 0 on success, 2 on bad usage or input, 3 if libmemcached
 * refuses a setting or a server.
 */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

static int hexval(int c) {
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* unhex decodes line in place; returns the byte count or -1 if malformed. */
static long unhex(char *line, size_t n) {
	if (n % 2) return -1;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval((unsigned char) line[i]), lo = hexval((unsigned char) line[i + 1]);
		if (hi < 0 || lo < 0) return -1;
		line[i / 2] = (char) (hi << 4 | lo);
	}
	return (long) (n / 2);
}

static int usage(void) {
	fprintf(stderr, "usage: ketama_ref place [-dead I]... | set [-eject]  HOST PORT WEIGHT...\n");
	return 2;
}

int main(int argc, char **argv) {
	if (argc < 2) return usage();
	int set = strcmp(argv[1], "set") == 0;
	if (!set && strcmp(argv[1], "place") != 0) return usage();

	int dead[1024], ndead = 0, eject = 0, a = 2;
	for (; a < argc && argv[a][0] == '-'; a++) {
		if (!set && strcmp(argv[a], "-dead") == 0 && a + 1 < argc && ndead < 1024) {
			dead[ndead++] = atoi(argv[++a]);
		} else if (set && strcmp(argv[a], "-eject") == 0) {
			eject = 1;
		} else {
			return usage();
		}
	}
	if (argc - a < 3 || (argc - a) % 3 != 0) return usage();

	memcached_st *m = memcached_create(NULL);
	if (memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1) != MEMCACHED_SUCCESS) return 3;
	for (; a < argc; a += 3) {
		unsigned long port = strtoul(argv[a + 1], NULL, 10);
		unsigned long weight = strtoul(argv[a + 2], NULL, 10);
		if (memcached_server_add_with_weight(m, argv[a], (in_port_t) port, (uint32_t) weight)
		    != MEMCACHED_SUCCESS)
			return 3;
	}

	if (ndead > 0) {
		if (memcached_behavior_set(m, MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 1) != MEMCACHED_SUCCESS)
			return 3;
		for (int i = 0; i < ndead; i++) {
			if (dead[i] < 0 || (uint32_t) dead[i] >= memcached_server_count(m)) return 2;
			memcached_instance_next_retry(memcached_server_instance_by_position(m, (uint32_t) dead[i]),
			                              time(NULL) + 3600);
		}
		/* Setting the distribution again runs run_distribution → update_continuum,
		 * which skips servers whose next_retry lies in the future. */
		if (memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1) != MEMCACHED_SUCCESS) return 3;
	}
	if (eject) {
		if (memcached_behavior_set(m, MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 1) != MEMCACHED_SUCCESS
		    || memcached_behavior_set(m, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 1) != MEMCACHED_SUCCESS
		    || memcached_behavior_set(m, MEMCACHED_BEHAVIOR_DEAD_TIMEOUT, 3600) != MEMCACHED_SUCCESS
		    || memcached_behavior_set(m, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 3600) != MEMCACHED_SUCCESS)
			return 3;
	}
	if (set) {
		if (memcached_behavior_set(m, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, 2000) != MEMCACHED_SUCCESS
		    || memcached_behavior_set(m, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, 2000) != MEMCACHED_SUCCESS)
			return 3;
	}

	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	while ((got = getline(&line, &cap, stdin)) >= 0) {
		size_t n = (size_t) got;
		if (n && line[n - 1] == '\n') n--;
		long klen = unhex(line, n);
		if (klen < 0) return 2;
		if (set) {
			memcached_return_t rc = memcached_set(m, line, (size_t) klen, "1", 1, 0, 0);
			printf("%d %u\n", (int) rc, memcached_generate_hash(m, line, (size_t) klen));
		} else {
			printf("%u\n", memcached_generate_hash(m, line, (size_t) klen));
		}
	}
	free(line);
	memcached_free(m);
	return fflush(stdout) == 0 ? 0 : 2;
}
