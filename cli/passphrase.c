/* passphrase.c - where a passphrase comes from: a file, the environment, or a terminal prompt. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define PASS_MAX 1024
#define PASS_ENV "RUMOR_PASSPHRASE"

static int too_long(void)
{
    return cli_fail(RUMOR_ERR_TOO_BIG, "passphrase is longer than %d bytes", PASS_MAX);
}

static int out_of_memory(void)
{
    return cli_fail(RUMOR_ERR_NOMEM, "out of memory for the passphrase");
}

static int terminal_error(int err)
{
    return cli_fail(RUMOR_ERR_IO, "cannot read the passphrase from the terminal: %s",
                    strerror(err));
}

static int set_pass(cli_pass_t *p, const char *src, size_t len)
{
    if (len > PASS_MAX) return too_long();
    if (!(p->buf = rumor_secret_alloc(len + 1))) return out_of_memory();
    memcpy(p->buf, src, len);
    p->buf[len] = '\0';
    p->pass.pass = p->buf;
    p->pass.len = len;
    return RUMOR_OK;
}

static int from_file(cli_pass_t *p, const char *file)
{
    char *buf = rumor_secret_alloc(PASS_MAX + 1);
    if (!buf) return out_of_memory();
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc =
            cli_fail(RUMOR_ERR_IO, "cannot read passphrase file %s: %s", file, strerror(errno));
        rumor_secret_free(buf);
        return rc;
    }
    /* PASS_MAX + 1 bytes tell a first line that is too long. */
    size_t n = 0;
    int rc = RUMOR_OK;
    while (n < PASS_MAX + 1) {
        ssize_t r = read(fd, buf + n, PASS_MAX + 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0)
            rc =
                cli_fail(RUMOR_ERR_IO, "cannot read passphrase file %s: %s", file, strerror(errno));
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    size_t len = 0;
    while (len < n && buf[len] != '\n' && buf[len] != '\r') len++;
    if (rc == RUMOR_OK && len == 0)
        rc = cli_fail(RUMOR_ERR_INVALID, "passphrase file %s is empty", file);
    if (rc == RUMOR_OK) rc = set_pass(p, buf, len);
    rumor_secret_free(buf);
    return rc;
}

/*
 * Takes the passphrase out of the environment: copied into locked memory,
 * then wiped in place and unset, so the secret does not linger in the process.
 */
static int from_env(cli_pass_t *p, char *env)
{
    size_t len = strlen(env);
    int rc = set_pass(p, env, len);
    rumor_wipe(env, len);
    unsetenv(PASS_ENV);
    return rc;
}

/* Reads one line from the terminal `fd` with echo off into `buf` (capacity `cap`, NUL added). */
static int prompt_line(int fd, const char *prompt, char *buf, size_t cap, size_t *len)
{
    struct termios old, quiet;
    if (tcgetattr(fd, &old) != 0) return terminal_error(errno);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    /* Echo goes off before the prompt shows, so nothing typed after it can be echoed or flushed. */
    if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) return terminal_error(errno);
    if (write(fd, prompt, strlen(prompt)) < 0) {
        int err = errno;
        tcsetattr(fd, TCSAFLUSH, &old);
        return terminal_error(err);
    }
    size_t n = 0;
    bool over = false;
    int err = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) err = errno;
        if (r <= 0 || c == '\n' || c == '\r') break;
        if (n + 1 < cap)
            buf[n++] = c;
        else
            over = true; /* read the rest of the line, so it is not taken for a command */
    }
    tcsetattr(fd, TCSAFLUSH, &old);
    /* The newline the user typed was not echoed; a failure to write it loses nothing. */
    ssize_t w = write(fd, "\n", 1);
    (void)w;
    buf[n] = '\0';
    *len = n;
    if (err) return terminal_error(err);
    return over ? too_long() : RUMOR_OK;
}

static int from_terminal(cli_pass_t *p, const char *prompt, bool confirm)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return RUMOR_ERR_NOT_FOUND;
    char *a = rumor_secret_alloc(PASS_MAX + 1), *b = rumor_secret_alloc(PASS_MAX + 1);
    size_t la = 0, lb = 0;
    int rc = a && b ? RUMOR_OK : out_of_memory();
    if (rc == RUMOR_OK) rc = prompt_line(fd, prompt, a, PASS_MAX + 1, &la);
    if (rc == RUMOR_OK && la == 0)
        rc = cli_fail(RUMOR_ERR_INVALID,
                      "empty passphrase; use --no-passphrase for an unprotected identity");
    if (rc == RUMOR_OK && confirm) {
        rc = prompt_line(fd, "Repeat passphrase: ", b, PASS_MAX + 1, &lb);
        if (rc == RUMOR_OK && (la != lb || !rumor_secret_equal(a, b, la)))
            rc = cli_fail(RUMOR_ERR_INVALID, "the passphrases differ; nothing was changed");
    }
    if (rc == RUMOR_OK) rc = set_pass(p, a, la);
    p->typed = rc == RUMOR_OK;
    close(fd);
    rumor_secret_free(a);
    rumor_secret_free(b);
    return rc;
}

int cli_pass_get(cli_pass_t *p, const char *file, const char *prompt, bool confirm)
{
    memset(p, 0, sizeof *p);
    if (rumor_crypto_init() < 0)
        return cli_fail(RUMOR_ERR_CRYPTO, "cannot initialise the cryptographic library");
    if (file) return from_file(p, file);
    char *env = getenv(PASS_ENV);
    if (env && *env) return from_env(p, env);
    return from_terminal(p, prompt, confirm);
}

void cli_pass_free(cli_pass_t *p)
{
    rumor_secret_free(p->buf);
    memset(p, 0, sizeof *p);
}

/* ---- passwd ------------------------------------------------------------------------ */

int cmd_passwd(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_PASSWD, *pos[1];
    const char *new_file = NULL;
    bool none = false;
    opt_t opts[] = {{"--new-passphrase-file", true, &new_file, NULL},
                    {"--no-passphrase", false, NULL, &none},
                    {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 0, 0, &np, usage);
    if (rc) return rc;
    if (new_file && none)
        return cli_fail(EXIT_USAGE,
                        "--new-passphrase-file and --no-passphrase exclude each "
                        "other; usage: %s",
                        usage);
    rumor_node_t *n;
    if ((rc = open_node(c, false, &n))) return rc;
    /* The seed is sealed again, so it must be here: the old passphrase, never the node's agent. */
    cli_pass_t p = {0};
    if ((rc = unlock_identity(c, n, NULL)) == 0 && !none) {
        int prc = cli_pass_get(&p, new_file, "New passphrase: ", true);
        if (prc == RUMOR_ERR_NOT_FOUND)
            rc = cli_fail(1, "a new passphrase is needed: pass --new-passphrase-file F, run on a "
                             "terminal, or choose --no-passphrase");
        else if (prc < 0)
            rc = 1;
        else if (p.pass.len == 0)
            rc = cli_fail(1, "the new passphrase is empty (choose --no-passphrase for none)");
    }
    if (rc == 0) {
        int crc = rumor_node_change_passphrase(n, none ? NULL : &p.pass);
        if (crc < 0) rc = node_error(c, n, crc, "write the new key file");
    }
    cli_pass_free(&p);
    rumor_node_close(&n);
    return rc;
}
