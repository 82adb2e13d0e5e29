/* NativeProb — MIT License.
 * The tokenizer exports: the multilingual lines of the managed Hugging Face compatibility tests
 * (tests/NativeProb.Tests/Tokenization/HuggingFace/Data) through every tokenizer.json, ids compared with
 * Hugging Face tokenizers' (the ids column of expected-NAME.tsv.gz), the count with special tokens, and
 * decode(encode(line)) == line wherever Hugging Face's decode gives the line back; sentence pairs under
 * truncation and padding (expected-pairs.tsv.gz: ids, type ids and masks of Hugging Face's encode(text,
 * pair)) for the BERT, GPT-2, Gemma 3 and Qwen 3 files, and every overflowing window of pairs and single texts
 * (expected-windows.tsv.gz, np_tokenizer_encode_windows); then NULL, stale handles, short buffers, bad
 * documents and bad truncation / padding arguments.
 *   test_tokenizer DATA_DIR [--quick]
 * The fetched files are read from $NP_TOKENIZER_CACHE (else ~/.cache/nativeprob-tokenizers); the Unigram
 * model from DATA_DIR/unigram.json.gz, through the in-memory load. A missing cache skips (exit 77) unless
 * NP_REQUIRE_TOKENIZERS=1. --quick (the valgrind run) takes the two small files only. */
#include "np_test.h"

#include <zlib.h>

/* The whole of a gzip (or plain) file, NUL-terminated; NULL when it cannot be read. */
static char* read_gz(const char* path, size_t* len) {
    gzFile f = gzopen(path, "rb");
    if (f == NULL) return NULL;
    size_t cap = 1 << 20, n = 0;
    char* buf = (char*)malloc(cap);
    int got;
    while (buf != NULL && (got = gzread(f, buf + n, (unsigned)(cap - n - 1))) > 0) {
        n += (size_t)got;
        if (cap - n - 1 == 0) {
            char* bigger = (char*)realloc(buf, cap * 2);
            if (bigger == NULL) { free(buf); buf = NULL; break; }
            buf = bigger;
            cap *= 2;
        }
    }
    gzclose(f);
    if (buf == NULL) return NULL;
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static void put_utf8(char** out, uint32_t cp) {
    unsigned char* o = (unsigned char*)*out;
    if (cp < 0x80) { *o++ = (unsigned char)cp; }
    else if (cp < 0x800) { *o++ = (unsigned char)(0xC0 | (cp >> 6)); *o++ = (unsigned char)(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
        *o++ = (unsigned char)(0xE0 | (cp >> 12)); *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (unsigned char)(0xF0 | (cp >> 18)); *o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    *out = (char*)o;
}

/* Parses a JSON array of strings in place into lines[] (each NUL-terminated UTF-8, with its length). */
static int parse_lines(char* json, char** lines, size_t* lens, int max) {
    int n = 0;
    char* p = json;
    while (*p && n < max) {
        while (*p && *p != '"') ++p;
        if (!*p) break;
        char* out = ++p;
        lines[n] = out;
        while (*p && *p != '"') {
            if (*p != '\\') { *out++ = *p++; continue; }
            ++p;
            char e = *p++;
            if (e == 'n') *out++ = '\n';
            else if (e == 't') *out++ = '\t';
            else if (e == 'r') *out++ = '\r';
            else if (e == 'b') *out++ = '\b';
            else if (e == 'f') *out++ = '\f';
            else if (e == 'u') {
                uint32_t cp = (uint32_t)strtoul((char[5]){p[0], p[1], p[2], p[3], 0}, NULL, 16);
                p += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u') {
                    uint32_t lo = (uint32_t)strtoul((char[5]){p[2], p[3], p[4], p[5], 0}, NULL, 16);
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
                put_utf8(&out, cp);
            } else *out++ = e;
        }
        lens[n] = (size_t)(out - lines[n]);
        if (*p) ++p;
        *out = '\0';
        ++n;
    }
    return n;
}

typedef struct { int count, special_count, lossless; int32_t ids[4096]; int nids; } expected_t;

/* The multilingual rows of expected-NAME.tsv.gz, by line. */
static int read_expected(const char* data, const char* name, expected_t* rows, int max) {
    char path[1024];
    snprintf(path, sizeof path, "%s/expected-%s.tsv.gz", data, name);
    char* text = read_gz(path, NULL);
    if (text == NULL) return -1;
    int n = 0;
    for (char* line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strncmp(line, "multilingual\t", 13) != 0) continue;
        char* f[9] = {0};
        int k = 0;
        for (char* c = line; k < 9; ++k) {
            f[k] = c;
            c = strchr(c, '\t');
            if (c == NULL) break;
            *c++ = '\0';
        }
        int at = atoi(f[1]);
        if (at < 0 || at >= max || f[8] == NULL) continue;
        expected_t* e = &rows[at];
        e->count = atoi(f[2]);
        e->special_count = atoi(f[4]);
        e->lossless = atoi(f[7]);
        e->nids = 0;
        for (char* c = f[8]; *c && e->nids < 4096;) {
            e->ids[e->nids++] = (int32_t)strtol(c, &c, 10);
            while (*c == ' ') ++c;
        }
        if (at + 1 > n) n = at + 1;
    }
    free(text);
    return n;
}

static void check_tokenizer(np_tokenizer_t* t, const char* name, char** lines, size_t* lens, int nlines, const expected_t* rows) {
    int32_t* ids = (int32_t*)malloc(8192 * sizeof(int32_t));
    size_t* offsets = (size_t*)malloc(2 * 8192 * sizeof(size_t));
    char* text = (char*)malloc(1 << 16);
    for (int i = 0; i < nlines; ++i) {
        size_t n = 0;
        EXPECT_OK(np_tokenizer_encode(t, lines[i], lens[i], 0, ids, offsets, 8192, &n));
        int same = (int)n == rows[i].count && (int)n == rows[i].nids && memcmp(ids, rows[i].ids, n * sizeof(int32_t)) == 0;
        CHECK_MSG(same, "%s line %d: %zu ids, Hugging Face %d", name, i, n, rows[i].count);
        for (size_t k = 0; k < n; ++k)
            CHECK_MSG(offsets[2 * k] <= offsets[2 * k + 1] && offsets[2 * k + 1] <= lens[i], "%s line %d token %zu: offsets [%zu, %zu) outside %zu bytes",
                      name, i, k, offsets[2 * k], offsets[2 * k + 1], lens[i]);
        size_t special = 0;
        EXPECT_OK(np_tokenizer_encode(t, lines[i], lens[i], 1, NULL, NULL, 0, &special));
        CHECK_MSG((int)special == rows[i].special_count, "%s line %d: %zu ids with special tokens, Hugging Face %d", name, i, special,
                  rows[i].special_count);
        size_t need = 0;
        EXPECT_OK(np_tokenizer_decode(t, ids, n, 0, NULL, 0, &need));
        if (need <= (1 << 16)) {
            EXPECT_OK(np_tokenizer_decode(t, ids, n, 0, text, 1 << 16, NULL));
            if (rows[i].lossless)
                CHECK_MSG(need == lens[i] + 1 && memcmp(text, lines[i], lens[i]) == 0, "%s line %d: decode is not the line", name, i);
        }
    }
    free(ids);
    free(offsets);
    free(text);
}

/* Space-separated integers of s into v (at most max); the count. */
static int parse_ints(const char* s, int32_t* v, int max) {
    int n = 0;
    while (*s && n < max) {
        char* end;
        long x = strtol(s, &end, 10);
        if (end == s) break;
        v[n++] = (int32_t)x;
        s = end;
    }
    return n;
}

/* Splits a tab-separated row in place into at most max fields; the count. */
static int split_tabs(char* row, char** f, int max) {
    int k = 0;
    f[k++] = row;
    for (char* c = row; *c && k < max; ++c)
        if (*c == '\t') { *c = '\0'; f[k++] = c + 1; }
    return k;
}

/* A table with a first row "#lines" (DATA_DIR/FILE): its whole text (free it when done), *rows set to the row after
 * "#lines" and the lines parsed into lines / lens (pointing into the text); NULL when it cannot be read. */
static char* read_table(const char* data, const char* file, char** rows, char** lines, size_t* lens, int* nlines) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", data, file);
    char* tsv = read_gz(path, NULL);
    CHECK_MSG(tsv != NULL, "cannot read %s", path);
    if (tsv == NULL) return NULL;
    char* row = strchr(tsv, '\n');
    CHECK(strncmp(tsv, "#lines\t", 7) == 0 && row != NULL);
    if (row == NULL) { free(tsv); return NULL; }
    *row++ = '\0';
    *rows = row;
    *nlines = parse_lines(tsv + 7, lines, lens, 256);
    return tsv;
}

/* Sets a row's truncation and padding (f[1] the setting's name, f[2] and f[3] the arguments) when the setting is
 * not `last` (the previous row's, updated). */
static void apply_setting(np_tokenizer_t* t, char** f, char* last, size_t last_size) {
    if (strcmp(f[1], last) == 0) return;
    int32_t tv[5] = {0}, pv[7] = {0};
    CHECK(parse_ints(f[2], tv, 5) == 5 && parse_ints(f[3], pv, 7) == 7);
    EXPECT_OK(np_tokenizer_set_truncation(t, tv[0], (size_t)tv[1], (size_t)tv[2], tv[3], tv[4]));
    EXPECT_OK(np_tokenizer_set_padding(t, pv[0], pv[1], (size_t)pv[2], (size_t)pv[3], pv[4], pv[5], pv[6]));
    snprintf(last, last_size, "%s", f[1]);
}

/* Sentence pairs under truncation and padding (np_tokenizer_set_truncation, np_tokenizer_set_padding,
 * np_tokenizer_encode_pair) against Hugging Face's ids, type ids, attention and special tokens masks, or its
 * failure, from DATA_DIR/expected-pairs.tsv.gz (generate-pairs.mjs); the tokenizer is left without either. */
static void check_pairs(np_tokenizer_t* t, const char* name, const char* data) {
    static char* lines[256];
    static size_t lens[256];
    char* row = NULL;
    int nlines = 0;
    char* tsv = read_table(data, "expected-pairs.tsv.gz", &row, lines, lens, &nlines);
    if (tsv == NULL) return;
    enum { CAP = 4096 };
    int32_t* got = (int32_t*)malloc(4 * CAP * sizeof(int32_t));
    int32_t* want = (int32_t*)malloc(4 * CAP * sizeof(int32_t));
    char last[64] = "";
    int compared = 0, refused = 0;
    for (char* next; row != NULL && *row; row = next) {
        next = strchr(row, '\n');
        if (next != NULL) *next++ = '\0';
        char* f[11];
        if (split_tabs(row, f, 11) != 11 || strcmp(f[0], name) != 0) continue;
        apply_setting(t, f, last, sizeof last);
        int a = atoi(f[4]), b = atoi(f[5]), special = atoi(f[6]);
        CHECK(a >= 0 && a < nlines && b >= 0 && b < nlines);
        if (a < 0 || a >= nlines || b < 0 || b >= nlines) continue;
        size_t n = 0;
        np_status_t status = np_tokenizer_encode_pair(t, lines[a], lens[a], lines[b], lens[b], special, got, got + CAP, got + 2 * CAP,
                                                      got + 3 * CAP, CAP, &n);
        if (strcmp(f[7], "!") == 0) {
            CHECK_MSG(status == NP_ERR_INVALID_ARGUMENT, "%s %s pair (%d, %d): status %d, Hugging Face failed", name, f[1], a, b, status);
            ++refused;
            continue;
        }
        EXPECT_OK(status);
        int same = status == NP_OK;
        for (int k = 0; k < 4 && same; ++k) {
            int m = parse_ints(f[7 + k], want + k * CAP, CAP);
            same = (size_t)m == n && memcmp(got + k * CAP, want + k * CAP, n * sizeof(int32_t)) == 0;
            CHECK_MSG(same, "%s %s pair (%d, %d)%s: %s differ", name, f[1], a, b, special ? " with special tokens" : "",
                      (const char*[]){"ids", "type ids", "attention mask", "special tokens mask"}[k]);
        }
        size_t only = 0;
        EXPECT_OK(np_tokenizer_encode_pair(t, lines[a], lens[a], lines[b], lens[b], special, NULL, NULL, NULL, NULL, 0, &only));
        CHECK(only == n);
        ++compared;
    }
    CHECK_MSG(compared > 300 && refused > 20, "%s: %d pairs compared, %d refused", name, compared, refused);
    EXPECT_OK(np_tokenizer_set_truncation(t, 0, 0, 0, 0, 0));
    EXPECT_OK(np_tokenizer_set_padding(t, 0, 0, 0, 0, 0, 0, 0));
    free(got);
    free(want);
    free(tsv);
}

/* Every window (the encoding, then its overflowing ones) of one text or a pair through np_tokenizer_encode_windows
 * against Hugging Face's, from DATA_DIR/expected-windows.tsv.gz (generate-windows.mjs): the size query, the
 * windows' lengths, ids, type ids and masks, and buffers one value too small (nothing written); every `step`-th
 * row (valgrind takes fewer). The tokenizer is left without truncation or padding. */
static void check_windows(np_tokenizer_t* t, const char* name, const char* data, int step) {
    static char* lines[256];
    static size_t lens[256];
    char* row = NULL;
    int nlines = 0;
    char* tsv = read_table(data, "expected-windows.tsv.gz", &row, lines, lens, &nlines);
    if (tsv == NULL) return;
    enum { CAP = 1 << 16, WCAP = 1024, FIELDS = 8 + 4 * WCAP };
    int32_t* got = (int32_t*)malloc(4 * (size_t)CAP * sizeof(int32_t));
    int32_t* want = (int32_t*)malloc((size_t)CAP * sizeof(int32_t));
    size_t* lengths = (size_t*)malloc(WCAP * sizeof(size_t));
    char** f = (char**)malloc(FIELDS * sizeof(char*));
    char last[64] = "";
    int index = 0, compared = 0, refused = 0, overflowing = 0;
    for (char* next; row != NULL && *row; row = next) {
        next = strchr(row, '\n');
        if (next != NULL) *next++ = '\0';
        int k = split_tabs(row, f, FIELDS);
        if (k < 8 || strcmp(f[0], name) != 0 || index++ % step != 0) continue;
        apply_setting(t, f, last, sizeof last);
        int a = atoi(f[4]), b = atoi(f[5]), special = atoi(f[6]);
        CHECK(a >= 0 && a < nlines && b >= -1 && b < nlines);
        if (a < 0 || a >= nlines || b < -1 || b >= nlines) continue;
        const char* second = b < 0 ? NULL : lines[b];
        size_t second_len = b < 0 ? 0 : lens[b];
        size_t n = 0, windows = 0;
        np_status_t status = np_tokenizer_encode_windows(t, lines[a], lens[a], second, second_len, special, NULL, NULL, NULL, NULL, 0, &n,
                                                         NULL, 0, &windows);
        if (strcmp(f[7], "!") == 0) {
            CHECK_MSG(status == NP_ERR_INVALID_ARGUMENT, "%s %s (%d, %d): status %d, Hugging Face failed", name, f[1], a, b, status);
            ++refused;
            continue;
        }
        EXPECT_OK(status);
        int nw = atoi(f[7]);
        CHECK_MSG((int)windows == nw && k == 8 + 4 * nw && n <= CAP, "%s %s (%d, %d): %zu windows, Hugging Face %d", name, f[1], a, b, windows, nw);
        if ((int)windows != nw || k != 8 + 4 * nw || n > CAP) continue;
        if (nw > 1) ++overflowing;
        /* One value too small, in the tokens or in the windows: refused, nothing written. */
        got[0] = -7;
        lengths[0] = 7;
        if (n > 0) {
            EXPECT_FAIL(np_tokenizer_encode_windows(t, lines[a], lens[a], second, second_len, special, got, NULL, NULL, NULL, n - 1, &n,
                                                    lengths, WCAP, &windows), NP_ERR_BUFFER_TOO_SMALL, "capacity");
            CHECK(got[0] == -7 && lengths[0] == 7 && (int)windows == nw);
        }
        EXPECT_FAIL(np_tokenizer_encode_windows(t, lines[a], lens[a], second, second_len, special, got, NULL, NULL, NULL, CAP, &n,
                                                lengths, windows - 1, &windows), NP_ERR_BUFFER_TOO_SMALL, "window_capacity");
        CHECK(got[0] == -7 && lengths[0] == 7);
        size_t total = n;
        EXPECT_OK(np_tokenizer_encode_windows(t, lines[a], lens[a], second, second_len, special, got, got + CAP, got + 2 * CAP,
                                              got + 3 * CAP, total, &n, lengths, windows, &windows));
        int same = n == total;
        size_t at = 0;
        for (int w = 0; w < nw && same; ++w) {
            for (int q = 0; q < 4 && same; ++q) {
                int m = parse_ints(f[8 + 4 * w + q], want, CAP);
                same = (size_t)m == lengths[w] && at + lengths[w] <= n && memcmp(got + (size_t)q * CAP + at, want, lengths[w] * sizeof(int32_t)) == 0;
                CHECK_MSG(same, "%s %s (%d, %d)%s window %d: %s differ", name, f[1], a, b, special ? " with special tokens" : "", w,
                          (const char*[]){"ids", "type ids", "attention mask", "special tokens mask"}[q]);
            }
            at += lengths[w];
        }
        CHECK_MSG(!same || at == n, "%s %s (%d, %d): window lengths add to %zu of %zu", name, f[1], a, b, at, n);
        ++compared;
    }
    CHECK_MSG(compared > 400 / step && refused > 40 / step && overflowing > 200 / step, "%s: %d compared, %d refused, %d with overflowing windows",
              name, compared, refused, overflowing);
    EXPECT_OK(np_tokenizer_set_truncation(t, 0, 0, 0, 0, 0));
    EXPECT_OK(np_tokenizer_set_padding(t, 0, 0, 0, 0, 0, 0, 0));
    free(f);
    free(lengths);
    free(want);
    free(got);
    free(tsv);
}

/* np_tokenizer_encode_windows refuses bad arguments, naming them; without truncation one window, the encoding itself. */
static void check_window_errors(np_tokenizer_t* t) {
    int32_t ids[16], types[16], plain[16];
    size_t lengths[4], n = 99, w = 99, pn = 0;
    EXPECT_OK(np_tokenizer_encode_windows(t, "a b", 3, NULL, 0, 0, ids, NULL, NULL, NULL, 16, &n, lengths, 4, &w));
    EXPECT_OK(np_tokenizer_encode(t, "a b", 3, 0, plain, NULL, 16, &pn));
    CHECK(w == 1 && n == pn && lengths[0] == n && memcmp(ids, plain, n * sizeof(int32_t)) == 0);
    /* An empty second text is a pair, not a single text. */
    EXPECT_OK(np_tokenizer_encode_windows(t, "a", 1, "", 0, 0, ids, types, NULL, NULL, 16, &n, lengths, 4, &w));
    CHECK(w == 1 && n == 1 && types[0] == 0);
    EXPECT_OK(np_tokenizer_encode_windows(t, "a", 1, "b", 1, 0, ids, types, NULL, NULL, 16, &n, lengths, 4, &w));
    CHECK(w == 1 && n == 2 && lengths[0] == 2 && types[0] == 0 && types[1] == 1);
    EXPECT_FAIL(np_tokenizer_encode_windows(NULL, "a", 1, NULL, 0, 0, ids, NULL, NULL, NULL, 16, &n, lengths, 4, &w), NP_ERR_INVALID_HANDLE, "tokenizer");
    EXPECT_FAIL(np_tokenizer_encode_windows(t, "a", 1, NULL, 0, 0, ids, NULL, NULL, NULL, 16, NULL, lengths, 4, &w), NP_ERR_INVALID_ARGUMENT, "count");
    EXPECT_FAIL(np_tokenizer_encode_windows(t, "a", 1, NULL, 0, 0, ids, NULL, NULL, NULL, 16, &n, lengths, 4, NULL), NP_ERR_INVALID_ARGUMENT, "window_count");
    EXPECT_FAIL(np_tokenizer_encode_windows(t, "a", 1, NULL, 0, 0, ids, NULL, NULL, NULL, 16, &n, NULL, 4, &w), NP_ERR_INVALID_ARGUMENT, "window_lengths");
    EXPECT_FAIL(np_tokenizer_encode_windows(t, "a", 1, NULL, 0, 0, NULL, NULL, NULL, NULL, 16, &n, lengths, 4, &w), NP_ERR_INVALID_ARGUMENT, "ids");
    EXPECT_FAIL(np_tokenizer_encode_windows(t, "a", 1, NULL, 0, 0, NULL, types, NULL, NULL, 16, &n, NULL, 4, &w), NP_ERR_INVALID_ARGUMENT, "type_ids");
    EXPECT_FAIL(np_tokenizer_encode_windows(t, NULL, 1, NULL, 0, 0, ids, NULL, NULL, NULL, 16, &n, lengths, 4, &w), NP_ERR_INVALID_ARGUMENT, "text");
    EXPECT_FAIL(np_tokenizer_encode_windows(t, "a", 1, NULL, 2, 0, ids, NULL, NULL, NULL, 16, &n, lengths, 4, &w), NP_ERR_INVALID_ARGUMENT, "text_pair");
    EXPECT_FAIL(np_tokenizer_encode_windows(t, "a", 1, "\xff", 1, 0, ids, NULL, NULL, NULL, 16, &n, lengths, 4, &w), NP_ERR_INVALID_ARGUMENT, "UTF-8");
    EXPECT_FAIL(np_tokenizer_encode_windows(t, "a", 1, NULL, 0, 3, ids, NULL, NULL, NULL, 16, &n, lengths, 4, &w), NP_ERR_INVALID_ARGUMENT, "add_special_tokens");
    EXPECT_FAIL(np_tokenizer_encode_windows(t, "a b c", 5, NULL, 0, 0, ids, NULL, NULL, NULL, 16, &n, lengths, 0, &w), NP_ERR_BUFFER_TOO_SMALL, "window_capacity");
    CHECK(w == 1 && n == pn + 1);
    /* Truncation that cannot apply: a max length below the special tokens, OnlySecond on one text. */
    EXPECT_OK(np_tokenizer_set_truncation(t, 1, 1, 0, 0, 0));
    EXPECT_FAIL(np_tokenizer_encode_windows(t, "a", 1, "b", 1, 1, ids, NULL, NULL, NULL, 16, &n, lengths, 4, &w), NP_ERR_INVALID_ARGUMENT, "MaxLength");
    EXPECT_OK(np_tokenizer_set_truncation(t, 1, 1, 0, 2, 0));
    EXPECT_FAIL(np_tokenizer_encode_windows(t, "a b c", 5, NULL, 0, 0, ids, NULL, NULL, NULL, 16, &n, lengths, 4, &w), NP_ERR_INVALID_ARGUMENT, "OnlySecond");
    /* With a max length of 1 and no stride, each token its own window (as many as tokenizing stops at). */
    EXPECT_OK(np_tokenizer_set_truncation(t, 1, 1, 0, 0, 0));
    EXPECT_OK(np_tokenizer_encode_windows(t, "a b c", 5, NULL, 0, 0, ids, NULL, NULL, NULL, 16, &n, lengths, 4, &w));
    CHECK(w == n && n >= 1 && lengths[0] == 1 && lengths[w - 1] == 1);
    EXPECT_OK(np_tokenizer_set_truncation(t, 0, 0, 0, 0, 0));
}

/* The pair, truncation and padding calls refuse bad arguments, naming them, and keep the previous setting. */
static void check_pair_errors(np_tokenizer_t* t) {
    int32_t ids[8], types[8];
    size_t n = 99;
    EXPECT_FAIL(np_tokenizer_set_truncation(NULL, 1, 8, 0, 0, 0), NP_ERR_INVALID_HANDLE, "tokenizer");
    EXPECT_FAIL(np_tokenizer_set_truncation(t, 2, 8, 0, 0, 0), NP_ERR_INVALID_ARGUMENT, "enable");
    EXPECT_FAIL(np_tokenizer_set_truncation(t, 1, 8, 0, 3, 0), NP_ERR_INVALID_ARGUMENT, "strategy");
    EXPECT_FAIL(np_tokenizer_set_truncation(t, 1, 8, 0, 0, -1), NP_ERR_INVALID_ARGUMENT, "direction");
    EXPECT_FAIL(np_tokenizer_set_truncation(t, 1, (size_t)INT32_MAX + 1, 0, 0, 0), NP_ERR_INVALID_ARGUMENT, "max_length");
    EXPECT_FAIL(np_tokenizer_set_truncation(t, 1, 8, 7, 0, 0), NP_ERR_INVALID_ARGUMENT, "stride");
    EXPECT_FAIL(np_tokenizer_set_padding(NULL, 1, 0, 0, 0, 0, 0, 0), NP_ERR_INVALID_HANDLE, "tokenizer");
    EXPECT_FAIL(np_tokenizer_set_padding(t, -1, 0, 0, 0, 0, 0, 0), NP_ERR_INVALID_ARGUMENT, "enable");
    EXPECT_FAIL(np_tokenizer_set_padding(t, 1, 2, 0, 0, 0, 0, 0), NP_ERR_INVALID_ARGUMENT, "strategy");
    EXPECT_FAIL(np_tokenizer_set_padding(t, 1, 1, (size_t)INT32_MAX + 1, 0, 0, 0, 0), NP_ERR_INVALID_ARGUMENT, "length");
    EXPECT_FAIL(np_tokenizer_set_padding(t, 1, 0, 0, (size_t)INT32_MAX + 1, 0, 0, 0), NP_ERR_INVALID_ARGUMENT, "pad_to_multiple_of");
    EXPECT_FAIL(np_tokenizer_set_padding(t, 1, 0, 0, 0, -1, 0, 0), NP_ERR_INVALID_ARGUMENT, "pad_id");
    EXPECT_FAIL(np_tokenizer_set_padding(t, 1, 0, 0, 0, 0, -2, 0), NP_ERR_INVALID_ARGUMENT, "pad_type_id");
    EXPECT_FAIL(np_tokenizer_set_padding(t, 1, 0, 0, 0, 0, 0, 2), NP_ERR_INVALID_ARGUMENT, "direction");
    /* The refused settings left none: "a" "b" encodes to its own tokens, unpadded. */
    EXPECT_OK(np_tokenizer_encode_pair(t, "a", 1, "b", 1, 0, ids, types, NULL, NULL, 8, &n));
    CHECK(n == 2 && types[0] == 0 && types[1] == 1);
    EXPECT_FAIL(np_tokenizer_encode_pair(NULL, "a", 1, "b", 1, 0, ids, NULL, NULL, NULL, 8, &n), NP_ERR_INVALID_HANDLE, "tokenizer");
    EXPECT_FAIL(np_tokenizer_encode_pair(t, "a", 1, "b", 1, 0, ids, NULL, NULL, NULL, 8, NULL), NP_ERR_INVALID_ARGUMENT, "count");
    EXPECT_FAIL(np_tokenizer_encode_pair(t, NULL, 1, "b", 1, 0, ids, NULL, NULL, NULL, 8, &n), NP_ERR_INVALID_ARGUMENT, "text");
    EXPECT_FAIL(np_tokenizer_encode_pair(t, "a", 1, NULL, 1, 0, ids, NULL, NULL, NULL, 8, &n), NP_ERR_INVALID_ARGUMENT, "text_pair");
    EXPECT_FAIL(np_tokenizer_encode_pair(t, "a", 1, "\xff", 1, 0, ids, NULL, NULL, NULL, 8, &n), NP_ERR_INVALID_ARGUMENT, "UTF-8");
    EXPECT_FAIL(np_tokenizer_encode_pair(t, "a", 1, "b", 1, 5, ids, NULL, NULL, NULL, 8, &n), NP_ERR_INVALID_ARGUMENT, "add_special_tokens");
    EXPECT_FAIL(np_tokenizer_encode_pair(t, "a", 1, "b", 1, 0, NULL, types, NULL, NULL, 8, &n), NP_ERR_INVALID_ARGUMENT, "ids");
    EXPECT_FAIL(np_tokenizer_encode_pair(t, "a", 1, "b", 1, 1, ids, NULL, NULL, NULL, 1, &n), NP_ERR_BUFFER_TOO_SMALL, "capacity");
    CHECK(n > 1);
    /* A max length below the pair's special tokens cannot apply. */
    EXPECT_OK(np_tokenizer_set_truncation(t, 1, 1, 0, 0, 0));
    EXPECT_FAIL(np_tokenizer_encode_pair(t, "a", 1, "b", 1, 1, ids, NULL, NULL, NULL, 8, &n), NP_ERR_INVALID_ARGUMENT, "MaxLength");
    EXPECT_OK(np_tokenizer_set_truncation(t, 0, 0, 0, 0, 0));
}

static void check_errors(np_tokenizer_t* t, const char* data) {
    np_tokenizer_t* none = NULL;
    EXPECT_FAIL(np_tokenizer_load(NULL, NULL, 0, &none), NP_ERR_INVALID_ARGUMENT, "path");
    CHECK(none == NULL);
    EXPECT_FAIL(np_tokenizer_load("x.json", "{}", 2, &none), NP_ERR_INVALID_ARGUMENT, "exactly one");
    EXPECT_FAIL(np_tokenizer_load("/nonexistent/tokenizer.json", NULL, 0, &none), NP_ERR_INVALID_ARGUMENT, "does not exist");
    EXPECT_FAIL(np_tokenizer_load(NULL, "{\"model\": ", 10, &none), NP_ERR_INVALID_ARGUMENT, "not valid JSON");
    const char* unsupported = "{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Nope\"}}";
    EXPECT_FAIL(np_tokenizer_load(NULL, unsupported, strlen(unsupported), &none), NP_ERR_INVALID_ARGUMENT, "$.pre_tokenizer.type");
    EXPECT_FAIL(np_tokenizer_load(NULL, "{}", 2, NULL), NP_ERR_INVALID_ARGUMENT, "tokenizer");
    (void)data;

    int32_t ids[4];
    size_t n = 99;
    EXPECT_FAIL(np_tokenizer_encode(t, "hello world, hello world", 24, 0, ids, NULL, 1, &n), NP_ERR_BUFFER_TOO_SMALL, "capacity");
    CHECK(n > 1);
    EXPECT_FAIL(np_tokenizer_encode(t, "abc", 3, 0, ids, NULL, 4, NULL), NP_ERR_INVALID_ARGUMENT, "count");
    EXPECT_FAIL(np_tokenizer_encode(t, NULL, 3, 0, ids, NULL, 4, &n), NP_ERR_INVALID_ARGUMENT, "text");
    EXPECT_FAIL(np_tokenizer_encode(t, "\xff\xfe", 2, 0, ids, NULL, 4, &n), NP_ERR_INVALID_ARGUMENT, "UTF-8");
    EXPECT_FAIL(np_tokenizer_encode(t, "abc", 3, 2, ids, NULL, 4, &n), NP_ERR_INVALID_ARGUMENT, "add_special_tokens");
    EXPECT_OK(np_tokenizer_encode(t, NULL, 0, 0, NULL, NULL, 0, &n));
    CHECK(n == 0);
    EXPECT_FAIL(np_tokenizer_encode(NULL, "abc", 3, 0, ids, NULL, 4, &n), NP_ERR_INVALID_HANDLE, "tokenizer");

    size_t need = 0;
    EXPECT_OK(np_tokenizer_encode(t, "hello", 5, 0, ids, NULL, 4, &n));
    EXPECT_OK(np_tokenizer_decode(t, ids, n, 0, NULL, 0, &need));
    CHECK(need > 1);
    char small[2];
    EXPECT_FAIL(np_tokenizer_decode(t, ids, n, 0, small, sizeof small, NULL), NP_ERR_BUFFER_TOO_SMALL, "buf_len");
    CHECK(small[1] == '\0');
    EXPECT_FAIL(np_tokenizer_decode(t, ids, n, 0, NULL, 0, NULL), NP_ERR_INVALID_ARGUMENT, "required");
    EXPECT_FAIL(np_tokenizer_decode(t, NULL, 3, 0, NULL, 0, &need), NP_ERR_INVALID_ARGUMENT, "ids");
    EXPECT_OK(np_tokenizer_destroy(NULL));
}

int main(int argc, char** argv) {
    if (argc < 2) { fprintf(stderr, "usage: test_tokenizer DATA_DIR [--quick]\n"); return 2; }
    const char* data = argv[1];
    int quick = argc > 2 && strcmp(argv[2], "--quick") == 0;
    char cache[1024], path[1200];
    const char* env = getenv("NP_TOKENIZER_CACHE");
    if (env != NULL && env[0] != '\0') snprintf(cache, sizeof cache, "%s", env);
    else snprintf(cache, sizeof cache, "%s/.cache/nativeprob-tokenizers", getenv("HOME") ? getenv("HOME") : ".");

    snprintf(path, sizeof path, "%s/multilingual.json", data);
    char* json = read_gz(path, NULL);
    if (json == NULL) { fprintf(stderr, "cannot read %s\n", path); return 2; }
    static char* lines[256];
    static size_t lens[256];
    int nlines = parse_lines(json, lines, lens, 256);
    CHECK(nlines > 30);

    static const char* full[] = {"llama2", "llama3", "qwen3", "gemma3", "gpt2", "bert-base-uncased", "unigram",
                                 "deepseek_v3", "gpt4o", "gptoss", "gpt35turbo", "claude", "gemini"};
    static const char* small[] = {"bert-base-uncased", "unigram"};
    const char** names = quick ? small : full;
    int count = quick ? (int)(sizeof small / sizeof small[0]) : (int)(sizeof full / sizeof full[0]);
    static expected_t rows[256];
    np_tokenizer_t* first = NULL;
    for (int k = 0; k < count; ++k) {
        int n = read_expected(data, names[k], rows, 256);
        CHECK_MSG(n == nlines, "expected-%s.tsv.gz: %d multilingual rows for %d lines", names[k], n, nlines);
        np_tokenizer_t* t = NULL;
        if (strcmp(names[k], "unigram") == 0) {
            size_t len = 0;
            snprintf(path, sizeof path, "%s/unigram.json.gz", data);
            char* doc = read_gz(path, &len);
            CHECK(doc != NULL);
            if (doc == NULL) continue;
            EXPECT_OK(np_tokenizer_load(NULL, doc, len, &t));
            free(doc);
        } else {
            snprintf(path, sizeof path, "%s/%s.json", cache, names[k]);
            FILE* f = fopen(path, "rb");
            if (f == NULL) {
                if (getenv("NP_REQUIRE_TOKENIZERS") && strcmp(getenv("NP_REQUIRE_TOKENIZERS"), "1") == 0) {
                    fprintf(stderr, "%s is missing (NP_REQUIRE_TOKENIZERS=1): run fetch-tokenizers.sh\n", path);
                    return 1;
                }
                fprintf(stderr, "skipped: %s is missing; run tests/NativeProb.Tests/Tokenization/HuggingFace/Data/fetch-tokenizers.sh\n", path);
                free(json);
                return 77;
            }
            fclose(f);
            EXPECT_OK(np_tokenizer_load(path, NULL, 0, &t));
        }
        if (t == NULL) continue;
        if (n == nlines) check_tokenizer(t, names[k], lines, lens, nlines, rows);
        if (strcmp(names[k], "bert-base-uncased") == 0 || strcmp(names[k], "gpt2") == 0 || strcmp(names[k], "gemma3") == 0 ||
            strcmp(names[k], "qwen3") == 0)
        {
            check_pairs(t, names[k], data);
            check_windows(t, names[k], data, quick ? 7 : 1);
        }
        if (first == NULL) first = t;
        else EXPECT_OK(np_tokenizer_destroy(t));
    }
    if (first != NULL) {
        check_errors(first, data);
        check_pair_errors(first);
        check_window_errors(first);
        EXPECT_OK(np_tokenizer_destroy(first));
        size_t n = 0;
        EXPECT_FAIL(np_tokenizer_encode(first, "abc", 3, 0, NULL, NULL, 0, &n), NP_ERR_INVALID_HANDLE, "tokenizer");
        EXPECT_FAIL(np_tokenizer_destroy(first), NP_ERR_INVALID_HANDLE, "tokenizer");
    }
    free(json);
    printf("test_tokenizer: %d checks, %d failures\n", np_checks, np_failures);
    return np_failures == 0 ? 0 : 1;
}
