/* common.c - error strings, hex, UTF-8 and clock helpers shared by every module. */
#include "rumor_common.h"

#include <string.h>
#include <time.h>

const char *rumor_strerror(int err)
{
    switch (err) {
    case RUMOR_OK: return "ok";
#define RUMOR_ERR_STR_(name, code, msg)                                                            \
    case code: return msg;
        RUMOR_ERRNO_MAP(RUMOR_ERR_STR_)
#undef RUMOR_ERR_STR_
    }
    return "unknown error";
}

const char *rumor_err_name(int err)
{
    switch (err) {
    case RUMOR_OK: return "RUMOR_OK";
#define RUMOR_ERR_NAME_(name, code, msg)                                                           \
    case code: return "RUMOR_" #name;
        RUMOR_ERRNO_MAP(RUMOR_ERR_NAME_)
#undef RUMOR_ERR_NAME_
    }
    return "RUMOR_ERR_UNKNOWN";
}

void rumor_hex_encode(char *out, const uint8_t *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int rumor_hex_decode(uint8_t *out, size_t len, const char *hex)
{
    for (size_t i = 0; i < len; i++) {
        int hi = hex_value(hex[2 * i]);
        int lo = hi < 0 ? -1 : hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return RUMOR_ERR_MALFORMED;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return RUMOR_OK;
}

bool rumor_hex_is_prefix(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= RUMOR_ID_HEX || hex_value(s[n]) < 0) return false;
    return n > 0;
}

bool rumor_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t need;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i - 1 < need) return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000)) return false;
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += need + 1;
    }
    return true;
}

bool rumor_utf8_valid_line(const uint8_t *s, size_t len)
{
    if (!rumor_utf8_valid(s, len)) return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f) return false;
        /* C1 controls U+0080..U+009F are encoded as C2 80..C2 9F. */
        if (s[i] == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f) return false;
    }
    return true;
}

bool rumor_is_zero(const uint8_t *p, size_t len)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < len; i++) acc |= p[i];
    return acc == 0;
}

uint64_t rumor_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
