/*
 * people.c - how the CLI names people: `contact add|list|remove`, PEER
 * arguments (a key, a prefix of one, or a contact name), and the JSON fields
 * of a person. The names themselves come from rumor_node_person().
 */
#include "cli.h"

#include <string.h>

#define ID RUMOR_ID_BYTES

void json_person(FILE *f, const char *nick, const char *name, bool verified)
{
    fputs(",\"nick\":", f);
    json_str(f, nick);
    fputs(",\"name\":", f);
    json_str(f, name);
    fputs(verified ? ",\"verified\":true" : ",\"verified\":false", f);
}

int peer_error(const cli_t *c, const rumor_node_t *n, const char *peer, int rc)
{
    char doing[RUMOR_CONTACT_NAME_MAX + 64];
    switch (rc) {
    case RUMOR_ERR_NOT_FOUND:
        return cli_fail(1,
                        "no one known as '%s': give a public key, a prefix of 8 or more hex "
                        "characters of a known key, or a contact name (see 'rumor contact list')",
                        peer);
    case RUMOR_ERR_AMBIGUOUS:
        return cli_fail(1, "'%s' is the prefix of more than one key; use a longer prefix", peer);
    }
    snprintf(doing, sizeof doing, "find '%.64s'", peer);
    return node_error(c, n, rc, doing);
}

int resolve_peer(const cli_t *c, rumor_node_t *n, const char *peer, uint8_t pk[ID])
{
    int rc = rumor_node_resolve_peer(n, peer, pk);
    return rc < 0 ? peer_error(c, n, peer, rc) : 0;
}

static int invalid_contact_name(const char *name)
{
    return cli_fail(1,
                    "invalid contact name '%s': 1 to %d bytes of UTF-8 without control "
                    "characters, '~' or spaces at either end, and not 8 or more hex characters "
                    "(those name keys)",
                    name, RUMOR_CONTACT_NAME_MAX);
}

static int cmd_contact_add(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_CONTACT_ADD, *pos[2];
    int np, rc = parse(argc, argv, NULL, pos, 2, 2, &np, usage);
    if (rc) return rc;
    const char *key = pos[0], *name = pos[1];
    /* PUBKEY is a key or a prefix of one, never another contact's name. */
    if (strlen(key) < RUMOR_ID_PREFIX_MIN || !rumor_hex_is_prefix(key))
        return cli_fail(1,
                        "'%s' is not a public key: give its 64 hex characters or a prefix of "
                        "8 or more",
                        key);
    rc = rumor_node_contact_check_name(name);
    if (rc < 0) return invalid_contact_name(name);
    rumor_node_t *n;
    if ((rc = open_node(c, false, &n))) return rc;
    uint8_t pk[ID];
    if ((rc = resolve_peer(c, n, key, pk))) goto out;
    rc = rumor_node_contact_add(n, pk, name);
    if (rc == RUMOR_ERR_EXISTS)
        rc = cli_fail(1,
                      "another key is already named '%s'; remove it first with 'rumor contact "
                      "remove'",
                      name);
    else if (rc == RUMOR_ERR_DENIED)
        rc = cli_fail(1, "that key is yours: you are shown by your own nick (see 'rumor nick')");
    else if (rc < 0)
        rc = node_error(c, n, rc, "add the contact");
    else
        print_id_line(pk);
out:
    rumor_node_close(&n);
    return rc;
}

static int cmd_contact_remove(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_CONTACT_REMOVE, *pos[1];
    int np, rc = parse(argc, argv, NULL, pos, 1, 1, &np, usage);
    if (rc) return rc;
    rumor_node_t *n;
    if ((rc = open_node(c, false, &n))) return rc;
    uint8_t pk[ID];
    rc = rumor_node_contact_remove(n, pos[0], pk);
    if (rc == RUMOR_ERR_NOT_FOUND)
        rc = cli_fail(1, "no contact named '%s'; see 'rumor contact list'", pos[0]);
    else if (rc < 0)
        rc = node_error(c, n, rc, "remove the contact");
    else
        print_id_line(pk);
    rumor_node_close(&n);
    return rc;
}

typedef struct {
    bool json;
    size_t count;
} contacts_out_t;

static int print_contact(void *ctx, const uint8_t pk[ID], const rumor_node_person_t *who)
{
    contacts_out_t *o = ctx;
    char hex[RUMOR_ID_HEX + 1];
    rumor_hex_encode(hex, pk, ID);
    if (o->json) {
        fputs(o->count ? ",{\"id\":" : "{\"id\":", stdout);
        json_id(stdout, pk);
        json_person(stdout, who->nick, who->name, who->verified);
        fputc('}', stdout);
    } else {
        term_text(stdout, who->name, strlen(who->name));
        printf("  %s", hex);
        if (who->nick[0]) {
            fputs("  (calls themselves ", stdout);
            term_text(stdout, who->nick, strlen(who->nick));
            fputc(')', stdout);
        }
        fputc('\n', stdout);
    }
    o->count++;
    return 0;
}

static int cmd_contact_list(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_CONTACT_LIST, *pos[1];
    bool json = false;
    opt_t opts[] = {{"--json", false, NULL, &json}, {NULL, false, NULL, NULL}};
    int np, rc = parse(argc, argv, opts, pos, 0, 0, &np, usage);
    if (rc) return rc;
    rumor_node_t *n;
    if ((rc = open_node(c, false, &n))) return rc;
    contacts_out_t o = {json, 0};
    if (json) fputs("{\"contacts\":[", stdout);
    rc = rumor_node_contact_each(n, print_contact, &o);
    if (rc < 0) {
        rc = node_error(c, n, rc, "list the contacts");
    } else if (json) {
        fputs("]}\n", stdout);
    } else if (o.count == 0) {
        puts("no contacts yet; name someone with 'rumor contact add PUBKEY NAME'");
    }
    rumor_node_close(&n);
    return rc;
}

int cmd_contact(const cli_t *c, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    if (strcmp(sub, "add") == 0) return cmd_contact_add(c, argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0) return cmd_contact_list(c, argc - 1, argv + 1);
    if (strcmp(sub, "remove") == 0) return cmd_contact_remove(c, argc - 1, argv + 1);
    return cli_fail(EXIT_USAGE, "usage: rumor " USAGE_CONTACT_ADD " | " USAGE_CONTACT_LIST
                                " | " USAGE_CONTACT_REMOVE);
}
