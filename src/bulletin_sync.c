
/*
 * Copyright (C) bulletin authors
 *
 * bulletin-sync (issue 15): the sidecar beside each nginx node of a
 * fleet.  It maps the node's counters file, publishes the node's own
 * counts to Redis, reads the other nodes' and writes their totals into
 * the slots' fleet fields, which nginx adds to its own.  nginx never
 * talks to Redis: nothing of this is on its request path.
 *
 * Everything it publishes is absolute (a node's count of a page, never an
 * increment), and everything it reads is merged by max per node key, page
 * and field: a tick cut short, a restart, a replay or a Redis that lost
 * its data sends or reads the same values again and changes nothing.
 *
 * Redis keys, P the prefix.  All carry the hash tag {P}, so that in a
 * Redis Cluster the whole fleet's keys live in one slot, where MULTI
 * works:
 *
 *   {P}:epoch   string, 128 random bits in hex, SET NX by the first
 *               sidecar: a new value means Redis lost its data
 *   {P}:nodes   hash, node key "NAME/CREATED" -> "MS PID HOST"
 *   {P}:n:KEY   hash, "_channels" -> the zone's channels, space-separated;
 *               page id -> "VIEWS S0 ... S(k-1)" in that channel order
 *   {P}:log     stream, the change feed: node KEY t MS c CHANNELS
 *               d "ID VIEWS S0 ...\nID ...", at most 1000 pages an entry
 */


#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <hiredis/hiredis.h>

#include "bulletin_counters.h"
#include "bulletin_file.h"
#include "bulletin_fleet.h"
#include "bulletin_sync_table.h"
#include "bulletin_version.h"


#define BULLETIN_SYNC_EX_SETUP      1
#define BULLETIN_SYNC_EX_USAGE      2
#define BULLETIN_SYNC_EX_TEMPFAIL   75      /* sysexits.h's EX_TEMPFAIL */

#define BULLETIN_SYNC_BATCH         1000    /* pages a command or entry */
#define BULLETIN_SYNC_ENTRIES       100     /* log entries an XREAD: at
                                               most 100,000 pages a reply */
#define BULLETIN_SYNC_ROUNDS        50      /* XREADs a tick */
#define BULLETIN_SYNC_LOG_LEN       "1000"  /* log entries kept, each of
                                               at most BATCH pages */
#define BULLETIN_SYNC_LIVE          60000   /* ms: a node still publishing */
#define BULLETIN_SYNC_PASSWORD_MAX  512
#define BULLETIN_SYNC_HOST_MAX      255
#define BULLETIN_SYNC_PREFIX_MAX    48
#define BULLETIN_SYNC_REDIS_KEY     (BULLETIN_SYNC_PREFIX_MAX              \
                                     + BULLETIN_SYNC_KEY_SIZE + 16)
#define BULLETIN_SYNC_STREAM_ID     48      /* "MS-SEQ", NUL */
/* "ID VIEWS S0 ... S7\n" */
#define BULLETIN_SYNC_LINE          (BULLETIN_ID_MAX + 1                   \
                                     + BULLETIN_SYNC_VALUE_SIZE)


typedef struct {
    /* the options */
    const char                 *counters;
    const char                 *password_file;
    const char                 *user;
    const char                 *prefix;
    char                        host[BULLETIN_SYNC_HOST_MAX + 1];
    int                         port;
    int                         db;
    char                        node[BULLETIN_SYNC_NAME_MAX + 1];
    uint32_t                    interval;
    int                         once;
    int                         dump;

    /* the counters file */
    uint8_t                    *map;
    size_t                      size;
    dev_t                       dev;
    ino_t                       ino;
    bulletin_counters_info_t    info;
    uint32_t                    used;       /* slots committed */
    uint32_t                    mapped;     /* slots in the slot table */
    bulletin_idtab_t            slots;
    bulletin_sync_counts_t     *published;  /* per slot: the last values
                                               Redis took */
    uint32_t                   *changed;
    bulletin_sync_counts_t     *snapshot;   /* of the changed slots */
    char                        channels[BULLETIN_CHANNELS_MAX
                                         * BULLETIN_CHANNEL_SIZE];
    char                        published_channels[BULLETIN_CHANNELS_MAX
                                                   * BULLETIN_CHANNEL_SIZE];

    /* batches */
    const char                **argv;
    size_t                     *argvlen;
    char                       *values;
    char                       *lines;

    /* Redis */
    redisContext               *redis;
    char                        password[BULLETIN_SYNC_PASSWORD_MAX + 1];
    size_t                      password_len;
    char                        moved_host[BULLETIN_SYNC_HOST_MAX + 1];
    int                         moved_port;
    char                        epoch[33];
    char                        key[BULLETIN_SYNC_KEY_SIZE];
    char                        key_epoch[BULLETIN_SYNC_REDIS_KEY];
    char                        key_nodes[BULLETIN_SYNC_REDIS_KEY];
    char                        key_node[BULLETIN_SYNC_REDIS_KEY];
    char                        key_log[BULLETIN_SYNC_REDIS_KEY];
    char                        last_id[BULLETIN_SYNC_STREAM_ID];
    int                         reload;
    char                        hostname[BULLETIN_SYNC_HOST_MAX + 1];

    /* the tick */
    int64_t                     now;
    int64_t                     lag;
    char                        error[BULLETIN_FLEET_ERROR_MAX];
    char                        logged[BULLETIN_FLEET_ERROR_MAX];
    char                        unreadable[BULLETIN_FLEET_ERROR_MAX];
    uint64_t                    malformed;
    int                         table_full;

    bulletin_fleet_state_t      state;
    bulletin_sync_table_t       table;
} bulletin_sync_t;


static void bulletin_sync_options(int argc, char **argv);
static void bulletin_sync_vlog(const char *fmt, va_list args);
static void bulletin_sync_usage(const char *fmt, ...)
    __attribute__ ((format (printf, 1, 2), noreturn));
static void bulletin_sync_setup_error(const char *fmt, ...)
    __attribute__ ((format (printf, 1, 2), noreturn));
static void bulletin_sync_log(const char *fmt, ...)
    __attribute__ ((format (printf, 1, 2)));
static void bulletin_sync_fail(const char *fmt, ...)
    __attribute__ ((format (printf, 1, 2)));
static void bulletin_sync_redis_address(const char *arg);
static void bulletin_sync_open(int writable);
static void bulletin_sync_claim(void);
static void bulletin_sync_password(void);
static void bulletin_sync_drop(void);
static void bulletin_sync_prepare(void);
static int bulletin_sync_dump(void);
static void bulletin_sync_signals(void);
static void bulletin_sync_signal(int signo);
static int bulletin_sync_run(void);
static int bulletin_sync_tick(void);
static int bulletin_sync_recheck(void);
static int bulletin_sync_connect(void);
static void bulletin_sync_address(const char *host, int port);
static void bulletin_sync_disconnect(void);
static redisReply *bulletin_sync_command(const char *fmt, ...);
static int bulletin_sync_reply_ok(const char *what, redisReply *r);
static int bulletin_sync_epoch(void);
static uint32_t bulletin_sync_scan(void);
static int bulletin_sync_publish(void);
static int bulletin_sync_send_batch(uint32_t from, uint32_t n);
static int bulletin_sync_nodes(redisReply **nodes);
static int bulletin_sync_read(redisReply *nodes);
static int bulletin_sync_full_reload(redisReply *nodes);
static int bulletin_sync_load_node(const char *key, size_t len);
static int bulletin_sync_stream_gap(void);
static int bulletin_sync_stream_read(int *more, int64_t block);
static void bulletin_sync_wait(int64_t next);
static void bulletin_sync_entry(const redisReply *e);
static void bulletin_sync_merge_lines(uint32_t node,
    const bulletin_sync_map_t *map, const char *d, size_t len);
static void bulletin_sync_merge(uint32_t node, const char *id, size_t len,
    const bulletin_sync_counts_t *c);
static void bulletin_sync_malformed(const char *what);
static int bulletin_sync_stream_id(const char *s, size_t len, uint64_t *ms,
    uint64_t *seq);
static int bulletin_sync_stream_after(const char *a, size_t len,
    const char *b);
static void bulletin_sync_hand(void);
static void bulletin_sync_write_slot(uint32_t slot, uint32_t page);
static void bulletin_sync_max64(uint64_t *p, uint64_t v);
static void bulletin_sync_state(int ok);
static const uint8_t *bulletin_sync_slot_key(const void *ctx,
    uint32_t index, size_t *len);
static void bulletin_sync_counts(const bulletin_counters_slot_t *slot,
    uint32_t nchannels, bulletin_sync_counts_t *c);
static void bulletin_sync_join_channels(char *buf,
    const bulletin_counters_info_t *info);
static int64_t bulletin_sync_wall_ms(void);
static int64_t bulletin_sync_mono_ms(void);


static bulletin_sync_t        bs;
static volatile sig_atomic_t  bulletin_sync_quit;


static const char  bulletin_sync_help[] =
    "Usage: bulletin-sync --counters PATH --redis HOST:PORT [options]\n"
    "\n"
    "Publishes this nginx node's counts (its bulletin_counters file) to\n"
    "Redis, and writes the other nodes' totals into the file's fleet\n"
    "fields, which nginx adds to its own.\n"
    "\n"
    "  --counters PATH       the counters file (bulletin_counters file=)\n"
    "  --redis HOST:PORT     the fleet's Redis\n"
    "  --db N                the Redis database (default 0)\n"
    "  --password-file FILE  Redis AUTH password, read from FILE\n"
    "  --node NAME           this node's name (default: the host name)\n"
    "  --interval MS         the tick, 50..60000 (default 1000)\n"
    "  --prefix P            the Redis keys' prefix (default bulletin)\n"
    "  --user USER           the user to run as, started as root\n"
    "                        (default nobody)\n"
    "  --once                one tick, then exit (0: it synced)\n"
    "  --dump                print each slot's own and fleet counts, exit\n"
    "  --version             print the version\n"
    "  --help                print this\n";


int
main(int argc, char **argv)
{
    bulletin_sync_options(argc, argv);

    if (bs.dump) {
        bulletin_sync_open(0);
        return bulletin_sync_dump();
    }

    bulletin_sync_open(1);
    bulletin_sync_claim();
    bulletin_sync_password();
    bulletin_sync_drop();
    bulletin_sync_prepare();
    bulletin_sync_signals();

    return bulletin_sync_run();
}


static void
bulletin_sync_options(int argc, char **argv)
{
    int          c;
    char        *end;
    long         n;
    const char  *redis;

    static const struct option  options[] = {
        { "counters",      required_argument, NULL, 'c' },
        { "redis",         required_argument, NULL, 'r' },
        { "db",            required_argument, NULL, 'd' },
        { "node",          required_argument, NULL, 'n' },
        { "interval",      required_argument, NULL, 'i' },
        { "password-file", required_argument, NULL, 'p' },
        { "user",          required_argument, NULL, 'u' },
        { "prefix",        required_argument, NULL, 'P' },
        { "once",          no_argument,       NULL, 'o' },
        { "dump",          no_argument,       NULL, 'D' },
        { "version",       no_argument,       NULL, 'V' },
        { "help",          no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    redis = NULL;
    bs.user = "nobody";
    bs.prefix = "bulletin";
    bs.interval = 1000;

    opterr = 0;

    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {

        switch (c) {

        case 'c':
            bs.counters = optarg;
            break;

        case 'r':
            redis = optarg;
            break;

        case 'd':
            errno = 0;
            n = strtol(optarg, &end, 10);

            if (errno || *end || end == optarg || n < 0 || n > 65535) {
                bulletin_sync_usage("--db \"%s\": not a number 0..65535",
                                    optarg);
            }

            bs.db = (int) n;
            break;

        case 'n':
            if (!bulletin_sync_name_valid(optarg, strlen(optarg))) {
                bulletin_sync_usage("--node \"%s\": a node name is 1 to %d "
                                    "of A-Z a-z 0-9 . _ -", optarg,
                                    BULLETIN_SYNC_NAME_MAX);
            }

            strcpy(bs.node, optarg);
            break;

        case 'i':
            errno = 0;
            n = strtol(optarg, &end, 10);

            if (errno || *end || end == optarg || n < 50 || n > 60000) {
                bulletin_sync_usage("--interval \"%s\": not a number of ms "
                                    "50..60000", optarg);
            }

            bs.interval = (uint32_t) n;
            break;

        case 'p':
            bs.password_file = optarg;
            break;

        case 'u':
            bs.user = optarg;
            break;

        case 'P':
            if (!bulletin_sync_name_valid(optarg, strlen(optarg))) {
                bulletin_sync_usage("--prefix \"%s\": a prefix is 1 to %d "
                                    "of A-Z a-z 0-9 . _ -", optarg,
                                    BULLETIN_SYNC_PREFIX_MAX);
            }

            bs.prefix = optarg;
            break;

        case 'o':
            bs.once = 1;
            break;

        case 'D':
            bs.dump = 1;
            break;

        case 'V':
            printf("bulletin-sync " BULLETIN_VERSION "\n");
            exit(0);

        case 'h':
            fputs(bulletin_sync_help, stdout);
            exit(0);

        default:
            if (optopt != 0 && optopt != '?') {
                bulletin_sync_usage("option \"%s\" needs an argument",
                                    argv[optind - 1]);
            }

            bulletin_sync_usage("unknown option \"%s\"; see --help",
                                argv[optind - 1]);
        }
    }

    if (optind < argc) {
        bulletin_sync_usage("unexpected argument \"%s\"", argv[optind]);
    }

    if (bs.counters == NULL) {
        bulletin_sync_usage("--counters PATH is required");
    }

    if (bs.dump) {
        return;
    }

    if (redis == NULL) {
        bulletin_sync_usage("--redis HOST:PORT is required");
    }

    bulletin_sync_redis_address(redis);

    if (bs.node[0] == '\0') {
        if (gethostname(bs.node, sizeof(bs.node)) == -1
            || !bulletin_sync_name_valid(bs.node, strnlen(bs.node,
                                                          sizeof(bs.node))))
        {
            bulletin_sync_usage("the host name is no node name (1 to %d of "
                                "A-Z a-z 0-9 . _ -): give --node NAME",
                                BULLETIN_SYNC_NAME_MAX);
        }
    }
}


static void
bulletin_sync_redis_address(const char *arg)
{
    char        *end;
    long         port;
    size_t       len;
    const char  *colon, *host;

    colon = strrchr(arg, ':');

    if (colon == NULL) {
        bulletin_sync_usage("--redis \"%s\": not HOST:PORT", arg);
    }

    host = arg;
    len = colon - arg;

    /* [::1]:6379 */

    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;
    }

    if (len == 0 || len > BULLETIN_SYNC_HOST_MAX
        || memchr(host, '/', len) != NULL)
    {
        bulletin_sync_usage("--redis \"%s\": not HOST:PORT", arg);
    }

    errno = 0;
    port = strtol(colon + 1, &end, 10);

    if (errno || *end || end == colon + 1 || port < 1 || port > 65535) {
        bulletin_sync_usage("--redis \"%s\": the port is not 1..65535", arg);
    }

    memcpy(bs.host, host, len);
    bs.host[len] = '\0';
    bs.port = (int) port;
}


/* a line on stderr (the journal's), the program's name first */

static void
bulletin_sync_vlog(const char *fmt, va_list args)
{
    fputs("bulletin-sync: ", stderr);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
}


static void
bulletin_sync_usage(const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    bulletin_sync_vlog(fmt, args);
    va_end(args);

    exit(BULLETIN_SYNC_EX_USAGE);
}


static void
bulletin_sync_setup_error(const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    bulletin_sync_vlog(fmt, args);
    va_end(args);

    exit(BULLETIN_SYNC_EX_SETUP);
}


static void
bulletin_sync_log(const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    bulletin_sync_vlog(fmt, args);
    va_end(args);
}


/* the tick failed: why, for the log and the status */

static void
bulletin_sync_fail(const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(bs.error, sizeof(bs.error), fmt, args);
    va_end(args);
}


/*
 * The file as nginx's master checks it: no symbolic link followed, a
 * regular file of this user that nobody else may write, with one name.
 * Then mapped and the descriptor closed: a process that holds only a
 * mapping cannot truncate the file, so cannot make nginx's workers fault.
 */

static void
bulletin_sync_open(int writable)
{
    int            fd, rc;
    void          *map;
    char           detail[BULLETIN_DETAIL_MAX];
    const char    *path;
    struct stat    sb;

    path = bs.counters;

    fd = open(path, (writable ? O_RDWR : O_RDONLY)
                    |O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK);

    if (fd == -1) {
        if (errno == ELOOP && lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode)) {
            bulletin_sync_setup_error("counters file \"%s\": is a symbolic "
                                      "link, which is not followed", path);
        }

        bulletin_sync_setup_error("counters file \"%s\": open() failed: %s",
                                  path, strerror(errno));
    }

    if (fstat(fd, &sb) == -1) {
        bulletin_sync_setup_error("counters file \"%s\": fstat() failed: %s",
                                  path, strerror(errno));
    }

    if (!S_ISREG(sb.st_mode)) {
        bulletin_sync_setup_error("counters file \"%s\": is not a regular "
                                  "file", path);
    }

    if (sb.st_uid != geteuid()) {
        bulletin_sync_setup_error("counters file \"%s\": belongs to uid %d, "
                                  "not to this process's (uid %d)", path,
                                  (int) sb.st_uid, (int) geteuid());
    }

    if (sb.st_mode & (S_IWGRP|S_IWOTH)) {
        bulletin_sync_setup_error("counters file \"%s\": is writable by "
                                  "group or others (mode %04o); chmod 0600 "
                                  "it", path, (unsigned) (sb.st_mode & 07777));
    }

    if (sb.st_nlink != 1) {
        bulletin_sync_setup_error("counters file \"%s\": has %d hard links, "
                                  "not 1", path, (int) sb.st_nlink);
    }

    if ((uint64_t) sb.st_size < BULLETIN_COUNTERS_HEADER
        || (uint64_t) sb.st_size > SIZE_MAX)
    {
        bulletin_sync_setup_error("counters file \"%s\": %lld bytes, not a "
                                  "counters file", path,
                                  (long long) sb.st_size);
    }

    map = mmap(NULL, (size_t) sb.st_size,
               writable ? PROT_READ|PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);

    if (map == MAP_FAILED) {
        bulletin_sync_setup_error("counters file \"%s\": mmap() failed: %s",
                                  path, strerror(errno));
    }

    if (close(fd) == -1) {
        bulletin_sync_setup_error("counters file \"%s\": close() failed: %s",
                                  path, strerror(errno));
    }

    bs.map = map;
    bs.size = (size_t) sb.st_size;
    bs.dev = sb.st_dev;
    bs.ino = sb.st_ino;

    rc = bulletin_counters_check(bs.map, bs.size, &bs.info, detail);

    if (rc != BULLETIN_COUNTERS_OK) {
        bulletin_sync_setup_error("counters file \"%s\": %s: %s", path,
                                  bulletin_counters_strerror(rc), detail);
    }
}


/*
 * One sidecar a file, under one name: a file's counts published under two
 * node keys would be counted twice by every other node, for good (the
 * slots keep what they were given).  The state a sidecar left names it:
 * another name is refused, and so is a sidecar that still runs and ticked
 * lately.  A dead one's pid may have been reused: its tick is old then.
 */

static void
bulletin_sync_claim(void)
{
    int64_t                 age;
    bulletin_fleet_state_t  st;

    if (!bulletin_fleet_read(bs.map, &st)) {
        return;
    }

    if (st.node[0] != '\0' && strcmp(st.node, bs.node) != 0) {
        bulletin_sync_setup_error("counters file \"%s\" is synced as node "
                                  "\"%s\", not \"%s\": its counts would "
                                  "count twice under two names; keep "
                                  "--node %s, or give nginx a new counters "
                                  "file for the new name", bs.counters,
                                  st.node, bs.node, st.node);
    }

    age = bulletin_sync_wall_ms() - st.tick;

    if (st.pid > 0 && st.pid != (int64_t) getpid()
        && age < 3 * (int64_t) st.interval + 5000
        && (kill((pid_t) st.pid, 0) == 0 || errno == EPERM))
    {
        bulletin_sync_setup_error("counters file \"%s\": another "
                                  "bulletin-sync (pid %lld) syncs it",
                                  bs.counters, (long long) st.pid);
    }
}


static void
bulletin_sync_password(void)
{
    int           fd;
    size_t        n;
    ssize_t       r;
    const char   *path, *reason;
    struct stat   sb;

    path = bs.password_file;

    if (path == NULL) {
        return;
    }

    fd = bulletin_file_open(path, &sb, &reason);

    if (fd == -1) {
        bulletin_sync_setup_error("password file \"%s\": %s", path, reason);
    }

    if (sb.st_mode & (S_IROTH|S_IWOTH)) {
        bulletin_sync_setup_error("password file \"%s\": is readable or "
                                  "writable by others (mode %04o); chmod "
                                  "0600 it", path,
                                  (unsigned) (sb.st_mode & 07777));
    }

    if (sb.st_size > BULLETIN_SYNC_PASSWORD_MAX + 1) {
        bulletin_sync_setup_error("password file \"%s\": longer than %d "
                                  "bytes", path, BULLETIN_SYNC_PASSWORD_MAX);
    }

    n = 0;

    for ( ;; ) {
        r = read(fd, bs.password + n, sizeof(bs.password) - n);

        if (r == -1 && errno == EINTR) {
            continue;
        }

        if (r == -1) {
            bulletin_sync_setup_error("password file \"%s\": read() failed: "
                                      "%s", path, strerror(errno));
        }

        if (r == 0 || n + r == sizeof(bs.password)) {
            n += r;
            break;
        }

        n += r;
    }

    close(fd);

    if (n > 0 && bs.password[n - 1] == '\n') {
        n--;
    }

    if (n > BULLETIN_SYNC_PASSWORD_MAX) {
        bulletin_sync_setup_error("password file \"%s\": longer than %d "
                                  "bytes", path, BULLETIN_SYNC_PASSWORD_MAX);
    }

    if (n == 0) {
        bulletin_sync_setup_error("password file \"%s\": is empty", path);
    }

    bs.password_len = n;
}


/*
 * Root only opens the file, as nginx's master does: the process keeps a
 * writable mapping of it and talks to the network, so it runs as --user.
 */

static void
bulletin_sync_drop(void)
{
    struct passwd  *pw;

    if (geteuid() != 0) {
        goto done;
    }

    errno = 0;
    pw = getpwnam(bs.user);

    if (pw == NULL) {
        bulletin_sync_setup_error("user \"%s\": %s", bs.user,
                                  errno ? strerror(errno) : "no such user");
    }

    if (pw->pw_uid == 0) {
        bulletin_sync_setup_error("user \"%s\": is root, which keeps every "
                                  "privilege", bs.user);
    }

    if (setgroups(0, NULL) == -1) {
        bulletin_sync_setup_error("setgroups() failed: %s", strerror(errno));
    }

    if (setgid(pw->pw_gid) == -1) {
        bulletin_sync_setup_error("setgid(%d) failed: %s", (int) pw->pw_gid,
                                  strerror(errno));
    }

    if (setuid(pw->pw_uid) == -1) {
        bulletin_sync_setup_error("setuid(%d) failed: %s", (int) pw->pw_uid,
                                  strerror(errno));
    }

    if (setuid(0) != -1) {
        bulletin_sync_setup_error("root privileges could be regained after "
                                  "setuid(%d)", (int) pw->pw_uid);
    }

done:

    (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}


static void
bulletin_sync_prepare(void)
{
    uint32_t  capacity;

    capacity = bs.info.capacity;

    snprintf(bs.key, sizeof(bs.key), "%s/%lld", bs.node,
             (long long) bs.info.created);

    snprintf(bs.key_epoch, sizeof(bs.key_epoch), "{%s}:epoch", bs.prefix);
    snprintf(bs.key_nodes, sizeof(bs.key_nodes), "{%s}:nodes", bs.prefix);
    snprintf(bs.key_node, sizeof(bs.key_node), "{%s}:n:%s", bs.prefix,
             bs.key);
    snprintf(bs.key_log, sizeof(bs.key_log), "{%s}:log", bs.prefix);

    if (gethostname(bs.hostname, sizeof(bs.hostname) - 1) == -1) {
        strcpy(bs.hostname, "unknown");
    }

    bs.published = calloc(capacity ? capacity : 1,
                          sizeof(bulletin_sync_counts_t));
    bs.snapshot = calloc(capacity ? capacity : 1,
                         sizeof(bulletin_sync_counts_t));
    bs.changed = calloc(capacity ? capacity : 1, sizeof(uint32_t));
    bs.argv = calloc(5 + 2 * BULLETIN_SYNC_BATCH, sizeof(char *));
    bs.argvlen = calloc(5 + 2 * BULLETIN_SYNC_BATCH, sizeof(size_t));
    bs.values = malloc(BULLETIN_SYNC_BATCH * BULLETIN_SYNC_VALUE_SIZE);
    bs.lines = malloc(BULLETIN_SYNC_BATCH * BULLETIN_SYNC_LINE);

    if (bs.published == NULL || bs.snapshot == NULL || bs.changed == NULL
        || bs.argv == NULL || bs.argvlen == NULL || bs.values == NULL
        || bs.lines == NULL)
    {
        bulletin_sync_setup_error("out of memory for %u slots",
                                  (unsigned) capacity);
    }

    bulletin_idtab_init(&bs.slots, NULL, 0, bulletin_sync_slot_key, NULL);
    bulletin_sync_table_init(&bs.table, bs.key, strlen(bs.key));

    strcpy(bs.last_id, "0-0");

    bs.state.pid = getpid();
    bs.state.started = bulletin_sync_wall_ms();
    bs.state.synced = 0;
    bs.state.lag = -1;
    bs.state.interval = bs.interval;
    snprintf(bs.state.node, sizeof(bs.state.node), "%s", bs.node);
    bulletin_sync_address(bs.host, bs.port);
}


/* --dump: each slot's own counts and fleet counts, for tests and people */

static int
bulletin_sync_dump(void)
{
    char                       shares[BULLETIN_SYNC_VALUE_SIZE];
    char                       fleet[BULLETIN_SYNC_VALUE_SIZE];
    uint32_t                   i, k, n;
    bulletin_sync_counts_t     c;
    bulletin_fleet_state_t     st;
    bulletin_counters_slot_t  *slot;

    n = bs.info.nchannels;

    bulletin_sync_join_channels(bs.channels, &bs.info);

    printf("# counters \"%s\": zone \"%s\", created %lld, %u of %u slots, "
           "channels \"%s\"\n", bs.counters, bs.info.zone,
           (long long) bs.info.created, (unsigned) bs.info.used,
           (unsigned) bs.info.capacity, bs.channels);

    if (bulletin_fleet_read(bs.map, &st)) {
        printf("# fleet: node \"%s\", pid %lld, redis \"%s\", tick %lld, "
               "synced %lld, lag %lld, syncs %llu, errors %llu, nodes %u, "
               "live %u, error \"%s\"\n", st.node, (long long) st.pid,
               st.redis, (long long) st.tick, (long long) st.synced,
               (long long) st.lag, (unsigned long long) st.syncs,
               (unsigned long long) st.errors, (unsigned) st.nodes,
               (unsigned) st.nodes_live, st.error);

    } else {
        printf("# fleet: no sidecar ever synced\n");
    }

    printf("# id views shares[channel] fleet_views fleet_shares "
           "fleet_channel[channel]\n");

    for (i = 0; i < bs.info.used; i++) {
        slot = bulletin_counters_slot(bs.map, i);

        bulletin_sync_counts(slot, n, &c);
        bulletin_sync_format(shares, &c, n);

        memset(&c, 0, sizeof(c));

        c.v[0] = __atomic_load_n(&slot->fleet_shares, __ATOMIC_RELAXED);

        for (k = 0; k < n; k++) {
            c.v[1 + k] = __atomic_load_n(&slot->fleet_channel[k],
                                         __ATOMIC_RELAXED);
        }

        bulletin_sync_format(fleet, &c, n);

        printf("%.*s %s %llu %s\n", (int) bulletin_counters_id_len(slot),
               slot->id, shares,
               (unsigned long long) __atomic_load_n(&slot->fleet_views,
                                                    __ATOMIC_RELAXED),
               fleet);
    }

    return fflush(stdout) == 0 ? 0 : 1;
}


static void
bulletin_sync_signals(void)
{
    struct sigaction  sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);

    /* no SA_RESTART: the sleep between ticks ends at once */

    sa.sa_handler = bulletin_sync_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}


static void
bulletin_sync_signal(int signo)
{
    bulletin_sync_quit = 1;
}


static int
bulletin_sync_run(void)
{
    int      ok;
    int64_t  next, now;

    next = bulletin_sync_mono_ms();

    for ( ;; ) {
        ok = bulletin_sync_tick();

        if (bs.once || bulletin_sync_quit) {
            break;
        }

        /* a tick that overran is not caught up with: the next is whole */

        now = bulletin_sync_mono_ms();
        next += bs.interval;

        if (next < now) {
            next = now + bs.interval;
        }

        bulletin_sync_wait(next);

        if (bulletin_sync_quit) {
            break;
        }
    }

    bulletin_sync_disconnect();
    bulletin_sync_table_free(&bs.table);
    bulletin_idtab_free(&bs.slots);
    free(bs.published);
    free(bs.snapshot);
    free(bs.changed);
    free(bs.argv);
    free(bs.argvlen);
    free(bs.values);
    free(bs.lines);
    munmap(bs.map, bs.size);

    return (bs.once && !ok) ? 1 : 0;
}


/*
 * A tick: the file checked; the epoch; own counts published; the other
 * nodes' read; their sums handed to nginx; the state written.  Returns
 * 1 when it all succeeded.
 */


/*
 * Until the next tick, the other nodes' counts as they come: an XREAD
 * that blocks, so that what a node publishes just after this node's tick
 * reaches these pages at once, not a tick later.  The lag is then about
 * the publisher's wait for its tick.  Without Redis (the tick failed and
 * disconnected), or with a reload due, it sleeps.
 */

static void
bulletin_sync_wait(int64_t next)
{
    int              more;
    int64_t          now;
    struct timespec  ts;

    while (!bulletin_sync_quit && (now = bulletin_sync_mono_ms()) < next) {

        if (bs.redis != NULL && !bs.reload && next - now >= 10) {
            bs.now = bulletin_sync_wall_ms();
            bs.lag = -1;

            if (bulletin_sync_stream_read(&more, next - now) != 0) {
                /* the next tick says so, and connects again */
                bulletin_sync_disconnect();
                continue;
            }

            if (bs.table.ndirty) {
                bulletin_sync_hand();
            }

            if (bs.lag >= 0) {
                bs.state.lag = bs.lag;
                bulletin_fleet_publish(bs.map, &bs.state);
            }

            continue;
        }

        ts.tv_sec = (next - now) / 1000;
        ts.tv_nsec = (long) ((next - now) % 1000) * 1000000;

        (void) nanosleep(&ts, NULL);
    }
}

static int
bulletin_sync_tick(void)
{
    int          ok, scanned;
    redisReply  *nodes;

    bs.now = bulletin_sync_wall_ms();
    bs.lag = -1;
    bs.error[0] = '\0';
    nodes = NULL;
    ok = 0;

    scanned = (bulletin_sync_recheck() == 0);

    if (bulletin_sync_connect() != 0) {
        goto done;
    }

    if (bulletin_sync_epoch() != 0) {
        goto done;
    }

    if (scanned && bulletin_sync_publish() != 0) {
        goto done;
    }

    if (bulletin_sync_nodes(&nodes) != 0) {
        goto done;
    }

    if (bulletin_sync_read(nodes) != 0) {
        goto done;
    }

    ok = scanned;

done:

    if (nodes != NULL) {
        freeReplyObject(nodes);
    }

    if (scanned) {
        bulletin_sync_hand();
    }

    if (bs.error[0]) {
        bulletin_sync_disconnect();
    }

    bulletin_sync_state(ok);

    return ok;
}


/*
 * The file as it was mapped?  Replaced, or grown by nginx past what is
 * mapped: exit for a restart (systemd's Restart=always) that maps it
 * again, losing nothing, as all that is published is absolute.  Returns
 * -1 when the header could not be read at this instant (nginx's master
 * writing a state copy): the slots are not scanned this tick.
 */

static int
bulletin_sync_recheck(void)
{
    int                          rc;
    char                         detail[BULLETIN_DETAIL_MAX];
    uint32_t                     i, used, newest;
    uint64_t                     seq, max;
    struct stat                  sb;
    bulletin_counters_header_t  *h;

    if (stat(bs.counters, &sb) == -1) {
        if (errno == ENOENT) {
            bulletin_sync_log("counters file \"%s\" was removed: exiting to "
                              "be started again", bs.counters);
            exit(BULLETIN_SYNC_EX_TEMPFAIL);
        }

        /* EACCES: a folder that only root may search; nothing to check */

    } else if (sb.st_dev != bs.dev || sb.st_ino != bs.ino) {
        bulletin_sync_log("counters file \"%s\" was replaced: exiting to be "
                          "started again", bs.counters);
        exit(BULLETIN_SYNC_EX_TEMPFAIL);
    }

    h = (bulletin_counters_header_t *) bs.map;
    max = 0;
    newest = 0;

    for (i = 0; i < 2; i++) {
        seq = __atomic_load_n(&h->state[i].seq, __ATOMIC_ACQUIRE);

        if (seq > max) {
            max = seq;
            newest = __atomic_load_n(&h->state[i].used, __ATOMIC_RELAXED);
        }
    }

    if (newest > bs.info.capacity) {
        bulletin_sync_log("counters file \"%s\" grew to %u slots, %u are "
                          "mapped: exiting to be started again", bs.counters,
                          (unsigned) newest, (unsigned) bs.info.capacity);
        exit(BULLETIN_SYNC_EX_TEMPFAIL);
    }

    rc = bulletin_counters_check(bs.map, bs.size, &bs.info, detail);

    if (rc != BULLETIN_COUNTERS_OK) {
        bulletin_sync_fail("counters file \"%s\": %s: %s; its slots were "
                           "not read this tick", bs.counters,
                           bulletin_counters_strerror(rc), detail);

        /* not Redis's: the connection stays */

        strcpy(bs.unreadable, bs.error);
        bs.error[0] = '\0';

        return -1;
    }

    /*
     * The slots the copy in force covers: an id past them (adopted by the
     * check) may be half written yet.
     */

    used = __atomic_load_n(&h->state[bs.info.state].used, __ATOMIC_RELAXED);

    bs.used = used < bs.info.used ? used : bs.info.used;

    if (bs.used < bs.mapped) {
        bs.used = bs.mapped;
    }

    bulletin_sync_join_channels(bs.channels, &bs.info);

    return 0;
}


static int
bulletin_sync_connect(void)
{
    int             port;
    redisReply     *r;
    const char     *host;
    struct timeval  tv;

    if (bs.redis != NULL) {
        return 0;
    }

    host = bs.moved_host[0] ? bs.moved_host : bs.host;
    port = bs.moved_host[0] ? bs.moved_port : bs.port;

    /* a redirection that fails is tried once: then the address given */

    bs.moved_host[0] = '\0';

    tv.tv_sec = 1;
    tv.tv_usec = 0;

    bs.redis = redisConnectWithTimeout(host, port, tv);

    if (bs.redis == NULL) {
        bulletin_sync_fail("redis %s:%d: cannot connect: out of memory",
                           host, port);
        return -1;
    }

    if (bs.redis->err) {
        bulletin_sync_fail("redis %s:%d: cannot connect: %s", host, port,
                           bs.redis->errstr);
        return -1;
    }

    bulletin_sync_address(host, port);

    /* more than an XREAD blocks between ticks: an interval */

    tv.tv_sec = (bs.interval + 2000) / 1000;
    tv.tv_usec = (bs.interval % 1000) * 1000;

    if (redisSetTimeout(bs.redis, tv) != REDIS_OK) {
        bulletin_sync_fail("redis %s:%d: cannot set the timeout", host, port);
        return -1;
    }

    if (bs.password_len) {
        r = bulletin_sync_command("AUTH %b", bs.password, bs.password_len);

        if (r == NULL) {
            return -1;
        }

        freeReplyObject(r);
    }

    if (bs.db) {
        r = bulletin_sync_command("SELECT %d", bs.db);

        if (r == NULL) {
            return -1;
        }

        freeReplyObject(r);
    }

    return 0;
}


/* "host:port/db" for the status and the log, the host cut to fit */

static void
bulletin_sync_address(const char *host, int port)
{
    snprintf(bs.state.redis, sizeof(bs.state.redis), "%.*s:%d/%d",
             (int) sizeof(bs.state.redis) - 20, host, port, bs.db);
}


static void
bulletin_sync_disconnect(void)
{
    if (bs.redis != NULL) {
        redisFree(bs.redis);
        bs.redis = NULL;
    }
}


/* a reply, or NULL with the tick's error set (connection or Redis's) */

static redisReply *
bulletin_sync_command(const char *fmt, ...)
{
    va_list      args;
    redisReply  *r;

    va_start(args, fmt);
    r = redisvCommand(bs.redis, fmt, args);
    va_end(args);

    if (r == NULL) {
        bulletin_sync_fail("redis %s: %.*s: %s", bs.state.redis,
                           (int) strcspn(fmt, " "), fmt, bs.redis->errstr);
        return NULL;
    }

    if (!bulletin_sync_reply_ok(fmt, r)) {
        freeReplyObject(r);
        return NULL;
    }

    return r;
}


/*
 * An error reply sets the tick's error; "-MOVED SLOT HOST:PORT" (a Redis
 * Cluster node that does not hold the fleet's slot) also says where the
 * next tick connects.
 */

static int
bulletin_sync_reply_ok(const char *what, redisReply *r)
{
    int          port;
    char        *colon, *end;
    size_t       len;
    const char  *addr;

    if (r->type != REDIS_REPLY_ERROR) {
        return 1;
    }

    bulletin_sync_fail("redis %s: %.*s: %.*s", bs.state.redis,
                       (int) strcspn(what, " "), what,
                       (int) (r->len > 200 ? 200 : r->len), r->str);

    if (r->len < 6 || strncmp(r->str, "MOVED ", 6) != 0) {
        return 0;
    }

    addr = strchr(r->str + 6, ' ');

    if (addr == NULL) {
        return 0;
    }

    addr++;
    colon = strrchr(addr, ':');

    if (colon == NULL) {
        return 0;
    }

    len = colon - addr;
    port = (int) strtol(colon + 1, &end, 10);

    if (len == 0 || len > BULLETIN_SYNC_HOST_MAX || *end || port < 1
        || port > 65535)
    {
        return 0;
    }

    memcpy(bs.moved_host, addr, len);
    bs.moved_host[len] = '\0';
    bs.moved_port = port;

    return 0;
}


/*
 * The epoch names Redis's data: a value not seen before (the first tick,
 * or a Redis restarted without persistence, or flushed) means that what
 * was published may be gone, so everything is published again, and the
 * other nodes' counts are read whole.
 */

static int
bulletin_sync_epoch(void)
{
    int          i, j;
    char         value[33];
    uint8_t      rnd[16];
    redisReply  *r;

    static const char  hex[] = "0123456789abcdef";

    r = NULL;

    for (i = 0; i < 2; i++) {
        r = bulletin_sync_command("GET %s", bs.key_epoch);

        if (r == NULL) {
            return -1;
        }

        if (r->type == REDIS_REPLY_STRING || i == 1) {
            break;
        }

        freeReplyObject(r);

        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd)) {
            bulletin_sync_fail("getrandom() failed: %s", strerror(errno));
            return -1;
        }

        for (j = 0; j < 16; j++) {
            value[2 * j] = hex[rnd[j] >> 4];
            value[2 * j + 1] = hex[rnd[j] & 0xf];
        }

        value[32] = '\0';

        /* the first sidecar's value wins: the others GET it */

        r = bulletin_sync_command("SET %s %s NX", bs.key_epoch, value);

        if (r == NULL) {
            return -1;
        }

        freeReplyObject(r);
    }

    if (r->type != REDIS_REPLY_STRING) {
        bulletin_sync_fail("redis %s: %s has no value after SET NX",
                           bs.state.redis, bs.key_epoch);
        freeReplyObject(r);
        return -1;
    }

    if (r->len == strlen(bs.epoch) && memcmp(r->str, bs.epoch, r->len) == 0)
    {
        freeReplyObject(r);
        return 0;
    }

    if (bs.epoch[0]) {
        bulletin_sync_log("redis %s: epoch %s, was %s: Redis lost its data; "
                          "publishing everything again", bs.state.redis,
                          r->len < 33 ? r->str : "(too long)", bs.epoch);
    }

    snprintf(bs.epoch, sizeof(bs.epoch), "%.*s",
             (int) (r->len < 32 ? r->len : 32), r->str);

    freeReplyObject(r);

    memset(bs.published, 0, (size_t) bs.info.capacity
                            * sizeof(bulletin_sync_counts_t));
    bs.reload = 1;

    return 0;
}


/* own slots whose counts differ from the last published: how many */

static uint32_t
bulletin_sync_scan(void)
{
    size_t                     len;
    uint32_t                   i, k, n, nch;
    bulletin_sync_counts_t     c;
    bulletin_counters_slot_t  *slot;

    nch = bs.info.nchannels;

    /* new channels: every page's value is published again, in their order */

    if (strcmp(bs.channels, bs.published_channels) != 0) {
        memset(bs.published, 0, (size_t) bs.info.capacity
                                * sizeof(bulletin_sync_counts_t));
    }

    n = 0;

    for (i = 0; i < bs.used; i++) {
        slot = bulletin_counters_slot(bs.map, i);
        len = bulletin_counters_id_len(slot);

        if (!bulletin_sync_id_valid(slot->id, len)) {
            continue;
        }

        bulletin_sync_counts(slot, nch, &c);

        for (k = 0; k < 1 + nch; k++) {
            if (c.v[k] != bs.published[i].v[k]) {
                break;
            }
        }

        if (k == 1 + nch) {
            continue;
        }

        bs.changed[n] = i;
        bs.snapshot[n] = c;
        n++;
    }

    return n;
}


/*
 * One MULTI ... EXEC, pipelined: the changed pages into this node's hash
 * and into the log, and the node's heartbeat.  Only what EXEC took is
 * remembered as published: anything else is sent again, absolute.
 */

static int
bulletin_sync_publish(void)
{
    char         heartbeat[BULLETIN_SYNC_HOST_MAX + 64];
    uint32_t     n, i, replies;
    redisReply  *r, *exec;

    n = bulletin_sync_scan();

    replies = 0;

    if (redisAppendCommand(bs.redis, "MULTI") != REDIS_OK) {
        goto oom;
    }

    replies++;

    for (i = 0; i < n; i += BULLETIN_SYNC_BATCH) {
        if (bulletin_sync_send_batch(i, n - i < BULLETIN_SYNC_BATCH
                                        ? n - i : BULLETIN_SYNC_BATCH)
            != 0)
        {
            goto oom;
        }

        replies += 2;
    }

    snprintf(heartbeat, sizeof(heartbeat), "%lld %ld %s", (long long) bs.now,
             (long) getpid(), bs.hostname);

    if (redisAppendCommand(bs.redis, "HSET %s %s %s", bs.key_nodes, bs.key,
                           heartbeat)
        != REDIS_OK
        || redisAppendCommand(bs.redis, "EXEC") != REDIS_OK)
    {
        goto oom;
    }

    replies += 2;
    exec = NULL;

    for (i = 0; i < replies; i++) {
        if (redisGetReply(bs.redis, (void **) &r) != REDIS_OK) {
            bulletin_sync_fail("redis %s: publishing: %s", bs.state.redis,
                               bs.redis->errstr);
            goto failed;
        }

        if (!bulletin_sync_reply_ok(i + 1 < replies ? "MULTI" : "EXEC", r)) {
            freeReplyObject(r);
            goto failed;
        }

        if (i + 1 < replies) {
            freeReplyObject(r);
            continue;
        }

        exec = r;
    }

    if (exec->type != REDIS_REPLY_ARRAY || exec->elements != replies - 2) {
        bulletin_sync_fail("redis %s: EXEC: the transaction was aborted",
                           bs.state.redis);
        freeReplyObject(exec);
        goto failed;
    }

    for (i = 0; i < exec->elements; i++) {
        if (!bulletin_sync_reply_ok("EXEC", exec->element[i])) {
            freeReplyObject(exec);
            goto failed;
        }
    }

    freeReplyObject(exec);

    for (i = 0; i < n; i++) {
        bs.published[bs.changed[i]] = bs.snapshot[i];
    }

    strcpy(bs.published_channels, bs.channels);

    return 0;

oom:

    bulletin_sync_fail("redis %s: publishing: out of memory",
                       bs.state.redis);

failed:

    /* the connection is dropped: replies still due go with it */

    return -1;
}


/* one HSET into the node's hash and one XADD, of changed[from, from + n) */

static int
bulletin_sync_send_batch(uint32_t from, uint32_t n)
{
    int                        argc;
    char                       t[BULLETIN_DIGITS_MAX + 1], *v, *d;
    size_t                     len, vlen;
    uint32_t                   i;
    bulletin_counters_slot_t  *slot;

    argc = 0;
    bs.argv[argc] = "HSET";
    bs.argvlen[argc++] = 4;
    bs.argv[argc] = bs.key_node;
    bs.argvlen[argc++] = strlen(bs.key_node);
    bs.argv[argc] = BULLETIN_SYNC_CHANNELS;
    bs.argvlen[argc++] = sizeof(BULLETIN_SYNC_CHANNELS) - 1;
    bs.argv[argc] = bs.channels;
    bs.argvlen[argc++] = strlen(bs.channels);

    v = bs.values;
    d = bs.lines;

    for (i = 0; i < n; i++) {
        slot = bulletin_counters_slot(bs.map, bs.changed[from + i]);
        len = bulletin_counters_id_len(slot);

        vlen = bulletin_sync_format(v, &bs.snapshot[from + i],
                                    bs.info.nchannels);

        bs.argv[argc] = slot->id;
        bs.argvlen[argc++] = len;
        bs.argv[argc] = v;
        bs.argvlen[argc++] = vlen;

        if (i) {
            *d++ = '\n';
        }

        memcpy(d, slot->id, len);
        d += len;
        *d++ = ' ';
        memcpy(d, v, vlen);
        d += vlen;

        v += vlen + 1;
    }

    if (redisAppendCommandArgv(bs.redis, argc, bs.argv, bs.argvlen)
        != REDIS_OK)
    {
        return -1;
    }

    /*
     * The log keeps about 1000 entries: the sidecars a few ticks behind
     * read it; one further behind reads the hashes again.  Its memory is
     * bounded (1000 entries of at most 1000 pages), whatever the load's
     * duration, and an idle log keeps its last entries, which the
     * sidecars' last reads name.
     */

    snprintf(t, sizeof(t), "%lld", (long long) bs.now);

    return redisAppendCommand(bs.redis,
                              "XADD %s MAXLEN ~ " BULLETIN_SYNC_LOG_LEN
                              " * node %s t %s c %s d %b", bs.key_log,
                              bs.key, t, bs.channels, bs.lines,
                              (size_t) (d - bs.lines));
}


/* the fleet's node keys, for the status and a full reload */

static int
bulletin_sync_nodes(redisReply **nodes)
{
    size_t       i;
    int64_t      ms;
    uint32_t     n, live;
    redisReply  *r, *f, *v;

    r = bulletin_sync_command("HGETALL %s", bs.key_nodes);

    if (r == NULL) {
        return -1;
    }

    if (r->type != REDIS_REPLY_ARRAY) {
        bulletin_sync_fail("redis %s: HGETALL %s: not a hash",
                           bs.state.redis, bs.key_nodes);
        freeReplyObject(r);
        return -1;
    }

    n = 0;
    live = 0;

    for (i = 0; i + 1 < r->elements; i += 2) {
        f = r->element[i];
        v = r->element[i + 1];

        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING
            || !bulletin_sync_key_valid(f->str, f->len))
        {
            bulletin_sync_malformed("a field of the nodes hash");
            continue;
        }

        n++;

        ms = bulletin_sync_parse_node(v->str, v->len);

        if (ms >= 0 && bs.now - ms <= BULLETIN_SYNC_LIVE) {
            live++;
        }
    }

    bs.state.nodes = n;
    bs.state.nodes_live = live;

    *nodes = r;

    return 0;
}


static int
bulletin_sync_read(redisReply *nodes)
{
    int       more;
    uint32_t  round;

    if (!bs.reload) {
        if (bulletin_sync_stream_gap() != 0) {
            return -1;
        }
    }

    if (bs.reload) {
        if (bulletin_sync_full_reload(nodes) != 0) {
            return -1;
        }

        bs.reload = 0;
    }

    for (round = 0; round < BULLETIN_SYNC_ROUNDS; round++) {
        if (bulletin_sync_stream_read(&more, 0) != 0) {
            return -1;
        }

        if (!more) {
            break;
        }
    }

    return 0;
}


/*
 * Everything again: the log's newest entry first, so that whatever is
 * published after it is read from the log; then each node's hash.
 */

static int
bulletin_sync_full_reload(redisReply *nodes)
{
    size_t       i;
    redisReply  *r, *f, *id;

    r = bulletin_sync_command("XREVRANGE %s + - COUNT 1", bs.key_log);

    if (r == NULL) {
        return -1;
    }

    strcpy(bs.last_id, "0-0");

    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0
        && r->element[0]->type == REDIS_REPLY_ARRAY
        && r->element[0]->elements == 2)
    {
        id = r->element[0]->element[0];

        if (id->type == REDIS_REPLY_STRING
            && bulletin_sync_stream_id(id->str, id->len, NULL, NULL))
        {
            memcpy(bs.last_id, id->str, id->len);
            bs.last_id[id->len] = '\0';
        }
    }

    freeReplyObject(r);

    for (i = 0; i + 1 < nodes->elements; i += 2) {
        f = nodes->element[i];

        if (f->type != REDIS_REPLY_STRING
            || !bulletin_sync_key_valid(f->str, f->len)
            || strcmp(f->str, bs.key) == 0)
        {
            continue;
        }

        if (bulletin_sync_load_node(f->str, f->len) != 0) {
            return -1;
        }
    }

    return 0;
}


/* a node's hash: its channels, then every page, HSCAN ... COUNT 1000 */

static int
bulletin_sync_load_node(const char *key, size_t len)
{
    char                    cursor[BULLETIN_DIGITS_MAX + 1];
    char                    hash[BULLETIN_SYNC_REDIS_KEY];
    size_t                  i;
    int64_t                 node;
    redisReply             *r, *items, *f, *v;
    bulletin_sync_map_t     map;
    bulletin_sync_counts_t  c;

    node = bulletin_sync_table_node(&bs.table, key, len);

    if (node < 0) {
        if (!bs.table_full) {
            bulletin_sync_log("more than %d node keys: node \"%.*s\" and "
                              "later ones are not counted",
                              BULLETIN_SYNC_NODES_MAX, (int) len, key);
            bs.table_full = 1;
        }

        return 0;
    }

    snprintf(hash, sizeof(hash), "{%s}:n:%.*s", bs.prefix, (int) len, key);

    r = bulletin_sync_command("HGET %s " BULLETIN_SYNC_CHANNELS, hash);

    if (r == NULL) {
        return -1;
    }

    if (r->type != REDIS_REPLY_STRING
        || !bulletin_sync_parse_map(&map, r->str, r->len,
                                    bs.info.channels, bs.info.nchannels))
    {
        if (r->type != REDIS_REPLY_NIL) {
            bulletin_sync_malformed("the channels of a node's hash");
        }

        freeReplyObject(r);
        return 0;
    }

    freeReplyObject(r);

    strcpy(cursor, "0");

    do {
        r = bulletin_sync_command("HSCAN %s %s COUNT 1000", hash, cursor);

        if (r == NULL) {
            return -1;
        }

        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
            || r->element[0]->type != REDIS_REPLY_STRING
            || r->element[0]->len >= sizeof(cursor)
            || r->element[1]->type != REDIS_REPLY_ARRAY)
        {
            bulletin_sync_fail("redis %s: HSCAN %s: an unexpected reply",
                               bs.state.redis, hash);
            freeReplyObject(r);
            return -1;
        }

        memcpy(cursor, r->element[0]->str, r->element[0]->len);
        cursor[r->element[0]->len] = '\0';

        items = r->element[1];

        for (i = 0; i + 1 < items->elements; i += 2) {
            f = items->element[i];
            v = items->element[i + 1];

            if (f->type != REDIS_REPLY_STRING
                || v->type != REDIS_REPLY_STRING)
            {
                bulletin_sync_malformed("a field of a node's hash");
                continue;
            }

            if (f->len == sizeof(BULLETIN_SYNC_CHANNELS) - 1
                && memcmp(f->str, BULLETIN_SYNC_CHANNELS, f->len) == 0)
            {
                continue;
            }

            if (!bulletin_sync_id_valid(f->str, f->len)
                || !bulletin_sync_parse_counts(&map, v->str, v->len, &c))
            {
                bulletin_sync_malformed("a page of a node's hash");
                continue;
            }

            bulletin_sync_merge((uint32_t) node, f->str, f->len, &c);
        }

        freeReplyObject(r);

    } while (strcmp(cursor, "0") != 0);

    return 0;
}


/*
 * Entries trimmed unread (the log's first is past the last one read):
 * the log alone no longer has everything, so a full reload
 */

static int
bulletin_sync_stream_gap(void)
{
    redisReply  *r, *id;

    r = bulletin_sync_command("XRANGE %s - + COUNT 1", bs.key_log);

    if (r == NULL) {
        return -1;
    }

    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0
        && r->element[0]->type == REDIS_REPLY_ARRAY
        && r->element[0]->elements == 2)
    {
        id = r->element[0]->element[0];

        if (id->type == REDIS_REPLY_STRING
            && strcmp(bs.last_id, "0-0") != 0
            && bulletin_sync_stream_after(id->str, id->len, bs.last_id))
        {
            bulletin_sync_log("redis %s: %s was trimmed past what was read: "
                              "reading every node's counts again",
                              bs.state.redis, bs.key_log);
            bs.reload = 1;
        }
    }

    freeReplyObject(r);

    return 0;
}


static int
bulletin_sync_stream_read(int *more, int64_t block)
{
    size_t       i;
    redisReply  *r, *entries, *id;

    *more = 0;

    if (block > 0) {
        r = bulletin_sync_command("XREAD COUNT %d BLOCK %lld STREAMS %s %s",
                                  BULLETIN_SYNC_ENTRIES, (long long) block,
                                  bs.key_log, bs.last_id);

    } else {
        r = bulletin_sync_command("XREAD COUNT %d STREAMS %s %s",
                                  BULLETIN_SYNC_ENTRIES, bs.key_log,
                                  bs.last_id);
    }

    if (r == NULL) {
        return -1;
    }

    if (r->type == REDIS_REPLY_NIL) {
        freeReplyObject(r);
        return 0;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1
        || r->element[0]->type != REDIS_REPLY_ARRAY
        || r->element[0]->elements != 2
        || r->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
    {
        bulletin_sync_fail("redis %s: XREAD %s: an unexpected reply",
                           bs.state.redis, bs.key_log);
        freeReplyObject(r);
        return -1;
    }

    entries = r->element[0]->element[1];

    for (i = 0; i < entries->elements; i++) {
        if (entries->element[i]->type != REDIS_REPLY_ARRAY
            || entries->element[i]->elements != 2)
        {
            break;
        }

        id = entries->element[i]->element[0];

        if (id->type != REDIS_REPLY_STRING
            || !bulletin_sync_stream_id(id->str, id->len, NULL, NULL)
            || !bulletin_sync_stream_after(id->str, id->len, bs.last_id))
        {
            break;
        }

        bulletin_sync_entry(entries->element[i]);

        memcpy(bs.last_id, id->str, id->len);
        bs.last_id[id->len] = '\0';
    }

    if (i < entries->elements) {
        bulletin_sync_fail("redis %s: XREAD %s: an entry with no valid id",
                           bs.state.redis, bs.key_log);
        freeReplyObject(r);
        return -1;
    }

    *more = (entries->elements == BULLETIN_SYNC_ENTRIES);

    freeReplyObject(r);

    return 0;
}


/* a log entry: node KEY t MS c CHANNELS d LINES, another node's merged */

static void
bulletin_sync_entry(const redisReply *e)
{
    size_t                    i;
    int64_t                   node;
    uint64_t                  t;
    const redisReply         *fields, *f, *v, *key, *ms, *ch, *d;
    bulletin_sync_map_t       map;

    fields = e->element[1];

    if (fields->type != REDIS_REPLY_ARRAY) {
        bulletin_sync_malformed("a log entry");
        return;
    }

    key = NULL;
    ms = NULL;
    ch = NULL;
    d = NULL;

    for (i = 0; i + 1 < fields->elements; i += 2) {
        f = fields->element[i];
        v = fields->element[i + 1];

        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            continue;
        }

        if (f->len == 4 && memcmp(f->str, "node", 4) == 0) {
            key = v;

        } else if (f->len == 1 && f->str[0] == 't') {
            ms = v;

        } else if (f->len == 1 && f->str[0] == 'c') {
            ch = v;

        } else if (f->len == 1 && f->str[0] == 'd') {
            d = v;
        }
    }

    if (key == NULL || ms == NULL || ch == NULL || d == NULL
        || !bulletin_sync_key_valid(key->str, key->len)
        || !bulletin_sync_parse_u64(ms->str, ms->len, &t)
        || !bulletin_sync_parse_map(&map, ch->str, ch->len,
                                    bs.info.channels, bs.info.nchannels))
    {
        bulletin_sync_malformed("a log entry");
        return;
    }

    if (key->len == strlen(bs.key) && memcmp(key->str, bs.key, key->len) == 0)
    {
        return;
    }

    node = bulletin_sync_table_node(&bs.table, key->str, key->len);

    if (node < 0) {
        if (!bs.table_full) {
            bulletin_sync_log("more than %d node keys: node \"%.*s\" and "
                              "later ones are not counted",
                              BULLETIN_SYNC_NODES_MAX, (int) key->len,
                              key->str);
            bs.table_full = 1;
        }

        return;
    }

    if (t <= (uint64_t) bs.now && (int64_t) (bs.now - t) > bs.lag) {
        bs.lag = bs.now - (int64_t) t;

    } else if (t > (uint64_t) bs.now && bs.lag < 0) {
        bs.lag = 0;                 /* a clock ahead of this one */
    }

    bulletin_sync_merge_lines((uint32_t) node, &map, d->str, d->len);
}


static void
bulletin_sync_merge_lines(uint32_t node, const bulletin_sync_map_t *map,
    const char *d, size_t len)
{
    size_t                  n, id_len;
    const char             *p, *end, *nl, *id;
    bulletin_sync_counts_t  c;

    p = d;
    end = d + len;

    while (p < end) {
        nl = memchr(p, '\n', end - p);
        n = (nl ? nl : end) - p;

        if (n > BULLETIN_SYNC_LINE
            || !bulletin_sync_parse_line(map, p, n, &id, &id_len, &c))
        {
            bulletin_sync_malformed("a line of a log entry");

        } else {
            bulletin_sync_merge(node, id, id_len, &c);
        }

        p += n + 1;
    }
}


static void
bulletin_sync_merge(uint32_t node, const char *id, size_t len,
    const bulletin_sync_counts_t *c)
{
    static int  logged;

    if (bulletin_sync_table_merge(&bs.table, node, id, len, c) == -1
        && !logged)
    {
        bulletin_sync_log("out of memory: some pages' fleet counts are not "
                          "kept");
        logged = 1;
    }
}


static void
bulletin_sync_malformed(const char *what)
{
    if (bs.malformed++ == 0) {
        bulletin_sync_log("redis %s: %s is malformed, skipped (and later "
                          "ones, unlogged)", bs.state.redis, what);
    }
}


static int
bulletin_sync_stream_id(const char *s, size_t len, uint64_t *ms,
    uint64_t *seq)
{
    uint64_t     a, b;
    const char  *dash;

    if (len >= BULLETIN_SYNC_STREAM_ID) {
        return 0;
    }

    dash = memchr(s, '-', len);

    if (dash == NULL
        || !bulletin_sync_parse_u64(s, dash - s, &a)
        || !bulletin_sync_parse_u64(dash + 1, len - (dash - s) - 1, &b))
    {
        return 0;
    }

    if (ms) {
        *ms = a;
        *seq = b;
    }

    return 1;
}


/* stream id a (len bytes) comes after b */

static int
bulletin_sync_stream_after(const char *a, size_t len, const char *b)
{
    uint64_t  ams, aseq, bms, bseq;

    if (!bulletin_sync_stream_id(a, len, &ams, &aseq)
        || !bulletin_sync_stream_id(b, strlen(b), &bms, &bseq))
    {
        return 0;
    }

    return ams > bms || (ams == bms && aseq > bseq);
}


/*
 * The other nodes' sums into the slots: of the pages whose sum rose, and
 * of the slots nginx added since the last tick.
 */

static void
bulletin_sync_hand(void)
{
    size_t                     len;
    int64_t                    page, slot;
    uint32_t                   i, from;
    bulletin_counters_slot_t  *s;

    from = bs.mapped;

    for (i = from; i < bs.used; i++) {
        s = bulletin_counters_slot(bs.map, i);
        len = bulletin_counters_id_len(s);

        if (!bulletin_id_valid((const uint8_t *) s->id, len, 1)
            || bulletin_idtab_find(&bs.slots, (const uint8_t *) s->id, len)
               >= 0
            || bulletin_idtab_add(&bs.slots, i) != BULLETIN_OK)
        {
            continue;
        }

        page = bulletin_sync_table_find(&bs.table, s->id, len);

        if (page >= 0) {
            bulletin_sync_write_slot(i, (uint32_t) page);
        }
    }

    bs.mapped = bs.used;

    for (i = 0; i < bs.table.ndirty; i++) {
        page = bs.table.dirty[i];

        slot = bulletin_idtab_find(&bs.slots,
                                   (const uint8_t *) bs.table.pages[page].id,
                                   bs.table.pages[page].len);

        if (slot >= 0 && slot < from) {
            bulletin_sync_write_slot((uint32_t) slot, (uint32_t) page);
        }
    }

    bulletin_sync_table_clean(&bs.table);
}


/*
 * Each field the max of what the slot holds and the sum: the slot is the
 * floor, kept in the file across restarts of this sidecar, so that what a
 * reader sees never goes down, even while a Redis that lost its data
 * waits for the other nodes to publish again.
 */

static void
bulletin_sync_write_slot(uint32_t slot, uint32_t page)
{
    uint32_t                   k, ch, old;
    uint64_t                   shares;
    bulletin_sync_counts_t     sum;
    bulletin_counters_slot_t  *s;

    s = bulletin_counters_slot(bs.map, slot);

    bulletin_sync_table_sum(&bs.table, page, &sum);

    shares = 0;

    for (k = 0; k < bs.info.nchannels; k++) {
        shares = (shares > UINT64_MAX - sum.v[1 + k])
                 ? UINT64_MAX : shares + sum.v[1 + k];

        ch = sum.v[1 + k] > UINT32_MAX ? UINT32_MAX : (uint32_t) sum.v[1 + k];
        old = __atomic_load_n(&s->fleet_channel[k], __ATOMIC_RELAXED);

        if (ch > old) {
            __atomic_store_n(&s->fleet_channel[k], ch, __ATOMIC_RELAXED);
        }
    }

    bulletin_sync_max64(&s->fleet_views, sum.v[0]);
    bulletin_sync_max64(&s->fleet_shares, shares);
}


static void
bulletin_sync_max64(uint64_t *p, uint64_t v)
{
    if (v > __atomic_load_n(p, __ATOMIC_RELAXED)) {
        __atomic_store_n(p, v, __ATOMIC_RELAXED);
    }
}


/* the state for nginx's status: written whatever the tick's outcome */

static void
bulletin_sync_state(int ok)
{
    bulletin_fleet_state_t  *st;

    st = &bs.state;

    st->tick = bs.now;

    if (ok) {
        st->synced = bs.now;
        st->lag = bs.lag;
        st->syncs++;

        if (bs.logged[0]) {
            bulletin_sync_log("redis %s: syncing again", st->redis);
            bs.logged[0] = '\0';
        }

    } else {
        st->errors++;

        if (bs.error[0] == '\0') {
            strcpy(bs.error, bs.unreadable);
        }

        snprintf(st->error, sizeof(st->error), "%s", bs.error);
        st->error_at = bs.now;

        if (strcmp(bs.error, bs.logged) != 0) {
            bulletin_sync_log("%s", bs.error);
            strcpy(bs.logged, bs.error);
        }
    }

    bulletin_fleet_publish(bs.map, st);
}


static const uint8_t *
bulletin_sync_slot_key(const void *ctx, uint32_t index, size_t *len)
{
    bulletin_counters_slot_t  *slot;

    slot = bulletin_counters_slot(bs.map, index);

    *len = bulletin_counters_id_len(slot);

    return (const uint8_t *) slot->id;
}


static void
bulletin_sync_counts(const bulletin_counters_slot_t *slot,
    uint32_t nchannels, bulletin_sync_counts_t *c)
{
    uint32_t  k;

    memset(c, 0, sizeof(bulletin_sync_counts_t));

    c->v[0] = __atomic_load_n(&slot->views, __ATOMIC_RELAXED);

    for (k = 0; k < nchannels && k < BULLETIN_CHANNELS_MAX; k++) {
        c->v[1 + k] = __atomic_load_n(&slot->shares[k], __ATOMIC_RELAXED);
    }
}


static void
bulletin_sync_join_channels(char *buf, const bulletin_counters_info_t *info)
{
    size_t    n;
    uint32_t  k;

    for (k = 0; k < info->nchannels && k < BULLETIN_CHANNELS_MAX; k++) {
        if (k) {
            *buf++ = ' ';
        }

        n = strnlen(info->channels[k], BULLETIN_CHANNEL_SIZE);
        memcpy(buf, info->channels[k], n);
        buf += n;
    }

    *buf = '\0';
}


static int64_t
bulletin_sync_wall_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static int64_t
bulletin_sync_mono_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
