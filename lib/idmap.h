/* A small open-addressing hash map from 64-bit keys to pointers, for the id tables on the
 * data path (stream ids, request ids). O(1) per operation, no allocation per entry. */
#ifndef MCPGATE_IDMAP_H
#define MCPGATE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap_slot {
	uint64_t key;
	void *value; /* NULL = empty; the tombstone marker = deleted */
};

struct idmap {
	struct idmap_slot *slots;
	size_t cap;   /* a power of two */
	size_t used;  /* live entries */
	size_t dead;  /* tombstones */
};

void idmap_init(struct idmap *m);
void idmap_free(struct idmap *m);
/* Inserts or replaces; value must not be NULL. Returns 0 or -1 (out of memory). */
int idmap_put(struct idmap *m, uint64_t key, void *value);
void *idmap_get(const struct idmap *m, uint64_t key);
/* Removes and returns the value, or NULL. */
void *idmap_del(struct idmap *m, uint64_t key);
size_t idmap_count(const struct idmap *m);
/* Calls fn for each entry; fn may not modify the map. */
void idmap_each(const struct idmap *m, void (*fn)(uint64_t key, void *value, void *arg), void *arg);

#endif
