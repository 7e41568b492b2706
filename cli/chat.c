/*
 * chat.c - `rumor chat ROOM|@PEER`: the room's last messages, then live ones, and typed lines
 * sent. On a terminal, lines are edited with libedit (history, the usual keys) inside the poll
 * loop, and messages that arrive are printed above the prompt, never through a half-typed line;
 * the prompt is the status line (the room and the peer count). Authors get a colour of their
 * own unless NO_COLOR is set. Direct messages and mentions of our nick ring the bell and run the
 * node's notify_cmd. Without a terminal, chat reads and prints line by line (scripts use it).
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ID RUMOR_ID_BYTES

#define CHAT_HELP "/help, /rooms, /join ROOM, /dm PEER, /nick NAME, /me ACTION, /quit"
/* The status line's peer count is asked of the node this often. */
#define STATUS_EVERY_MS 5000
/* Arguments of notify_cmd at most (the program, its own, then the title and the text). */
#define NOTIFY_ARGS_MAX 16

typedef struct {
    const cli_t *c;
    rumor_node_t *n;
    uint8_t room[ID];
    char path[RUMOR_PATH_MAX + 2];
    log_out_t out;
    bool tty;  /* line editing on a terminal */
    bool quit; /* /quit or end of input */
    int peers; /* for the status line; -1 before the first answer */
    char prompt[RUMOR_PATH_MAX + 64];
    char nick[RUMOR_NICK_MAX + 1];
    char notify[RUMOR_NOTIFY_CMD_MAX + 1]; /* the node's notify_cmd, "" for none */
    EditLine *el;                          /* on a terminal */
    History *hist;
} chat_t;

/* One chat per process (libedit's prompt function takes no context). */
static chat_t *chat;

static char *prompt_fn(EditLine *el)
{
    (void)el;
    return chat->prompt;
}

/* ---- printing above the prompt --------------------------------------------------- */

/* Clears the prompt line so that what follows is printed where it was. */
static void above_begin(chat_t *ch)
{
    fflush(stdout);
    if (ch->tty) fputs("\r\033[K", stdout);
}

/* Draws the prompt again below what was printed, with the typed line as it was. */
static void above_end(chat_t *ch)
{
    fflush(stdout);
    fflush(stderr);
    if (ch->tty) el_set(ch->el, EL_REFRESH);
}

static void set_prompt(chat_t *ch)
{
    if (ch->peers < 0)
        snprintf(ch->prompt, sizeof ch->prompt, "[%s] ", ch->path);
    else
        snprintf(ch->prompt, sizeof ch->prompt, "[%s | %d peer%s] ", ch->path, ch->peers,
                 ch->peers == 1 ? "" : "s");
}

/* ---- notifications ---------------------------------------------------------------- */

/* `s` with control characters (C0, DEL) made spaces, at most `cap` - 1 bytes. */
static void plain(char *out, size_t cap, const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[n++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    out[n] = '\0';
}

/*
 * Runs notify_cmd (its words split on spaces, no shell) with the title and the text as its last
 * two arguments, both without control characters. The child is not waited for (SIGCHLD is
 * ignored in chat, so it is reaped).
 */
static void run_notify(const chat_t *ch, const char *title, const char *text, size_t len)
{
    if (!ch->notify[0]) return;
    char words[RUMOR_NOTIFY_CMD_MAX + 1], t[256], b[1024];
    char *argv[NOTIFY_ARGS_MAX + 3];
    size_t argc = 0;
    snprintf(words, sizeof words, "%s", ch->notify);
    for (char *save = NULL, *w = strtok_r(words, " \t", &save); w && argc < NOTIFY_ARGS_MAX;
         w = strtok_r(NULL, " \t", &save))
        argv[argc++] = w;
    if (!argc) return;
    /* Both come from the sender: never let them read as the notifier's options. */
    t[0] = b[0] = ' ';
    plain(t + 1, sizeof t - 1, title, strlen(title));
    plain(b + 1, sizeof b - 1, text, len);
    argv[argc++] = t[1] == '-' ? t : t + 1;
    argv[argc++] = b[1] == '-' ? b : b + 1;
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGCHLD, SIG_DFL); /* ignoring it is the chat's choice, not the notifier's */
        /* The notifier must not read the chat's input or write through its screen. */
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        /* Nor hold the node's control links or the store open. */
        long max = sysconf(_SC_OPEN_MAX);
        for (int fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++) close(fd);
        execvp(argv[0], argv);
        _exit(127);
    }
}

static bool word_char(char c)
{
    return (unsigned char)c > 0x7f || c == '_' || (c >= '0' && c <= '9') ||
           ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* True when `text` names `nick` as a word (case as typed). */
static bool mentions(const char *text, size_t len, const char *nick)
{
    size_t k = strlen(nick);
    if (!k || k > len) return false;
    for (size_t i = 0; i + k <= len; i++) {
        if (memcmp(text + i, nick, k) != 0) continue;
        if ((i == 0 || !word_char(text[i - 1])) && (i + k == len || !word_char(text[i + k])))
            return true;
    }
    return false;
}

typedef struct {
    chat_t *ch;
    bool direct; /* the message's room is a conversation */
    bool here;   /* ...and it is the room on screen */
} incoming_t;

/* Prints a message of the room on screen, or a one-line notice of a direct message elsewhere;
 * rings the bell for a direct message or a mention from someone else. */
static int show_incoming(void *ctx, const rumor_node_message_t *m)
{
    incoming_t *in = ctx;
    chat_t *ch = in->ch;
    bool mine = memcmp(m->author, rumor_node_id(ch->n), ID) == 0;
    bool ring = !mine && m->text && (in->direct || mentions(m->text, m->text_len, ch->nick));
    above_begin(ch);
    if (in->here) {
        print_message(&ch->out, m);
    } else {
        fputs("-- a direct message from ", stdout);
        term_text(stdout, m->name, strlen(m->name));
        fputs(" (/dm ", stdout);
        term_text(stdout, m->name, strlen(m->name));
        fputs(" to answer) --\n", stdout);
    }
    if (ring && ch->tty) fputc('\a', stdout);
    above_end(ch);
    if (ring) run_notify(ch, m->name, m->text, m->text_len);
    return 0;
}

typedef struct {
    const uint8_t *room;
    bool found;
} dm_find_t;

static int dm_match(void *ctx, const uint8_t room[ID], const uint8_t peer[ID])
{
    (void)peer;
    dm_find_t *f = ctx;
    if (memcmp(room, f->room, ID) == 0) f->found = true;
    return f->found;
}

static bool is_direct(rumor_node_t *n, const uint8_t room[ID])
{
    dm_find_t f = {room, false};
    rumor_node_dm_each(n, dm_match, &f);
    return f.found;
}

/* ---- the node's status: peers, notify_cmd ------------------------------------------ */

static void ask_status(chat_t *ch)
{
    int fd;
    if (rumor_node_ctl_connect(ch->c->home, &fd) < 0) return;
    rumor_ctl_writer_t w;
    rumor_ctl_writer_init(&w);
    rumor_ctl_put_str(&w, "op", "status", 6);
    int rc = rumor_node_ctl_send(fd, &w);
    rumor_ctl_writer_free(&w);
    uint8_t *buf = NULL;
    size_t cap = 0;
    rumor_ctl_record_t r;
    if (rc == RUMOR_OK && rumor_node_ctl_recv(fd, &buf, &cap, &r, 2000) == RUMOR_OK) {
        const rumor_ctl_field_t *p = rumor_ctl_get(&r, "peers");
        const rumor_ctl_field_t *cmd = rumor_ctl_get(&r, "notify_cmd");
        if (p && p->type == RUMOR_CTL_U64 && p->u < 100000) ch->peers = (int)p->u;
        if (cmd && cmd->type == RUMOR_CTL_STR && cmd->s_len <= RUMOR_NOTIFY_CMD_MAX)
            snprintf(ch->notify, sizeof ch->notify, "%.*s", (int)cmd->s_len, cmd->s);
    }
    free(buf);
    close(fd);
}

/* ---- rooms and typed lines ------------------------------------------------------------ */

static int print_room_line(void *ctx, const rumor_node_room_t *r)
{
    (void)ctx;
    printf("  %s%s", r->path[0] ? r->path : "(unreadable)", r->my_role ? "" : " (not a member)");
    if (r->unread) printf("  (%llu unread)", (unsigned long long)r->unread);
    fputc('\n', stdout);
    return 0;
}

typedef struct {
    chat_t *ch;
} dm_list_t;

static int print_dm_line(void *ctx, const uint8_t room[ID], const uint8_t peer[ID])
{
    dm_list_t *l = ctx;
    rumor_node_person_t who;
    rumor_node_room_t info;
    if (rumor_node_person(l->ch->n, peer, &who) < 0 ||
        rumor_node_room_get(l->ch->n, room, &info) < 0)
        return 0;
    fputs("  @", stdout);
    term_text(stdout, who.name, strlen(who.name));
    if (info.unread) printf("  (%llu unread)", (unsigned long long)info.unread);
    fputc('\n', stdout);
    return 0;
}

/* Switches the chat to `name` (a path, an id, or @PEER) and shows its last messages. */
static int chat_enter(chat_t *ch, const char *name)
{
    uint8_t id[ID];
    rumor_node_room_t info;
    int rc = resolve_room(ch->c, ch->n, name, id);
    if (rc) return RUMOR_ERR_NOT_FOUND;
    if ((rc = rumor_node_room_get(ch->n, id, &info)) < 0) {
        room_error(ch->c, ch->n, name, rc);
        return rc;
    }
    if (!info.readable) {
        cli_fail(1, "cannot read '%s': this node holds none of its keys", name);
        return RUMOR_ERR_NO_KEY;
    }
    memcpy(ch->room, id, ID);
    snprintf(ch->path, sizeof ch->path, "%s", name[0] == '@' ? name : info.path);
    ch->out.path = ch->path;
    set_prompt(ch);
    printf("-- %s: %s --\n", ch->path, CHAT_HELP);
    rc = rumor_node_log(ch->n, ch->room, 20, print_message, &ch->out);
    if (rc < 0) node_error(ch->c, ch->n, rc, "read the log");
    fflush(stdout);
    return rc;
}

static void chat_send(chat_t *ch, const char *text, size_t len)
{
    uint8_t id[ID];
    int rc = rumor_node_send(ch->n, ch->room, text, len, id);
    if (rc < 0)
        send_error(ch->c, ch->n, ch->path, rc);
    else
        notify_node(ch->c);
}

/* Handles one typed line. */
static void chat_line(chat_t *ch, char *line)
{
    size_t len = strlen(line);
    if (len == 0) return;
    if (strcmp(line, "/quit") == 0) {
        ch->quit = true;
    } else if (strcmp(line, "/rooms") == 0) {
        rumor_node_room_walk(ch->n, print_room_line, ch);
        dm_list_t l = {ch};
        rumor_node_dm_each(ch->n, print_dm_line, &l);
    } else if (strncmp(line, "/join ", 6) == 0 && line[6]) {
        chat_enter(ch, line + 6);
    } else if (strncmp(line, "/dm ", 4) == 0 && line[4]) {
        char at[RUMOR_CONTACT_NAME_MAX + 2];
        snprintf(at, sizeof at, "@%s", line + 4);
        chat_enter(ch, at);
    } else if (strcmp(line, "/help") == 0) {
        printf("-- %s --\n", CHAT_HELP);
    } else if (strncmp(line, "/me ", 4) == 0 && line[4]) {
        line[2] = '*'; /* an action is a message that says so: "* ACTION" */
        chat_send(ch, line + 2, len - 2);
    } else if (strncmp(line, "/nick ", 6) == 0 && line[6]) {
        int rc = rumor_node_set_nick(ch->n, line + 6);
        if (rc < 0) {
            cli_fail(1, "cannot set the nick: %s", rumor_strerror(rc));
        } else {
            snprintf(ch->nick, sizeof ch->nick, "%s", line + 6);
            printf("-- you are now %s --\n", ch->nick);
            notify_node(ch->c);
        }
    } else if (line[0] == '/') {
        cli_fail(1, "unknown command %s: %s", line, CHAT_HELP);
    } else {
        chat_send(ch, line, len);
    }
    fflush(stdout);
}

/* A key typed on the terminal (libedit, one character at a time); a whole line is handled with
 * the terminal as it was, then the prompt is drawn again. */
static void read_key(chat_t *ch)
{
    int count = 0;
    const char *s = el_gets(ch->el, &count);
    /* NULL: a key that edits nothing (libedit beeps); the end of the terminal is seen by poll. */
    if (!s) return;
    if (count == 1 && s[0] == 4) { /* Ctrl-D on an empty line */
        ch->quit = true;
        fputc('\n', stdout);
        return;
    }
    if (count <= 0 || (s[count - 1] != '\n' && s[count - 1] != '\r')) return;
    char *line = strndup(s, (size_t)count - 1);
    if (!line) return;
    el_set(ch->el, EL_UNBUFFERED, 0);
    if (*line) {
        HistEvent ev;
        history(ch->hist, &ev, H_ENTER, line);
    }
    chat_line(ch, line);
    free(line);
    if (!ch->quit) el_set(ch->el, EL_UNBUFFERED, 1);
}

/* Line editing on the terminal: emacs keys, history, ~/.editrc. */
static int edit_start(chat_t *ch)
{
    HistEvent ev;
    if (!(ch->el = el_init("rumor", stdin, stdout, stderr)) || !(ch->hist = history_init()))
        return RUMOR_ERR_NOMEM;
    history(ch->hist, &ev, H_SETSIZE, 1000);
    el_set(ch->el, EL_EDITOR, "emacs");
    el_set(ch->el, EL_PROMPT, prompt_fn);
    el_set(ch->el, EL_HIST, history, ch->hist);
    el_set(ch->el, EL_SIGNAL, 1);
    el_source(ch->el, NULL);
    el_set(ch->el, EL_UNBUFFERED, 1);
    return RUMOR_OK;
}

static void edit_stop(chat_t *ch)
{
    if (ch->el) el_end(ch->el);
    if (ch->hist) history_end(ch->hist);
    ch->el = NULL;
    ch->hist = NULL;
}

/* Without a terminal: whole lines from standard input. 1 at its end. */
static int read_lines(chat_t *ch, char *buf, size_t *used)
{
    ssize_t got = read(0, buf + *used, RUMOR_TEXT_MAX + 1 - *used);
    if (got <= 0) return 1;
    *used += (size_t)got;
    char *nl;
    while (!ch->quit && (nl = memchr(buf, '\n', *used))) {
        *nl = '\0';
        chat_line(ch, buf);
        size_t rest = *used - (size_t)(nl + 1 - buf);
        memmove(buf, nl + 1, rest);
        *used = rest;
    }
    if (*used > RUMOR_TEXT_MAX) {
        cli_fail(1, "line too long (at most %d bytes); dropped", RUMOR_TEXT_MAX);
        *used = 0;
    }
    return 0;
}

int cmd_chat(const cli_t *c, int argc, char **argv)
{
    const char *usage = "rumor " USAGE_CHAT, *pos[1];
    int np, rc = parse(argc, argv, NULL, pos, 1, 1, &np, usage);
    if (rc) return rc;
    chat_t ch = {.c = c, .peers = -1};
    if ((rc = open_node(c, true, &ch.n))) return rc;
    int fd = follow_open(c, NULL);
    if (fd < 0) {
        rumor_node_close(&ch.n);
        return fd == -2 ? 1
                        : cli_fail(1, "chat needs the running node; start it with 'rumor node'");
    }
    chat = &ch;
    ch.tty = isatty(0) && isatty(1);
    const char *no_color = getenv("NO_COLOR"), *term = getenv("TERM");
    ch.out.color = isatty(1) && !(no_color && no_color[0]) && !(term && strcmp(term, "dumb") == 0);
    rumor_node_nick(ch.n, ch.nick);
    signal(SIGCHLD, SIG_IGN); /* notify_cmd children are not waited for */
    ask_status(&ch);
    uint8_t *buf = NULL;
    size_t cap = 0, used = 0;
    char *line = ch.tty ? NULL : malloc(RUMOR_TEXT_MAX + 2);
    if ((!ch.tty && !line) || chat_enter(&ch, pos[0]) < 0) {
        rc = ch.tty || line ? 1 : cli_fail(1, "out of memory");
        goto out;
    }
    if (ch.tty && edit_start(&ch) < 0) {
        rc = cli_fail(1, "cannot edit lines on this terminal");
        goto out;
    }
    uint64_t next_status = rumor_now_ms() + STATUS_EVERY_MS;
    while (!ch.quit) {
        struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
        int ready = poll(p, 2, STATUS_EVERY_MS);
        if (ready < 0 && errno != EINTR) break;
        if (rumor_now_ms() >= next_status) {
            int before = ch.peers;
            ask_status(&ch);
            next_status = rumor_now_ms() + STATUS_EVERY_MS;
            if (ch.peers != before) {
                set_prompt(&ch);
                above_begin(&ch);
                above_end(&ch);
            }
        }
        if (ready <= 0) continue;
        if (p[1].revents) {
            uint8_t id[ID], from[ID];
            if ((rc = next_notification(fd, &buf, &cap, id, from))) break;
            incoming_t in = {&ch, false, memcmp(from, ch.room, ID) == 0};
            in.direct = is_direct(ch.n, from);
            if (in.here || in.direct) rumor_node_message(ch.n, id, show_incoming, &in);
        }
        if (ch.tty && (p[0].revents & (POLLHUP | POLLERR | POLLNVAL))) break;
        if (p[0].revents) {
            if (ch.tty)
                read_key(&ch);
            else if (read_lines(&ch, line, &used))
                break;
        }
    }
out:
    edit_stop(&ch);
    chat = NULL;
    free(line);
    free(buf);
    close(fd);
    rumor_node_close(&ch.n);
    return rc;
}
