/* passphrase.c - where a passphrase comes from: environment, file, or terminal prompt. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define PASS_MAX 1024

static int set_pass(cli_pass_t *p, const char *src, size_t len)
{
    if (len > PASS_MAX) {
        fprintf(stderr, "rumor: passphrase is longer than %d bytes\n", PASS_MAX);
        return RUMOR_ERR_TOO_BIG;
    }
    p->buf = sodium_malloc(len + 1);
    if (!p->buf) return RUMOR_ERR_NOMEM;
    memcpy(p->buf, src, len);
    p->buf[len] = '\0';
    p->pass.pass = p->buf;
    p->pass.len = len;
    return RUMOR_OK;
}

static int from_file(cli_pass_t *p, const char *file)
{
    char *buf = sodium_malloc(PASS_MAX + 2);
    if (!buf) return RUMOR_ERR_NOMEM;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "rumor: cannot read passphrase file %s: %s\n", file, strerror(errno));
        sodium_free(buf);
        return RUMOR_ERR_IO;
    }
    size_t n = 0;
    ssize_t r;
    while (n < PASS_MAX + 1 && (r = read(fd, buf + n, PASS_MAX + 1 - n)) != 0) {
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        n += (size_t)r;
    }
    close(fd);
    size_t len = 0;
    while (len < n && buf[len] != '\n' && buf[len] != '\r') len++;
    int rc = len == 0 ? RUMOR_ERR_INVALID : set_pass(p, buf, len);
    if (len == 0) fprintf(stderr, "rumor: passphrase file %s is empty\n", file);
    sodium_free(buf);
    return rc;
}

/* Reads one line from the terminal with echo off. */
static int prompt_line(int fd, const char *prompt, char *buf, size_t cap, size_t *len)
{
    struct termios old, quiet;
    if (tcgetattr(fd, &old) != 0) return RUMOR_ERR_IO;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    if (write(fd, prompt, strlen(prompt)) < 0 || tcsetattr(fd, TCSAFLUSH, &quiet) != 0)
        return RUMOR_ERR_IO;
    size_t n = 0;
    int rc = RUMOR_OK;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || c == '\n' || c == '\r') break;
        if (n + 1 >= cap) {
            rc = RUMOR_ERR_TOO_BIG;
            continue;
        }
        buf[n++] = c;
    }
    tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) rc = RUMOR_ERR_IO;
    buf[n] = '\0';
    *len = n;
    return rc;
}

static int from_terminal(cli_pass_t *p, const char *prompt, bool confirm)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return RUMOR_ERR_NOT_FOUND;
    char *a = sodium_malloc(PASS_MAX + 1), *b = sodium_malloc(PASS_MAX + 1);
    size_t la = 0, lb = 0;
    int rc = a && b ? RUMOR_OK : RUMOR_ERR_NOMEM;
    if (rc == RUMOR_OK) rc = prompt_line(fd, prompt, a, PASS_MAX + 1, &la);
    if (rc == RUMOR_OK && la == 0) {
        fprintf(stderr,
                "rumor: empty passphrase; use --no-passphrase for an unprotected identity\n");
        rc = RUMOR_ERR_INVALID;
    }
    if (rc == RUMOR_OK && confirm) {
        rc = prompt_line(fd, "Repeat passphrase: ", b, PASS_MAX + 1, &lb);
        if (rc == RUMOR_OK && (la != lb || sodium_memcmp(a, b, la) != 0)) {
            fprintf(stderr, "rumor: the passphrases differ; nothing was changed\n");
            rc = RUMOR_ERR_INVALID;
        }
    }
    if (rc == RUMOR_OK) rc = set_pass(p, a, la);
    close(fd);
    sodium_free(a);
    sodium_free(b);
    return rc;
}

int cli_pass_get(cli_pass_t *p, const char *file, const char *prompt, bool confirm)
{
    memset(p, 0, sizeof *p);
    if (sodium_init() < 0) return RUMOR_ERR_CRYPTO;
    const char *env = getenv("RUMOR_PASSPHRASE");
    if (env && *env) return set_pass(p, env, strlen(env));
    if (file) return from_file(p, file);
    return from_terminal(p, prompt, confirm);
}

void cli_pass_free(cli_pass_t *p)
{
    sodium_free(p->buf);
    p->buf = NULL;
    p->pass.pass = NULL;
    p->pass.len = 0;
}
