/* How many ZMTP connections per second one process sets up.
 *
 *   setup_rate fd|ipc|tcp <connections> <batch> <scratch-dir>
 *
 * A ROUTER serves; a pool of <batch> DEALERs takes turns. Each round every
 * DEALER connects (fd: the ROUTER and the DEALER each zmq_connect one end of
 * a new socketpair; ipc/tcp: the DEALER connects to the ROUTER's endpoint),
 * sends one message, and once the ROUTER has them all, disconnects. So one
 * connection is: descriptor, connect, ZMTP handshake, a first message, and
 * its close; the sockets themselves are made before the clock starts.
 * Prints "connection rate: <n> [conn/s]". */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static void check (int ok, const char *what)
{
    if (!ok) {
        fprintf (stderr, "setup_rate: %s: %s\n", what, zmq_strerror (errno));
        exit (1);
    }
}

static double now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

int main (int argc, char *argv[])
{
    if (argc != 5) {
        fprintf (stderr, "usage: setup_rate fd|ipc|tcp <connections> <batch> <scratch-dir>\n");
        return 2;
    }
    const char *transport = argv[1];
    const int fd = strcmp (transport, "fd") == 0;
    const long total = atol (argv[2]);
    const int batch = atoi (argv[3]);
    if (total < 1 || batch < 1 || (!fd && strcmp (transport, "ipc") != 0 && strcmp (transport, "tcp") != 0)) {
        fprintf (stderr, "setup_rate: bad arguments\n");
        return 2;
    }

    void *ctx = zmq_ctx_new ();
    check (ctx != NULL, "zmq_ctx_new");
    check (zmq_ctx_set (ctx, ZMQ_MAX_SOCKETS, batch + 16) == 0, "ZMQ_MAX_SOCKETS");
    void *server = zmq_socket (ctx, ZMQ_ROUTER);
    check (server != NULL, "zmq_socket");
    /* Every pending connection of a round must fit in the listen backlog:
     * past it, a UNIX connect fails and libzmq retries 100 ms later. */
    check (zmq_setsockopt (server, ZMQ_BACKLOG, &batch, sizeof batch) == 0, "ZMQ_BACKLOG");
    char endpoint[512] = "";
    if (!fd) {
        char bind_to[512];
        if (strcmp (transport, "ipc") == 0)
            snprintf (bind_to, sizeof bind_to, "ipc://%s/setup-%d.sock", argv[4], (int) getpid ());
        else
            snprintf (bind_to, sizeof bind_to, "tcp://127.0.0.1:*");
        check (zmq_bind (server, bind_to) == 0, "zmq_bind");
        size_t size = sizeof endpoint;
        check (zmq_getsockopt (server, ZMQ_LAST_ENDPOINT, endpoint, &size) == 0, "ZMQ_LAST_ENDPOINT");
    }

    void **clients = calloc ((size_t) batch, sizeof *clients);
    char (*endpoints)[64] = calloc ((size_t) batch, sizeof *endpoints);
    check (clients && endpoints, "calloc");
    const int zero = 0;
    for (int i = 0; i < batch; i++) {
        clients[i] = zmq_socket (ctx, ZMQ_DEALER);
        check (clients[i] != NULL, "zmq_socket");
        check (zmq_setsockopt (clients[i], ZMQ_LINGER, &zero, sizeof zero) == 0, "ZMQ_LINGER");
    }

    char buffer[256];
    const double began = now_us ();
    long done = 0;
    while (done < total) {
        const int round = total - done < batch ? (int) (total - done) : batch;
        for (int i = 0; i < round; i++) {
            if (fd) {
                int pair[2];
                check (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0, "socketpair");
                char mine[64];
                snprintf (mine, sizeof mine, "fd://%d", pair[0]);
                snprintf (endpoints[i], sizeof endpoints[i], "fd://%d", pair[1]);
                check (zmq_connect (server, mine) == 0, "zmq_connect (server)");
                check (zmq_connect (clients[i], endpoints[i]) == 0, "zmq_connect (client)");
            } else {
                check (zmq_connect (clients[i], endpoint) == 0, "zmq_connect");
            }
            check (zmq_send (clients[i], "hello", 5, 0) == 5, "zmq_send");
        }
        for (int i = 0; i < round; i++) {
            check (zmq_recv (server, buffer, sizeof buffer, 0) >= 0, "zmq_recv (routing id)");
            check (zmq_recv (server, buffer, sizeof buffer, 0) == 5, "zmq_recv (hello)");
        }
        for (int i = 0; i < round; i++)
            check (zmq_disconnect (clients[i], fd ? endpoints[i] : endpoint) == 0, "zmq_disconnect");
        done += round;
    }
    double elapsed = now_us () - began;
    if (elapsed < 1)
        elapsed = 1;
    printf ("connections: %ld\n", total);
    printf ("connection rate: %.1f [conn/s]\n", (double) total / elapsed * 1e6);

    for (int i = 0; i < batch; i++)
        zmq_close (clients[i]);
    zmq_close (server);
    zmq_ctx_term (ctx);
    if (!fd && strcmp (transport, "ipc") == 0)
        unlink (endpoint + strlen ("ipc://"));
    return 0;
}
