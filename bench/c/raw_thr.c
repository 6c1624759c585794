/* The ceiling for a stream transport: the same payloads as local_thr and
 * remote_thr, over a raw socketpair or loopback TCP connection, with plain
 * write/read and a 4-byte length before each message.
 *
 *   raw_thr pair|tcp <message-size> <message-count>
 *
 * A forked writer sends; the reader counts, and reports like local_thr does
 * (timed from the first message to the last, message count over that time),
 * so that both parse the same way. Each side does what a good hand-written
 * framing layer would, and no more: small messages are batched into 64 KiB
 * writes and read 64 KiB at a time; a large one goes out in one writev with
 * its header and is read straight into the message buffer. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { BATCH = 65536, HEADER = 4 };

static void die (const char *what)
{
    fprintf (stderr, "raw_thr: %s: %s\n", what, strerror (errno));
    exit (1);
}

static void write_all (int fd, const unsigned char *data, size_t size)
{
    while (size > 0) {
        const ssize_t n = write (fd, data, size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die ("write");
        }
        data += n;
        size -= (size_t) n;
    }
}

static void writev_all (int fd, struct iovec *iov, int count)
{
    while (count > 0) {
        ssize_t n = writev (fd, iov, count);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die ("writev");
        }
        while (count > 0 && (size_t) n >= iov->iov_len) {
            n -= (ssize_t) iov->iov_len;
            iov++;
            count--;
        }
        if (count > 0) {
            iov->iov_base = (unsigned char *) iov->iov_base + n;
            iov->iov_len -= (size_t) n;
        }
    }
}

/* Reads at least `min` and at most `max` bytes; fails at end of stream. */
static size_t read_some (int fd, unsigned char *into, size_t min, size_t max)
{
    size_t got = 0;
    while (got < min) {
        const ssize_t n = read (fd, into + got, max - got);
        if (n == 0) {
            fprintf (stderr, "raw_thr: the writer closed the connection early\n");
            exit (1);
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die ("read");
        }
        got += (size_t) n;
    }
    return got;
}

static void writer (int fd, size_t size, long count)
{
    unsigned char *batch = malloc (BATCH);
    unsigned char *payload = calloc (1, size ? size : 1);
    if (!batch || !payload)
        die ("malloc");
    const uint32_t header = htonl ((uint32_t) size);
    size_t used = 0;
    for (long i = 0; i < count; i++) {
        if (HEADER + size <= BATCH) {
            if (used + HEADER + size > BATCH) {
                write_all (fd, batch, used);
                used = 0;
            }
            memcpy (batch + used, &header, HEADER);
            memcpy (batch + used + HEADER, payload, size);
            used += HEADER + size;
        } else {
            write_all (fd, batch, used);
            used = 0;
            struct iovec iov[2] = {{(void *) &header, HEADER}, {payload, size}};
            writev_all (fd, iov, 2);
        }
    }
    write_all (fd, batch, used);
}

static double now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static void reader (int fd, size_t size, long count)
{
    unsigned char *buffer = malloc (BATCH);
    unsigned char *message = malloc (size ? size : 1);
    if (!buffer || !message)
        die ("malloc");
    size_t start = 0, end = 0;
    int large = 0;
    double began = 0;
    for (long i = 0; i < count; i++) {
        if (end - start < HEADER) {
            memmove (buffer, buffer + start, end - start);
            end -= start;
            start = 0;
            /* After a large message the next is likely large too: take only
             * its header, so that its payload is read in place, not copied. */
            end += read_some (fd, buffer + end, HEADER - end, large ? HEADER : BATCH - end);
        }
        uint32_t header;
        memcpy (&header, buffer + start, HEADER);
        start += HEADER;
        const size_t length = ntohl (header);
        if (length != size) {
            fprintf (stderr, "raw_thr: message of %zu bytes, expected %zu\n", length, size);
            exit (1);
        }
        large = HEADER + length > BATCH;
        const size_t buffered = end - start < length ? end - start : length;
        memcpy (message, buffer + start, buffered);
        start += buffered;
        if (buffered < length) {
            if (large) {
                read_some (fd, message + buffered, length - buffered, length - buffered);
            } else {
                memmove (buffer, buffer + start, end - start);
                end -= start;
                start = 0;
                end += read_some (fd, buffer + end, length - buffered, BATCH - end);
                memcpy (message + buffered, buffer, length - buffered);
                start = length - buffered;
            }
        }
        if (i == 0)
            began = now_us ();
    }
    double elapsed = now_us () - began;
    if (elapsed < 1)
        elapsed = 1;
    const double throughput = (double) count / elapsed * 1e6;
    printf ("message size: %d [B]\n", (int) size);
    printf ("message count: %d\n", (int) count);
    printf ("mean throughput: %d [msg/s]\n", (int) throughput);
    printf ("mean throughput: %.3f [Mb/s]\n", throughput * (double) size * 8 / 1e6);
}

/* A connected pair of loopback TCP sockets, with TCP_NODELAY as libzmq sets it. */
static void tcp_pair (int fds[2])
{
    const int listener = socket (AF_INET, SOCK_STREAM, 0);
    if (listener < 0)
        die ("socket");
    struct sockaddr_in address;
    memset (&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (bind (listener, (struct sockaddr *) &address, sizeof address) < 0
        || listen (listener, 1) < 0
        || getsockname (listener, (struct sockaddr *) &address, &length) < 0)
        die ("listen on 127.0.0.1");
    fds[0] = socket (AF_INET, SOCK_STREAM, 0);
    if (fds[0] < 0 || connect (fds[0], (struct sockaddr *) &address, sizeof address) < 0)
        die ("connect to 127.0.0.1");
    fds[1] = accept (listener, NULL, NULL);
    if (fds[1] < 0)
        die ("accept");
    close (listener);
    const int one = 1;
    for (int i = 0; i < 2; i++)
        if (setsockopt (fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
            die ("TCP_NODELAY");
}

int main (int argc, char *argv[])
{
    if (argc != 4 || (strcmp (argv[1], "pair") != 0 && strcmp (argv[1], "tcp") != 0)) {
        fprintf (stderr, "usage: raw_thr pair|tcp <message-size> <message-count>\n");
        return 2;
    }
    const size_t size = (size_t) atol (argv[2]);
    const long count = atol (argv[3]);
    if (count < 1 || size > UINT32_MAX) {
        fprintf (stderr, "raw_thr: bad message size or count\n");
        return 2;
    }
    int fds[2];
    if (strcmp (argv[1], "pair") == 0) {
        if (socketpair (AF_UNIX, SOCK_STREAM, 0, fds) < 0)
            die ("socketpair");
    } else {
        tcp_pair (fds);
    }
    const pid_t pid = fork ();
    if (pid < 0)
        die ("fork");
    if (pid == 0) {
        close (fds[1]);
        writer (fds[0], size, count);
        close (fds[0]);
        _exit (0);
    }
    close (fds[0]);
    reader (fds[1], size, count);
    int status;
    if (waitpid (pid, &status, 0) < 0)
        die ("waitpid");
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        fprintf (stderr, "raw_thr: the writer failed\n");
        return 1;
    }
    return 0;
}
