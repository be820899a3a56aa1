/* Unit tests for API keys: the exact key format, every verdict of verify (expiry through the
 * whole UTC day), and keys-file errors that name the record and field. */
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apikey.h"

#include "check.h"

#define ID_A "0123456789abcdef"
#define ID_B "fedcba9876543210"
#define ID_C "00000000000000cc"
#define ID_D "00000000000000dd"
#define SECRET_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SECRET_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SECRET_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define SECRET_D "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define KEY(id, secret) "mcpg_" id "_" secret

static void hash_hex(const char *secret, char out[65])
{
	unsigned char digest[32];
	mbedtls_sha256_ret((const unsigned char *)secret, strlen(secret), digest, 0);
	for (size_t i = 0; i < sizeof digest; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

static time_t utc(int year, int mon, int day, int hour, int min, int sec)
{
	struct tm tm = { .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
	                 .tm_hour = hour, .tm_min = min, .tm_sec = sec };
	return timegm(&tm);
}

/* Parses an exact-size heap copy, so ASan sees reads past the end. */
static int parse(const char *key, size_t len, struct apikey_parts *parts)
{
	char *copy = malloc(len ? len : 1);
	if (!copy)
		exit(2);
	memcpy(copy, key, len);
	int rc = apikey_parse(copy, len, parts);
	free(copy);
	return rc;
}

static void test_parse(void)
{
	const char *key = KEY(ID_B, SECRET_B);
	struct apikey_parts p;
	CHECK(strlen(key) == APIKEY_LEN, "a key is %d characters", APIKEY_LEN);
	CHECK(parse(key, APIKEY_LEN, &p) == 0 && strcmp(p.id, ID_B) == 0 &&
	      strcmp(p.secret, SECRET_B) == 0, "valid key split into id and secret");
	CHECK(parse(key, APIKEY_LEN - 1, &p) == -1, "one character short");
	char longer[APIKEY_LEN + 2];
	memcpy(longer, key, APIKEY_LEN);
	longer[APIKEY_LEN] = '\n';
	CHECK(parse(longer, APIKEY_LEN + 1, &p) == -1, "trailing newline");
	CHECK(parse("", 0, &p) == -1, "empty");
	CHECK(parse("mcpg_", 5, &p) == -1, "prefix only");

	/* Every position, every kind of wrong character. */
	static const char wrong[] = { 'A', 'F', 'g', 'z', '_', '-', ' ', '\0', '\n', (char)0xc3 };
	int accepted = 0, cases = 0;
	char buf[APIKEY_LEN];
	for (size_t pos = 0; pos < APIKEY_LEN; pos++) {
		for (size_t w = 0; w < sizeof wrong; w++) {
			memcpy(buf, key, APIKEY_LEN);
			if (buf[pos] == wrong[w])
				continue;
			buf[pos] = wrong[w];
			cases++;
			accepted += parse(buf, APIKEY_LEN, &p) == 0;
		}
	}
	CHECK(accepted == 0, "%d single-character corruptions all refused", cases);
	memcpy(buf, key, APIKEY_LEN);
	memcpy(buf, "MCPG", 4);
	CHECK(parse(buf, APIKEY_LEN, &p) == -1, "upper-case prefix");
	memcpy(buf, key, APIKEY_LEN);
	buf[5 + APIKEY_ID_LEN] = '-';
	CHECK(parse(buf, APIKEY_LEN, &p) == -1, "'-' as separator");
}

static char *keys_file(void)
{
	char ha[65], hb[65], hc[65], hd[65];
	hash_hex(SECRET_A, ha);
	hash_hex(SECRET_B, hb);
	hash_hex(SECRET_C, hc);
	hash_hex(SECRET_D, hd);
	char *text = malloc(4096);
	if (!text)
		exit(2);
	snprintf(text, 4096, "{\"keys\":["
	         "{\"id\":\"" ID_A "\",\"hash\":\"%s\",\"client\":\"alpha\",\"roles\":[\"admin\"],\"rpm\":120},"
	         "{\"id\":\"" ID_B "\",\"hash\":\"%s\",\"client\":\"beta\",\"roles\":[],\"expires\":\"2027-01-31\"},"
	         "{\"id\":\"" ID_C "\",\"hash\":\"%s\",\"client\":\"gamma\",\"roles\":[\"r\"],\"revoked\":true},"
	         "{\"id\":\"" ID_D "\",\"hash\":\"%s\",\"client\":\"delta\",\"roles\":[\"r\"],\"revoked\":false,"
	         "\"note\":\"unknown fields are ignored\"}"
	         "]}", ha, hb, hc, hd);
	return text;
}

static void test_verify(void)
{
	char *text = keys_file();
	struct apikey_table t;
	char err[256] = "";
	CHECK(apikey_table_load(&t, text, strlen(text), err, sizeof err) == 0 && t.n == 4,
	      "table of 4 loads (%s)", err);
	free(text);
	CHECK(t.records[0].rpm == 120 && t.records[1].rpm == 0 && json_array_size(t.records[0].roles) == 1,
	      "rpm and roles loaded");
	CHECK(t.records[1].expires == utc(2027, 2, 1, 0, 0, 0) && t.records[0].expires == 0,
	      "expires is the end of the named UTC day; absent means never");
	CHECK(t.records[2].revoked && !t.records[3].revoked, "revoked flag loaded");

	time_t now = utc(2027, 1, 15, 12, 0, 0);
	const struct apikey_record *rec = NULL;
	const char *a = KEY(ID_A, SECRET_A);
	CHECK(apikey_verify(&t, a, strlen(a), now, &rec) == APIKEY_OK && rec == &t.records[0] &&
	      strcmp(rec->client, "alpha") == 0, "right key -> ok, record found");
	rec = NULL;
	const char *unknown = KEY("1111111111111111", SECRET_A);
	CHECK(apikey_verify(&t, unknown, strlen(unknown), now, &rec) == APIKEY_UNKNOWN && rec == NULL,
	      "unknown id");
	const char *wrong = KEY(ID_A, SECRET_B);
	CHECK(apikey_verify(&t, wrong, strlen(wrong), now, &rec) == APIKEY_WRONG_SECRET && rec == NULL,
	      "another key's secret");
	char flipped[APIKEY_LEN + 1];
	memcpy(flipped, a, sizeof flipped);
	flipped[APIKEY_LEN - 1] = 'b';
	CHECK(apikey_verify(&t, flipped, APIKEY_LEN, now, &rec) == APIKEY_WRONG_SECRET,
	      "last secret digit changed");
	CHECK(apikey_verify(&t, a, strlen(a) - 1, now, &rec) == APIKEY_MALFORMED, "malformed");

	const char *b = KEY(ID_B, SECRET_B);
	CHECK(apikey_verify(&t, b, strlen(b), utc(2027, 1, 31, 23, 59, 59), &rec) == APIKEY_OK,
	      "valid through the last second of its expiry day");
	CHECK(apikey_verify(&t, b, strlen(b), utc(2027, 2, 1, 0, 0, 0), &rec) == APIKEY_EXPIRED,
	      "expired from the next day on");
	CHECK(apikey_verify(&t, b, strlen(b), utc(2030, 6, 1, 0, 0, 0), &rec) == APIKEY_EXPIRED,
	      "expired years later");
	const char *b_wrong = KEY(ID_B, SECRET_A);
	CHECK(apikey_verify(&t, b_wrong, strlen(b_wrong), utc(2030, 6, 1, 0, 0, 0), &rec) ==
	      APIKEY_WRONG_SECRET, "expiry not revealed without the secret");

	const char *c = KEY(ID_C, SECRET_C);
	CHECK(apikey_verify(&t, c, strlen(c), now, &rec) == APIKEY_REVOKED, "revoked");
	const char *c_wrong = KEY(ID_C, SECRET_D);
	CHECK(apikey_verify(&t, c_wrong, strlen(c_wrong), now, &rec) == APIKEY_WRONG_SECRET,
	      "revocation not revealed without the secret");
	const char *d = KEY(ID_D, SECRET_D);
	CHECK(apikey_verify(&t, d, strlen(d), now, &rec) == APIKEY_OK, "revoked:false is ok");

	for (int v = APIKEY_OK; v <= APIKEY_REVOKED; v++)
		CHECK(strcmp(apikey_verdict_text((enum apikey_verdict)v), "?") != 0, "verdict %d has a text", v);
	apikey_table_free(&t);
	CHECK(t.n == 0 && t.records == NULL, "free leaves an empty table");
}

/* Loads a keys file whose second record's members are `second` (after a valid first
 * record); expects the error to contain `want`. */
static void expect_load_error(const char *second, const char *want)
{
	char ha[65];
	hash_hex(SECRET_A, ha);
	char text[2048];
	snprintf(text, sizeof text, "{\"keys\":[{\"id\":\"" ID_A "\",\"hash\":\"%s\",\"client\":\"a\","
	         "\"roles\":[]},{%s}]}", ha, second);
	struct apikey_table t;
	char err[256] = "";
	int rc = apikey_table_load(&t, text, strlen(text), err, sizeof err);
	CHECK(rc == -1 && strstr(err, want) != NULL && t.n == 0 && t.records == NULL,
	      "load error \"%s\" for {...%s}", err, strlen(second) > 40 ? second + strlen(second) - 40 : second);
}

#define GOOD_ID "\"id\":\"" ID_B "\""
#define GOOD_HASH "\"hash\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\""
#define GOOD_BASE GOOD_ID "," GOOD_HASH ",\"client\":\"c\",\"roles\":[\"r\"]"

static void test_load_errors(void)
{
	struct apikey_table t;
	char err[256];
	CHECK(apikey_table_load(&t, "{\"keys\":", 8, err, sizeof err) == -1 && strncmp(err, "line ", 5) == 0,
	      "not JSON: %s", err);
	CHECK(apikey_table_load(&t, "{\"keys\":{}}", 11, err, sizeof err) == -1 &&
	      strcmp(err, "at $.keys: must be an array") == 0, "keys not an array: %s", err);
	CHECK(apikey_table_load(&t, "[]", 2, err, sizeof err) == -1 && strstr(err, "$.keys") != NULL,
	      "document not an object: %s", err);
	CHECK(apikey_table_load(&t, "{\"keys\":[],\"keys\":[]}", 21, err, sizeof err) == -1,
	      "duplicate member refused: %s", err);
	CHECK(apikey_table_load(&t, "{\"keys\":[]}", 11, err, sizeof err) == 0 && t.n == 0,
	      "empty key list loads");
	apikey_table_free(&t);

	expect_load_error("", "at $.keys[1].id:");
	expect_load_error("\"id\":\"0123456789ABCDEF\"", "at $.keys[1].id:");
	expect_load_error("\"id\":\"0123456789abcde\"", "at $.keys[1].id:");
	expect_load_error("\"id\":\"0123456789abcdef0\"", "at $.keys[1].id:");
	expect_load_error("\"id\":7", "at $.keys[1].id:");
	expect_load_error(GOOD_ID, "at $.keys[1].hash:");
	expect_load_error(GOOD_ID ",\"hash\":\"bb\"", "at $.keys[1].hash:");
	expect_load_error(GOOD_ID ",\"hash\":\"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\"",
	                  "at $.keys[1].hash:");
	expect_load_error(GOOD_ID "," GOOD_HASH, "at $.keys[1].client:");
	expect_load_error(GOOD_ID "," GOOD_HASH ",\"client\":\"ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"",
	                  "at $.keys[1].client:");
	expect_load_error(GOOD_ID "," GOOD_HASH ",\"client\":\"c\"", "at $.keys[1].roles:");
	expect_load_error(GOOD_ID "," GOOD_HASH ",\"client\":\"c\",\"roles\":\"admin\"", "at $.keys[1].roles:");
	expect_load_error(GOOD_ID "," GOOD_HASH ",\"client\":\"c\",\"roles\":[\"a\",1]", "at $.keys[1].roles:");
	expect_load_error(GOOD_BASE ",\"rpm\":0", "at $.keys[1].rpm:");
	expect_load_error(GOOD_BASE ",\"rpm\":-5", "at $.keys[1].rpm:");
	expect_load_error(GOOD_BASE ",\"rpm\":1.5", "at $.keys[1].rpm:");
	expect_load_error(GOOD_BASE ",\"rpm\":\"60\"", "at $.keys[1].rpm:");
	expect_load_error(GOOD_BASE ",\"expires\":\"tomorrow\"", "at $.keys[1].expires:");
	expect_load_error(GOOD_BASE ",\"expires\":\"2027-13-01\"", "at $.keys[1].expires:");
	expect_load_error(GOOD_BASE ",\"expires\":\"2027-02-30\"", "at $.keys[1].expires:");
	expect_load_error(GOOD_BASE ",\"expires\":\"2027-1-5\"", "at $.keys[1].expires:");
	expect_load_error(GOOD_BASE ",\"expires\":\" 2027-01-05\"", "at $.keys[1].expires:");
	expect_load_error(GOOD_BASE ",\"expires\":\"2027-01-05 \"", "at $.keys[1].expires:");
	expect_load_error(GOOD_BASE ",\"expires\":\"1969-12-31\"", "at $.keys[1].expires:");
	expect_load_error(GOOD_BASE ",\"expires\":20270105", "at $.keys[1].expires:");
	expect_load_error(GOOD_BASE ",\"expires\":null", "at $.keys[1].expires:");
	expect_load_error(GOOD_BASE ",\"revoked\":\"yes\"", "at $.keys[1].revoked:");
	expect_load_error(GOOD_BASE ",\"revoked\":1", "at $.keys[1].revoked:");
	expect_load_error("\"id\":\"" ID_A "\"," GOOD_HASH ",\"client\":\"c\",\"roles\":[]",
	                  "at $.keys[1].id: appears twice");

	char good[512];
	snprintf(good, sizeof good, "{\"keys\":[{" GOOD_BASE ",\"expires\":\"2028-02-29\",\"revoked\":false}]}");
	CHECK(apikey_table_load(&t, good, strlen(good), err, sizeof err) == 0 && t.n == 1 &&
	      t.records[0].expires == utc(2028, 3, 1, 0, 0, 0), "leap day accepted");
	apikey_table_free(&t);
}

int main(void)
{
	test_parse();
	test_verify();
	test_load_errors();
	return check_finish();
}
