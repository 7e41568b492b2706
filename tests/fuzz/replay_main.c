/*
 * replay_main.c - runs a libFuzzer target without libFuzzer, so every build
 * (gcc included) checks the parsers on the saved corpus and crashers.
 *
 *   replay_<name> PATH...              feeds every file named, and every file
 *                                      in each directory named, in name order
 *   replay_<name>                      feeds the target's built-in seeds
 *   replay_<name> --write-seeds DIR    writes the built-in seeds into DIR
 *
 * A broken contract or a sanitizer report ends the process, which fails the
 * CTest that runs it. Exit status: 0 when every input ran, 1 on a usage or
 * I/O error.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Larger than any input a target accepts (events are at most 64 KiB). */
#define REPLAY_MAX_INPUT ((size_t)1 << 20)

/* The target's side: libFuzzer's entry points and the seed hook (see fuzz_event.c). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
typedef void (*fuzz_seed_fn)(void *ctx, const char *name, const uint8_t *data, size_t size);
void fuzz_seeds(fuzz_seed_fn emit, void *ctx);

/* Reads a whole file into a new buffer of exactly its size (so overreads stay detectable). */
static uint8_t *read_input(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    if (!f) return NULL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (size_t)st.st_size > REPLAY_MAX_INPUT) goto out;
    *len = (size_t)st.st_size;
    if (!(buf = malloc(*len ? *len : 1))) goto out;
    if (fread(buf, 1, *len, f) != *len) {
        free(buf);
        buf = NULL;
    }
out:
    fclose(f);
    return buf;
}

static int run_file(const char *path)
{
    size_t len = 0;
    uint8_t *buf = read_input(path, &len);
    if (!buf) {
        fprintf(stderr, "replay: cannot read %s (or larger than %zu bytes)\n", path,
                REPLAY_MAX_INPUT);
        return -1;
    }
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

static int not_dot_file(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

/* Runs every regular file of `dir` (not dot files), in name order so runs repeat. */
static int run_dir(const char *dir, size_t *count)
{
    struct dirent **names;
    int n = scandir(dir, &names, not_dot_file, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: cannot open %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        struct stat st;
        if (rc == 0 &&
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name) < (int)sizeof path &&
            stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            rc = run_file(path);
            if (rc == 0) (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

static void run_seed(void *ctx, const char *name, const uint8_t *data, size_t size)
{
    size_t *count = ctx;
    (void)name;
    /* A copy of exactly `size` bytes, as libFuzzer would pass. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) {
        fprintf(stderr, "replay: out of memory\n");
        exit(1);
    }
    if (size) memcpy(copy, data, size);
    LLVMFuzzerTestOneInput(copy, size);
    free(copy);
    (*count)++;
}

static void write_seed(void *ctx, const char *name, const uint8_t *data, size_t size)
{
    const char *dir = ctx;
    char path[PATH_MAX];
    FILE *f = NULL;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path ||
        !(f = fopen(path, "wb")) || fwrite(data, 1, size, f) != size) {
        fprintf(stderr, "replay: cannot write %s\n", path);
        exit(1);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "replay: cannot write %s\n", path);
        exit(1);
    }
    printf("%s (%zu bytes)\n", path, size);
}

int main(int argc, char **argv)
{
    size_t count = 0;
    LLVMFuzzerInitialize(&argc, &argv);

    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) {
        fuzz_seeds(write_seed, argv[2]);
        return 0;
    }
    if (argc > 1 && argv[1][0] == '-') {
        fprintf(stderr, "usage: %s [PATH...] | --write-seeds DIR\n", argv[0]);
        return 1;
    }
    if (argc == 1) {
        fuzz_seeds(run_seed, &count);
        printf("replay: %zu built-in seeds ran\n", count);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int rc;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = run_dir(argv[i], &count);
        } else {
            rc = run_file(argv[i]);
            if (rc == 0) count++;
        }
        if (rc < 0) return 1;
    }
    printf("replay: %zu inputs ran\n", count);
    return 0;
}
