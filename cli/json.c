/* json.c - the few JSON and terminal writers the CLI needs, and its one-line errors. */
#include "cli.h"

#include "rumor_common.h"

#include <stdarg.h>
#include <string.h>

/* Longest error line printed; longer messages (a huge argument echoed back) are cut. */
#define FAIL_MAX 2048

/*
 * How many bytes of the control character at s[0] there are: 1 for C0 and
 * DEL, 2 for a C1 control in UTF-8 (C2 80..C2 9F), 0 for anything else.
 */
static size_t control_len(const unsigned char *s, size_t len)
{
    if (s[0] < 0x20 || s[0] == 0x7f) return 1;
    if (s[0] == 0xc2 && len > 1 && s[1] >= 0x80 && s[1] <= 0x9f) return 2;
    return 0;
}

/* Replaces every control character of `s` with '?', in place. */
static void one_line(char *s)
{
    unsigned char *r = (unsigned char *)s, *w = r;
    size_t len = strlen(s);
    while (len > 0) {
        size_t n = control_len(r, len);
        *w++ = n ? '?' : *r;
        n = n ? n : 1;
        r += n;
        len -= n;
    }
    *w = '\0';
}

int cli_fail(int code, const char *fmt, ...)
{
    char msg[FAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    one_line(msg);
    fprintf(stderr, "rumor: %s\n", msg);
    return code;
}

void json_str_n(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                fprintf(f, "\\u%04x", c);
            } else if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
                       (unsigned char)s[i + 1] <= 0x9f) {
                /* C1 controls (U+0080..U+009F, NEL among them) break line-based readers. */
                fprintf(f, "\\u%04x", (unsigned char)s[++i]);
            } else if (c == 0xe2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
                       ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
                /* U+2028 and U+2029 are line breaks to JavaScript and many splitters. */
                fprintf(f, "\\u%04x", 0x2000 + (unsigned char)s[i + 2] - 0x80);
                i += 2;
            } else {
                fputc(c, f);
            }
        }
    }
    fputc('"', f);
}

void json_str(FILE *f, const char *s)
{
    json_str_n(f, s, strlen(s));
}

void json_id(FILE *f, const uint8_t id[32])
{
    char hex[RUMOR_ID_HEX + 1];
    rumor_hex_encode(hex, id, RUMOR_ID_BYTES);
    fprintf(f, "\"%s\"", hex);
}

void term_text(FILE *f, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        /* A peer's text must not drive the terminal: no escape sequences, no C1 controls. */
        size_t n = control_len(p + i, len - i);
        if (n == 0 || p[i] == '\n' || p[i] == '\t')
            fputc(p[i], f);
        else
            fputc('?', f);
        i += n ? n : 1;
    }
}
