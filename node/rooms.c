/*
 * rooms.c - a user's rooms (PROTOCOL.md 2-3): names and paths, creating, editing and moving
 * rooms, reading the tree and the members; also a peer added by hand and the store's counts.
 */
#include "node_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID RUMOR_ID_BYTES

/*
 * Code points outside ASCII that a room name may not hold (PROTOCOL.md 2.2): controls, spaces,
 * and characters that are invisible or turn the direction of text, with which two names that
 * differ would look the same, or a name would not look like one path segment.
 */
static const struct {
    uint32_t lo, hi;
} NAME_FORBIDDEN[] = {
    {0x80, 0xa0},       /* C1 controls, no-break space */
    {0xad, 0xad},       /* soft hyphen */
    {0x34f, 0x34f},     /* combining grapheme joiner */
    {0x61c, 0x61c},     /* Arabic letter mark */
    {0x115f, 0x1160},   /* Hangul fillers */
    {0x1680, 0x1680},   /* Ogham space mark */
    {0x180e, 0x180e},   /* Mongolian vowel separator */
    {0x2000, 0x200f},   /* spaces, zero-width characters, direction marks */
    {0x2028, 0x202f},   /* line and paragraph separators, embeddings, narrow no-break space */
    {0x205f, 0x206f},   /* medium space, word joiner, invisible operators, isolates */
    {0x3000, 0x3000},   /* ideographic space */
    {0x3164, 0x3164},   /* Hangul filler */
    {0xfe00, 0xfe0f},   /* variation selectors */
    {0xfeff, 0xfeff},   /* zero-width no-break space */
    {0xffa0, 0xffa0},   /* halfwidth Hangul filler */
    {0xfff0, 0xffff},   /* specials, interlinear annotation, noncharacters */
    {0xe0000, 0xe0fff}, /* tags, variation selectors supplement */
};

/* Decodes the code point at s[*i] of valid UTF-8 and moves *i past it. */
static uint32_t utf8_next(const uint8_t *s, size_t *i)
{
    uint8_t c = s[(*i)++];
    if (c < 0x80) return c;
    size_t more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
    uint32_t cp = c & (0x3f >> more);
    while (more--) cp = (cp << 6) | (s[(*i)++] & 0x3f);
    return cp;
}

static bool name_char_ok(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
               cp == '-' || cp == '_' || cp == '.';
    for (size_t k = 0; k < sizeof NAME_FORBIDDEN / sizeof NAME_FORBIDDEN[0]; k++)
        if (cp >= NAME_FORBIDDEN[k].lo && cp <= NAME_FORBIDDEN[k].hi) return false;
    return true;
}

int rumor_node_room_check_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0) return RUMOR_ERR_INVALID;
    if (len > RUMOR_NAME_MAX) return RUMOR_ERR_TOO_BIG;
    if (!rumor_utf8_valid((const uint8_t *)name, len)) return RUMOR_ERR_BAD_UTF8;
    /* "-x" would read as an option; "." and ".." as a file system's own path segments. */
    if (name[0] == '-' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return RUMOR_ERR_INVALID;
    for (size_t i = 0; i < len;)
        if (!name_char_ok(utf8_next((const uint8_t *)name, &i))) return RUMOR_ERR_INVALID;
    return RUMOR_OK;
}

static int check_topic(const char *topic)
{
    size_t len = strlen(topic);
    if (len > RUMOR_TOPIC_MAX) return RUMOR_ERR_TOO_BIG;
    if (!rumor_utf8_valid((const uint8_t *)topic, len)) return RUMOR_ERR_BAD_UTF8;
    return rumor_utf8_valid_line((const uint8_t *)topic, len) ? RUMOR_OK : RUMOR_ERR_INVALID;
}

/*
 * The current name and topic (may be NULL) of a room, decrypted; "" when we
 * cannot read them. Only a tampered stored event is an error.
 */
static int room_texts(rumor_txn_t *t, rumor_node_t *n, const rumor_store_room_t *r, char *name,
                      char *topic)
{
    char buf[RUMOR_NAME_MAX + RUMOR_TOPIC_MAX + 2];
    size_t len = 0;
    uint8_t type = 0;
    name[0] = '\0';
    if (topic) topic[0] = '\0';
    int rc = rumor_node_open_event_box(t, n, r->name.event, buf, sizeof buf, &len, &type);
    if (rc == RUMOR_ERR_BAD_SIGNATURE) return rc;
    if (rc == RUMOR_OK) {
        if (type == RUMOR_EV_ROOM_CREATE) {
            size_t nl = (uint8_t)buf[0];
            if (nl + 1 <= len && nl <= RUMOR_NAME_MAX) {
                memcpy(name, buf + 1, nl);
                name[nl] = '\0';
            }
        } else if (len <= RUMOR_NAME_MAX) {
            memcpy(name, buf, len + 1);
        }
        if (strchr(name, '/') || !rumor_utf8_valid_line((const uint8_t *)name, strlen(name)))
            name[0] = '\0';
    }
    if (!topic) return RUMOR_OK;
    /* Until renamed or re-topiced, one create event holds both: decrypt it once. */
    if (memcmp(r->topic.event, r->name.event, ID) != 0) {
        rc = rumor_node_open_event_box(t, n, r->topic.event, buf, sizeof buf, &len, &type);
        if (rc == RUMOR_ERR_BAD_SIGNATURE) return rc;
    }
    if (rc == RUMOR_OK) {
        size_t off = type == RUMOR_EV_ROOM_CREATE ? 1 + (size_t)(uint8_t)buf[0] : 0;
        if (off <= len && len - off <= RUMOR_TOPIC_MAX) memcpy(topic, buf + off, len - off + 1);
        if (!rumor_utf8_valid_line((const uint8_t *)topic, strlen(topic))) topic[0] = '\0';
    }
    return RUMOR_OK;
}

/* ---- names and paths ------------------------------------------------------- */

typedef struct {
    rumor_txn_t *t;
    rumor_node_t *n;
    const char *name; /* name looked for */
    uint8_t found[ID];
    int matches;
} find_child_t;

static int find_child_step(void *ctx, const rumor_store_room_t *r)
{
    find_child_t *f = ctx;
    char name[RUMOR_NAME_MAX + 1];
    /* Not shown by the fold, or a conversation (those are named @PEER, never by path). */
    if (r->flags & (RUMOR_ROOM_FLAG_HIDDEN | RUMOR_ROOM_FLAG_DIRECT)) return 0;
    int rc = room_texts(f->t, f->n, r, name, NULL);
    if (rc < 0) return rc;
    if (strcmp(name, f->name) == 0 && f->matches++ == 0) memcpy(f->found, r->id, ID);
    return 0;
}

/* The child of `parent` (zero: top level) named `name`. */
static int find_child(rumor_txn_t *t, rumor_node_t *n, const uint8_t parent[ID], const char *name,
                      uint8_t out[ID])
{
    find_child_t f = {t, n, name, {0}, 0};
    int rc = rumor_store_room_children(t, parent, find_child_step, &f);
    if (rc < 0) return rc;
    if (f.matches == 0) return RUMOR_ERR_NOT_FOUND;
    if (f.matches > 1) return RUMOR_ERR_AMBIGUOUS;
    memcpy(out, f.found, ID);
    return RUMOR_OK;
}

/* Resolves the first `len` bytes of a path, one name at a time from the top. */
static int resolve_path(rumor_txn_t *t, rumor_node_t *n, const char *path, size_t len,
                        uint8_t out[ID])
{
    uint8_t cur[ID] = {0};
    char name[RUMOR_NAME_MAX + 1];
    size_t i = 0;
    if (len == 0) return RUMOR_ERR_NOT_FOUND;
    while (i < len) {
        size_t j = i;
        while (j < len && path[j] != '/') j++;
        if (j == i || j - i > RUMOR_NAME_MAX) return RUMOR_ERR_NOT_FOUND;
        memcpy(name, path + i, j - i);
        name[j - i] = '\0';
        int rc = find_child(t, n, cur, name, cur);
        if (rc < 0) return rc;
        i = j + 1;
    }
    memcpy(out, cur, ID);
    return RUMOR_OK;
}

/* A path is names joined by '/': none empty, no '/' at either end. */
static bool path_ok(const char *path, size_t len)
{
    if (len == 0 || path[0] == '/' || path[len - 1] == '/') return false;
    for (size_t i = 1; i < len; i++)
        if (path[i] == '/' && path[i - 1] == '/') return false;
    return true;
}

static int resolve_in(rumor_txn_t *t, rumor_node_t *n, const char *name, uint8_t out[ID])
{
    if (!path_ok(name, strlen(name))) return RUMOR_ERR_BAD_PATH;
    int rc = resolve_path(t, n, name, strlen(name), out);
    if (rc != RUMOR_ERR_NOT_FOUND) return rc;
    if (strlen(name) >= RUMOR_ID_PREFIX_MIN && rumor_hex_is_prefix(name))
        return rumor_store_find_prefix(t, RUMOR_STORE_ROOMS, name, out);
    return RUMOR_ERR_NOT_FOUND;
}

int rumor_node_room_resolve(rumor_node_t *n, const char *name, uint8_t out[ID])
{
    rumor_txn_t *t;
    int rc = rumor_store_read_begin(n->store, &t);
    if (rc < 0) return rc;
    rc = resolve_in(t, n, name, out);
    rumor_store_read_end(&t);
    return rc;
}

/* ---- creating and editing rooms --------------------------------------------- */

typedef struct {
    rumor_node_t *n;
    const char *path;
    bool is_private;
    const char *topic;
    uint8_t id[ID];
} create_t;

static int create_fn(rumor_txn_t *t, void *ctx)
{
    create_t *c = ctx;
    rumor_node_t *n = c->n;
    uint8_t parent[ID] = {0};
    const char *slash = strrchr(c->path, '/');
    const char *name = slash ? slash + 1 : c->path;
    if (!path_ok(c->path, strlen(c->path))) return RUMOR_ERR_BAD_PATH;
    int rc = rumor_node_room_check_name(name);
    if (rc < 0) return rc;
    if (slash && (rc = resolve_path(t, n, c->path, (size_t)(slash - c->path), parent)) < 0)
        return rc;
    uint8_t existing[ID];
    rc = find_child(t, n, parent, name, existing);
    if (rc == RUMOR_OK || rc == RUMOR_ERR_AMBIGUOUS) return RUMOR_ERR_EXISTS;
    if (rc != RUMOR_ERR_NOT_FOUND) return rc;
    bool key_room = !slash || c->is_private;

    size_t nl = strlen(name), tl = c->topic ? strlen(c->topic) : 0;
    uint8_t text[1 + RUMOR_NAME_MAX + RUMOR_TOPIC_MAX];
    text[0] = (uint8_t)nl;
    memcpy(text + 1, name, nl);
    if (tl) memcpy(text + 1 + nl, c->topic, tl);
    uint8_t flags = c->is_private ? RUMOR_ROOM_FLAG_PRIVATE : 0;
    uint8_t *key = rumor_secret_alloc(RUMOR_ROOM_KEY_BYTES);
    if (!key) return RUMOR_ERR_NOMEM;
    if (key_room) rumor_room_key_generate(key);
    post_t p = {.n = n,
                .type = RUMOR_EV_ROOM_CREATE,
                .plain = &flags,
                .plain_len = 1,
                .text = text,
                .text_len = 1 + nl + tl,
                .box_key = key_room ? key : NULL};
    memcpy(p.room, parent, ID);
    rc = rumor_node_post_in(t, &p);
    /* Our own copy of the new room's first key, which its create event announced. */
    if (rc == RUMOR_OK && key_room) rc = rumor_gossip_keep_key(t, n->id, p.id, 0, key);
    rumor_secret_free(key);
    memcpy(c->id, p.id, ID);
    return rc;
}

int rumor_node_room_create(rumor_node_t *n, const char *path, bool is_private, const char *topic,
                           uint8_t id_out[ID])
{
    if (strlen(path) > RUMOR_PATH_MAX) return RUMOR_ERR_TOO_BIG;
    if (topic) {
        int rc = check_topic(topic);
        if (rc < 0) return rc;
    }
    create_t c = {n, path, is_private, topic, {0}};
    int rc = rumor_store_write(n->store, create_fn, &c);
    if (rc == RUMOR_OK) memcpy(id_out, c.id, ID);
    return rc;
}

/* ---- why a move would be refused -------------------------------------------------- */

/*
 * The fold decides what a move does (gossip/fold.c); these tell beforehand why
 * it would refuse one, so that the user hears the reason and nothing is written.
 * A move they let through is still judged by the fold after it is posted.
 */

/*
 * Why a move of `r` under `target` (NULL: the top level) by us would be refused
 * (PROTOCOL.md 3 item 4, 7.4), in *why; RUMOR_MOVE_REFUSED when none of the
 * reasons holds. Our rank was checked already. RUMOR_OK, or a store error.
 */
static int move_refusal(rumor_txn_t *t, const rumor_node_t *n, const rumor_store_room_t *r,
                        const uint8_t *target, rumor_node_move_why_t *why)
{
    uint8_t created_in[ID], domain[ID], to[ID];
    bool is_private = r->flags & RUMOR_ROOM_FLAG_PRIVATE;
    *why = RUMOR_MOVE_REFUSED;
    int rc = rumor_gossip_creation_domain(t, r->id, created_in);
    if (rc < 0) return rc;
    if (rumor_is_zero(created_in, ID)) return *why = RUMOR_MOVE_ROOT, RUMOR_OK;
    if (!target) {
        if (!is_private) *why = RUMOR_MOVE_OTHER_DOMAIN;
        return RUMOR_OK;
    }
    if ((rc = rumor_gossip_key_domain(t, r->id, domain)) < 0 ||
        (rc = rumor_gossip_key_domain(t, target, to)) < 0)
        return rc;
    /* A room never changes key domain: a shared room stays under rooms of its own, a private
     * one under rooms of the domain it was created in (or at the top level). */
    if (memcmp(to, is_private ? created_in : domain, ID) != 0)
        return *why = is_private ? RUMOR_MOVE_OTHER_TREE : RUMOR_MOVE_OTHER_DOMAIN, RUMOR_OK;
    if (!rumor_store_admitted(t, to, n->pk)) return *why = RUMOR_MOVE_NOT_MEMBER_THERE, RUMOR_OK;
    /* The shape as the fold judges it: a private room moves within the domain it was made in,
     * which cannot be below it. */
    if (!is_private) {
        rumor_gossip_move_shape_t shape = rumor_gossip_move_shape(t, r->id, target, domain);
        if (shape == RUMOR_GOSSIP_MOVE_CYCLE) *why = RUMOR_MOVE_CYCLE;
        if (shape == RUMOR_GOSSIP_MOVE_TOO_DEEP) *why = RUMOR_MOVE_TOO_DEEP;
    }
    return RUMOR_OK;
}

/* An edit of one room: rename, topic or move. */
typedef struct {
    rumor_node_t *n;
    const uint8_t *room;
    const char *name;      /* rename */
    const char *topic;     /* topic */
    const uint8_t *parent; /* move (NULL with is_move: top level) */
    bool is_move;
    rumor_node_move_why_t why; /* a refused move: why */
} edit_t;

static int edit_fn(rumor_txn_t *t, void *ctx)
{
    edit_t *e = ctx;
    rumor_store_room_t r;
    int rc = rumor_store_room_get(t, e->room, &r);
    if (rc < 0) return rc;
    if (rumor_gossip_role(t, e->room, e->n->pk) < RUMOR_ROLE_ADMIN) {
        e->why = RUMOR_MOVE_NOT_ADMIN;
        return RUMOR_ERR_DENIED;
    }
    post_t p = {.n = e->n};
    memcpy(p.room, e->room, ID);
    uint8_t target[ID] = {0};
    if (e->name) {
        uint8_t other[ID];
        rc = find_child(t, e->n, r.parent, e->name, other);
        if ((rc == RUMOR_OK && memcmp(other, e->room, ID) != 0) || rc == RUMOR_ERR_AMBIGUOUS)
            return RUMOR_ERR_EXISTS;
        p.type = RUMOR_EV_ROOM_RENAME;
        p.text = (const uint8_t *)e->name;
        p.text_len = strlen(e->name);
    } else if (e->topic) {
        p.type = RUMOR_EV_ROOM_TOPIC;
        p.text = (const uint8_t *)e->topic;
        p.text_len = strlen(e->topic);
    } else {
        char name[RUMOR_NAME_MAX + 1];
        uint8_t other[ID];
        if (e->parent) memcpy(target, e->parent, ID);
        if ((rc = room_texts(t, e->n, &r, name, NULL)) < 0) return rc;
        if ((rc = move_refusal(t, e->n, &r, e->parent, &e->why)) < 0) return rc;
        if (e->why != RUMOR_MOVE_REFUSED) return RUMOR_ERR_DENIED;
        if (name[0] && find_child(t, e->n, target, name, other) == RUMOR_OK &&
            memcmp(other, e->room, ID) != 0)
            return RUMOR_ERR_EXISTS;
        p.type = RUMOR_EV_ROOM_MOVE;
        p.plain = target;
        p.plain_len = ID;
    }
    if ((rc = rumor_node_post_in(t, &p)) < 0) return rc;
    /* An edit the fold ignores (a cycle, too deep, another key domain) is refused, and the
     * transaction rolled back: the user hears of it rather than writing a dead event. */
    if ((rc = rumor_store_room_get(t, e->room, &r)) < 0) return rc;
    const rumor_store_lww_t *reg = e->name ? &r.name : e->topic ? &r.topic : &r.place;
    return memcmp(reg->event, p.id, ID) == 0 ? RUMOR_OK : RUMOR_ERR_DENIED;
}

int rumor_node_room_rename(rumor_node_t *n, const uint8_t id[ID], const char *name)
{
    int rc = rumor_node_room_check_name(name);
    if (rc < 0) return rc;
    edit_t e = {.n = n, .room = id, .name = name};
    return rumor_store_write(n->store, edit_fn, &e);
}

int rumor_node_room_topic(rumor_node_t *n, const uint8_t id[ID], const char *topic)
{
    int rc = check_topic(topic);
    if (rc < 0) return rc;
    edit_t e = {.n = n, .room = id, .topic = topic};
    return rumor_store_write(n->store, edit_fn, &e);
}

int rumor_node_room_move(rumor_node_t *n, const uint8_t id[ID], const uint8_t *parent,
                         rumor_node_move_why_t *why)
{
    edit_t e = {.n = n, .room = id, .parent = parent, .is_move = true};
    int rc = rumor_store_write(n->store, edit_fn, &e);
    if (why) *why = e.why;
    return rc;
}

/* ---- reading rooms ------------------------------------------------------------ */

/* The room's path from the top ("?" for a name we cannot read) and its depth (0: top level). */
static int room_path(rumor_txn_t *t, rumor_node_t *n, const rumor_store_room_t *r, const char *name,
                     char path[RUMOR_PATH_MAX + 1], int *depth_out)
{
    char parts[RUMOR_MAX_DEPTH][RUMOR_NAME_MAX + 1];
    int depth = 0, rc;
    strcpy(parts[depth++], name[0] ? name : "?");
    rumor_store_room_t cur = *r;
    while (!rumor_is_zero(cur.parent, ID) && depth < RUMOR_MAX_DEPTH) {
        if (rumor_store_room_get(t, cur.parent, &cur) < 0) break;
        if ((rc = room_texts(t, n, &cur, parts[depth], NULL)) < 0) return rc;
        if (!parts[depth][0]) strcpy(parts[depth], "?");
        depth++;
    }
    *depth_out = depth - 1;
    size_t off = 0;
    for (int i = depth - 1; i >= 0; i--) {
        size_t l = strlen(parts[i]);
        if (off + l + 2 > RUMOR_PATH_MAX + 1) break;
        memcpy(path + off, parts[i], l);
        off += l;
        if (i) path[off++] = '/';
    }
    path[off] = '\0';
    return RUMOR_OK;
}

/* Membership figures of the room's key domain, as seen by this node. */
static void fill_domain(rumor_txn_t *t, rumor_node_t *n, rumor_node_room_t *out)
{
    rumor_store_room_t d;
    if (rumor_gossip_key_domain(t, out->id, out->domain) < 0) return;
    out->members = rumor_store_member_count(t, out->domain);
    if (rumor_store_room_get(t, out->domain, &d) == RUMOR_OK) out->epoch = d.epoch;
    if (rumor_store_member_get(t, out->domain, n->pk, &out->my_role) < 0) out->my_role = 0;
}

static int fill_room(rumor_txn_t *t, rumor_node_t *n, const rumor_store_room_t *r,
                     rumor_node_room_t *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->id, r->id, ID);
    memcpy(out->parent, r->parent, ID);
    out->is_private = r->flags & RUMOR_ROOM_FLAG_PRIVATE;
    int rc = room_texts(t, n, r, out->name, out->topic);
    if (rc < 0) return rc;
    out->readable = out->name[0] != '\0';
    out->messages = r->messages;
    uint64_t seen = 0;
    if (rumor_store_read_mark_get(t, r->id, &seen) < 0) seen = 0;
    out->unread = r->messages > seen ? r->messages - seen : 0;
    fill_domain(t, n, out);
    return room_path(t, n, r, out->name, out->path, &out->depth);
}

int rumor_node_room_get(rumor_node_t *n, const uint8_t id[ID], rumor_node_room_t *room)
{
    rumor_txn_t *t;
    rumor_store_room_t r;
    int rc = rumor_store_read_begin(n->store, &t);
    if (rc < 0) return rc;
    rc = rumor_store_room_get(t, id, &r);
    if (rc == RUMOR_OK) rc = fill_room(t, n, &r, room);
    rumor_store_read_end(&t);
    return rc;
}

typedef struct {
    rumor_node_room_t *items;
    size_t n, cap;
    rumor_txn_t *t;
    rumor_node_t *node;
} room_vec_t;

static int collect_child(void *ctx, const rumor_store_room_t *r)
{
    room_vec_t *v = ctx;
    /* Not shown by the fold, or a conversation (listed apart: rumor_node_dm_each). */
    if (r->flags & (RUMOR_ROOM_FLAG_HIDDEN | RUMOR_ROOM_FLAG_DIRECT)) return 0;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        rumor_node_room_t *items = realloc(v->items, cap * sizeof *items);
        if (!items) return RUMOR_ERR_NOMEM;
        v->items = items;
        v->cap = cap;
    }
    return fill_room(v->t, v->node, r, &v->items[v->n++]);
}

static int by_name(const void *a, const void *b)
{
    const rumor_node_room_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : memcmp(x->id, y->id, ID);
}

static int walk_level(rumor_txn_t *t, rumor_node_t *n, const uint8_t parent[ID], int depth,
                      rumor_node_room_fn cb, void *ctx)
{
    /* Each key domain is at most RUMOR_MAX_DEPTH deep, and domains nest (PROTOCOL.md 7.4). */
    if (depth > RUMOR_MAX_DEPTH * RUMOR_MAX_DEPTH) return RUMOR_OK;
    room_vec_t v = {NULL, 0, 0, t, n};
    int rc = rumor_store_room_children(t, parent, collect_child, &v);
    if (rc == RUMOR_OK && v.n > 1) qsort(v.items, v.n, sizeof *v.items, by_name);
    for (size_t i = 0; rc == RUMOR_OK && i < v.n; i++) {
        rc = cb(ctx, &v.items[i]);
        if (rc == RUMOR_OK) rc = walk_level(t, n, v.items[i].id, depth + 1, cb, ctx);
    }
    free(v.items);
    return rc;
}

int rumor_node_room_walk(rumor_node_t *n, rumor_node_room_fn cb, void *ctx)
{
    rumor_txn_t *t;
    uint8_t top[ID] = {0};
    int rc = rumor_store_read_begin(n->store, &t);
    if (rc < 0) return rc;
    rc = walk_level(t, n, top, 0, cb, ctx);
    rumor_store_read_end(&t);
    return rc;
}

typedef struct {
    rumor_txn_t *t;
    rumor_node_t *n;
    rumor_node_member_fn cb;
    void *ctx;
} members_t;

static int member_step(void *ctx, const uint8_t pk[ID], uint8_t role)
{
    members_t *m = ctx;
    rumor_node_person_t who;
    int rc = rumor_node_person_in(m->t, m->n, pk, &who);
    return rc < 0 ? rc : m->cb(m->ctx, pk, role, &who);
}

int rumor_node_room_members(rumor_node_t *n, const uint8_t id[ID], rumor_node_member_fn cb,
                            void *ctx)
{
    rumor_txn_t *t;
    uint8_t domain[ID];
    int rc = rumor_store_read_begin(n->store, &t);
    if (rc < 0) return rc;
    rc = rumor_gossip_key_domain(t, id, domain);
    members_t m = {t, n, cb, ctx};
    if (rc == RUMOR_OK) rc = rumor_store_member_each(t, domain, member_step, &m);
    rumor_store_read_end(&t);
    return rc;
}

typedef struct {
    rumor_gossip_known_t k;
    bool had;
} peer_add_t;

static int peer_find_fn(void *ctx, const uint8_t pk[ID], const uint8_t *v, size_t len)
{
    peer_add_t *p = ctx;
    if (memcmp(pk, p->k.pk, ID) != 0) return 0;
    rumor_gossip_known_t old;
    memcpy(old.pk, pk, ID);
    if (rumor_gossip_known_decode(v, len, &old) == RUMOR_OK) {
        p->k.seen_ms = old.seen_ms;
        p->k.linked_ms = old.linked_ms;
    }
    p->had = true;
    return 1;
}

/* The user's word: a remembered peer of kind `bootstrap`, at the address given; what the book
 * knew of it (when it was linked) is kept, its failures are not. */
static int peer_add_fn(rumor_txn_t *t, void *ctx)
{
    peer_add_t *p = ctx;
    int rc = rumor_store_peer_each(t, peer_find_fn, p);
    if (rc < 0) return rc;
    uint8_t v[RUMOR_KNOWN_MAX];
    size_t len = rumor_gossip_known_encode(&p->k, v);
    return len ? rumor_store_peer_put(t, p->k.pk, v, len) : RUMOR_ERR_INVALID;
}

int rumor_node_peer_add(rumor_node_t *n, const uint8_t pk[ID], const char *host, uint16_t port)
{
    peer_add_t p = {.k = {.found = RUMOR_FOUND_BOOTSTRAP, .port = port}};
    memcpy(p.k.pk, pk, ID);
    if (snprintf(p.k.host, sizeof p.k.host, "%s", host) >= (int)sizeof p.k.host)
        return RUMOR_ERR_INVALID;
    return rumor_store_write(n->store, peer_add_fn, &p);
}

int rumor_node_counts(rumor_node_t *n, rumor_node_counts_t *out)
{
    rumor_txn_t *t;
    int rc = rumor_store_read_begin(n->store, &t);
    if (rc < 0) return rc;
    out->rooms = rumor_store_room_count(t);
    out->events = rumor_store_event_count(t);
    out->outbox = rumor_store_outbox_count(t);
    out->schema = rumor_store_schema(n->store);
    rumor_store_read_end(&t);
    return RUMOR_OK;
}
