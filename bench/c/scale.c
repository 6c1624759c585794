/* One ROUTER holding many peers: what each connection costs as they grow.
 *
 *   scale fd|ipc <peers> <rounds> <scratch-dir>
 *
 * This process holds the ROUTER; two forked ones hold half of the <peers>
 * DEALERs each, one connection per DEALER (fd: each ROUTER–DEALER pair shares
 * a socketpair made before the fork, both ends connected with fd://; ipc: the
 * ROUTER binds a path, every DEALER connects to it). Only the ROUTER's
 * process is measured:
 *   setup: from the first connect until the ROUTER has a hello from every peer;
 *   memory: its resident set then, less what it was with no connection;
 *   round: the ROUTER sends one message to every peer and gets every reply
 *          (the median of <rounds> rounds).
 * A DEALER costs its process two descriptors, its connection and its
 * socket's mailbox: the peers are split in two so that 10,000 of them fit
 * under a hard RLIMIT_NOFILE of 20,000, which unprivileged containers cannot
 * raise. The soft limit is raised to what the processes need. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

enum { PEER_PROCESSES = 2 };

static void check (int ok, const char *what)
{
    if (!ok) {
        fprintf (stderr, "scale[%d]: %s: %s\n", (int) getpid (), what, zmq_strerror (errno));
        exit (1);
    }
}

static double now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static long resident_kib (void)
{
    FILE *f = fopen ("/proc/self/statm", "r");
    long size = 0, resident = 0;
    check (f != NULL && fscanf (f, "%ld %ld", &size, &resident) == 2, "/proc/self/statm");
    fclose (f);
    return resident * (sysconf (_SC_PAGESIZE) / 1024);
}

static void raise_nofile (long needed)
{
    struct rlimit limit;
    check (getrlimit (RLIMIT_NOFILE, &limit) == 0, "getrlimit");
    if ((long) limit.rlim_cur >= needed)
        return;
    if ((long) limit.rlim_max < needed)
        limit.rlim_max = (rlim_t) needed;
    limit.rlim_cur = (rlim_t) needed;
    if (setrlimit (RLIMIT_NOFILE, &limit) != 0) {
        fprintf (stderr,
                 "scale: this many peers need %ld descriptors, and RLIMIT_NOFILE cannot be "
                 "raised that far (%s): raise the hard limit (ulimit -Hn %ld, or LimitNOFILE= "
                 "for a service) or run as root\n",
                 needed, strerror (errno), needed);
        exit (3);
    }
}

/* One byte over a pipe: the two processes' steps, in order. */
static void signal_step (int fd)
{
    check (write (fd, "x", 1) == 1, "write (sync pipe)");
}

static void await_step (int fd)
{
    char c;
    check (read (fd, &c, 1) == 1, "read (sync pipe): the other process ended");
}

static int compare (const void *a, const void *b)
{
    const double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static void *context (int sockets)
{
    void *ctx = zmq_ctx_new ();
    check (ctx != NULL, "zmq_ctx_new");
    check (zmq_ctx_set (ctx, ZMQ_MAX_SOCKETS, sockets + 16) == 0, "ZMQ_MAX_SOCKETS");
    return ctx;
}

static void peers (int fd, int count, int rounds, const char *endpoint, const int *ends, int go, int done)
{
    void *ctx = context (count);
    void **dealers = calloc ((size_t) count, sizeof *dealers);
    check (dealers != NULL, "calloc");
    const int zero = 0;
    for (int i = 0; i < count; i++) {
        dealers[i] = zmq_socket (ctx, ZMQ_DEALER);
        check (dealers[i] != NULL, "zmq_socket (DEALER)");
        check (zmq_setsockopt (dealers[i], ZMQ_LINGER, &zero, sizeof zero) == 0, "ZMQ_LINGER");
    }
    await_step (go);
    char name[64];
    for (int i = 0; i < count; i++) {
        if (fd)
            snprintf (name, sizeof name, "fd://%d", ends[i]);
        check (zmq_connect (dealers[i], fd ? name : endpoint) == 0, "zmq_connect (DEALER)");
        check (zmq_send (dealers[i], "hello", 5, 0) == 5, "zmq_send (hello)");
    }
    char buffer[64];
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < count; i++) {
            check (zmq_recv (dealers[i], buffer, sizeof buffer, 0) == 4, "zmq_recv (ping)");
            check (zmq_send (dealers[i], "pong", 4, 0) == 4, "zmq_send (pong)");
        }
    await_step (done);
    for (int i = 0; i < count; i++)
        zmq_close (dealers[i]);
    zmq_ctx_term (ctx);
}

int main (int argc, char *argv[])
{
    if (argc != 5 || (strcmp (argv[1], "fd") != 0 && strcmp (argv[1], "ipc") != 0)) {
        fprintf (stderr, "usage: scale fd|ipc <peers> <rounds> <scratch-dir>\n");
        return 2;
    }
    const int fd = strcmp (argv[1], "fd") == 0;
    const int count = atoi (argv[2]);
    const int rounds = atoi (argv[3]);
    if (count < PEER_PROCESSES || rounds < 1) {
        fprintf (stderr, "scale: bad arguments\n");
        return 2;
    }
    /* The most open at once, in this process: its end of every pair, and the
     * peers' ends of the last group until that group's process is forked. A
     * peers' process needs two per DEALER, fewer. */
    raise_nofile (count + (count / PEER_PROCESSES + 1) + 256);

    char endpoint[512] = "";
    snprintf (endpoint, sizeof endpoint, "ipc://%s/scale-%d.sock", argv[4], (int) getpid ());
    int *router_ends = calloc ((size_t) count, sizeof *router_ends);
    int *peer_ends = calloc ((size_t) count, sizeof *peer_ends);
    check (router_ends && peer_ends, "calloc");

    int ready[2], go[2], done[2];
    check (pipe (ready) == 0 && pipe (go) == 0 && pipe (done) == 0, "pipe");
    pid_t children[PEER_PROCESSES];
    for (int k = 0; k < PEER_PROCESSES; k++) {
        const int first = (int) ((long) count * k / PEER_PROCESSES);
        const int last = (int) ((long) count * (k + 1) / PEER_PROCESSES);
        if (fd)
            for (int i = first; i < last; i++) {
                int pair[2];
                check (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0, "socketpair");
                router_ends[i] = pair[0];
                peer_ends[i] = pair[1];
            }
        children[k] = fork ();
        check (children[k] >= 0, "fork");
        if (children[k] == 0) {
            close (ready[0]);
            close (go[1]);
            close (done[1]);
            if (fd)
                for (int i = 0; i < last; i++)
                    close (router_ends[i]);
            signal_step (ready[1]);
            peers (fd, last - first, rounds, endpoint, peer_ends + first, go[0], done[0]);
            _exit (0);
        }
        if (fd)
            for (int i = first; i < last; i++)
                close (peer_ends[i]);
    }
    close (ready[1]);
    close (go[0]);
    close (done[0]);

    void *ctx = context (1);
    void *router = zmq_socket (ctx, ZMQ_ROUTER);
    check (router != NULL, "zmq_socket (ROUTER)");
    const int one = 1;
    check (zmq_setsockopt (router, ZMQ_ROUTER_MANDATORY, &one, sizeof one) == 0, "ZMQ_ROUTER_MANDATORY");
    /* The kernel caps this at net.core.somaxconn; past the cap a UNIX connect
     * fails with EAGAIN and libzmq retries it 100 ms later, which is ipc://'s
     * real behaviour under a burst of connections. */
    check (zmq_setsockopt (router, ZMQ_BACKLOG, &count, sizeof count) == 0, "ZMQ_BACKLOG");
    if (!fd)
        check (zmq_bind (router, endpoint) == 0, "zmq_bind");
    for (int k = 0; k < PEER_PROCESSES; k++)
        await_step (ready[0]);
    const long resident_before = resident_kib ();

    for (int k = 0; k < PEER_PROCESSES; k++)
        signal_step (go[1]);
    const double began = now_us ();
    char name[64];
    if (fd)
        for (int i = 0; i < count; i++) {
            snprintf (name, sizeof name, "fd://%d", router_ends[i]);
            check (zmq_connect (router, name) == 0, "zmq_connect (ROUTER)");
        }
    unsigned char (*ids)[256] = calloc ((size_t) count, sizeof *ids);
    size_t *id_sizes = calloc ((size_t) count, sizeof *id_sizes);
    check (ids && id_sizes, "calloc");
    char buffer[64];
    for (int i = 0; i < count; i++) {
        const int size = zmq_recv (router, ids[i], sizeof ids[i], 0);
        check (size > 0, "zmq_recv (routing id)");
        id_sizes[i] = (size_t) size;
        check (zmq_recv (router, buffer, sizeof buffer, 0) == 5, "zmq_recv (hello)");
    }
    const double setup = now_us () - began;
    const long resident_after = resident_kib ();

    double *times = calloc ((size_t) rounds, sizeof *times);
    check (times != NULL, "calloc");
    for (int r = 0; r < rounds; r++) {
        const double start = now_us ();
        for (int i = 0; i < count; i++) {
            check (zmq_send (router, ids[i], id_sizes[i], ZMQ_SNDMORE) == (int) id_sizes[i], "zmq_send (routing id)");
            check (zmq_send (router, "ping", 4, 0) == 4, "zmq_send (ping)");
        }
        for (int i = 0; i < count; i++) {
            check (zmq_recv (router, buffer, sizeof buffer, 0) > 0, "zmq_recv (routing id)");
            check (zmq_recv (router, buffer, sizeof buffer, 0) == 4, "zmq_recv (pong)");
        }
        times[r] = now_us () - start;
    }
    qsort (times, (size_t) rounds, sizeof *times, compare);
    for (int k = 0; k < PEER_PROCESSES; k++)
        signal_step (done[1]);

    printf ("peers: %d\n", count);
    printf ("setup: %.0f [us]\n", setup);
    printf ("resident: %ld %ld [KiB]\n", resident_before, resident_after);
    printf ("round: %.0f [us]\n", times[rounds / 2]);

    zmq_close (router);
    zmq_ctx_term (ctx);
    int failed = 0;
    for (int k = 0; k < PEER_PROCESSES; k++) {
        int status;
        check (waitpid (children[k], &status, 0) == children[k], "waitpid");
        failed |= !WIFEXITED (status) || WEXITSTATUS (status) != 0;
    }
    if (!fd)
        unlink (endpoint + strlen ("ipc://"));
    if (failed) {
        fprintf (stderr, "scale: a peers' process failed\n");
        return 1;
    }
    return 0;
}
