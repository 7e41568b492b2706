/*
 * test.h - the tiny assertion kit shared by rumor's unit tests. Every check
 * prints both sides when it fails; a test binary exits non-zero if any
 * check failed.
 */
#ifndef RUMOR_TEST_H
#define RUMOR_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (!(cond)) {                                                                             \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        test_checks++;                                                                             \
        if (a_ != b_) {                                                                            \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b,  \
                    a_, b_);                                                                       \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        test_checks++;                                                                             \
        if (strcmp(a_, b_) != 0) {                                                                 \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a,  \
                    #b, a_, b_);                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_MEM(a, b, n)                                                                      \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (memcmp((a), (b), (n)) != 0) {                                                          \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: %s and %s differ in their %zu bytes\n", __FILE__, __LINE__,    \
                    #a, #b, (size_t)(n));                                                          \
        }                                                                                          \
    } while (0)

/* Runs one test function, naming it on stderr. */
#define RUN(fn)                                                                                    \
    do {                                                                                           \
        int before_ = test_failures;                                                               \
        fn();                                                                                      \
        fprintf(stderr, "%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #fn);               \
    } while (0)

/* Prints the summary line and gives main()'s exit status. */
static inline int test_report(const char *suite)
{
    fprintf(stderr, "%s: %d checks, %d failed\n", suite, test_checks, test_failures);
    return test_failures ? 1 : 0;
}

/* Makes a fresh temporary directory (removed by test_rmdir). `out` gets its path. */
static inline void test_tmpdir(char out[256])
{
    const char *base = getenv("TMPDIR");
    snprintf(out, 256, "%s/rumor-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        exit(2);
    }
}

/* Removes a temporary directory tree made by test_tmpdir. */
static inline void test_rmdir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

#endif
