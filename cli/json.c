/* json.c - the few JSON and terminal writers the CLI needs. */
#include "cli.h"

#include "rumor_common.h"

#include <string.h>

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
            if (c < 0x20 || c == 0x7f)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
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
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        /* A peer's text must not drive the terminal: no escape sequences, no C1 controls. */
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) c = '?';
        if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9f) {
            fputc('?', f);
            i++;
            continue;
        }
        fputc(c, f);
    }
}
