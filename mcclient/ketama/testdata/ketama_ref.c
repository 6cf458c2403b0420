/* Prints, for each key on stdin (one Go-quoted-free raw key per line), the
 * index libmemcached's MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED ring places it on.
 * argv[1..]: servers as host:port:weight. Nothing is contacted. */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
	memcached_st *m = memcached_create(NULL);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
	for (int i = 1; i < argc; i++) {
		char host[256]; unsigned port = 11211, weight = 1;
		if (sscanf(argv[i], "%255[^:]:%u:%u", host, &port, &weight) < 2) return 2;
		if (memcached_server_add_with_weight(m, host, port, weight) != MEMCACHED_SUCCESS) return 3;
	}
	char line[8192];
	while (fgets(line, sizeof line, stdin)) {
		size_t n = strlen(line);
		if (n && line[n-1] == '\n') line[--n] = 0;
		printf("%u\n", memcached_generate_hash(m, line, n));
	}
	memcached_free(m);
	return 0;
}
