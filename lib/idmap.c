/* Linear probing with tombstones; the table doubles at 70% load (live + dead). */
#include "idmap.h"

#include <stdlib.h>
#include <string.h>

static char tombstone_marker;
#define TOMBSTONE ((void *)&tombstone_marker)

static uint64_t mix(uint64_t k)
{
	/* splitmix64's finaliser: ids are sequential, so spread them. */
	k ^= k >> 30;
	k *= 0xbf58476d1ce4e5b9ULL;
	k ^= k >> 27;
	k *= 0x94d049bb133111ebULL;
	k ^= k >> 31;
	return k;
}

void idmap_init(struct idmap *m)
{
	memset(m, 0, sizeof *m);
}

void idmap_free(struct idmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof *m);
}

static int grow(struct idmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	if (m->used * 4 < m->cap)
		cap = m->cap; /* mostly tombstones: rebuild at the same size */
	struct idmap_slot *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		struct idmap_slot *s = &m->slots[i];
		if (!s->value || s->value == TOMBSTONE)
			continue;
		size_t j = mix(s->key) & (cap - 1);
		while (slots[j].value)
			j = (j + 1) & (cap - 1);
		slots[j] = *s;
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	m->dead = 0;
	return 0;
}

int idmap_put(struct idmap *m, uint64_t key, void *value)
{
	if ((m->used + m->dead + 1) * 10 > m->cap * 7 && grow(m) != 0)
		return -1;
	size_t j = mix(key) & (m->cap - 1);
	struct idmap_slot *free_slot = NULL;
	for (;;) {
		struct idmap_slot *s = &m->slots[j];
		if (!s->value) {
			if (!free_slot)
				free_slot = s;
			break;
		}
		if (s->value == TOMBSTONE) {
			if (!free_slot)
				free_slot = s;
		} else if (s->key == key) {
			s->value = value;
			return 0;
		}
		j = (j + 1) & (m->cap - 1);
	}
	if (free_slot->value == TOMBSTONE)
		m->dead--;
	free_slot->key = key;
	free_slot->value = value;
	m->used++;
	return 0;
}

static struct idmap_slot *find(const struct idmap *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	size_t j = mix(key) & (m->cap - 1);
	for (;;) {
		struct idmap_slot *s = &m->slots[j];
		if (!s->value)
			return NULL;
		if (s->value != TOMBSTONE && s->key == key)
			return s;
		j = (j + 1) & (m->cap - 1);
	}
}

void *idmap_get(const struct idmap *m, uint64_t key)
{
	struct idmap_slot *s = find(m, key);
	return s ? s->value : NULL;
}

void *idmap_del(struct idmap *m, uint64_t key)
{
	struct idmap_slot *s = find(m, key);
	if (!s)
		return NULL;
	void *v = s->value;
	s->value = TOMBSTONE;
	m->used--;
	m->dead++;
	return v;
}

size_t idmap_count(const struct idmap *m)
{
	return m->used;
}

void idmap_each(const struct idmap *m, void (*fn)(uint64_t key, void *value, void *arg), void *arg)
{
	for (size_t i = 0; i < m->cap; i++) {
		struct idmap_slot *s = &m->slots[i];
		if (s->value && s->value != TOMBSTONE)
			fn(s->key, s->value, arg);
	}
}
