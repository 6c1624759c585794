/* LD_PRELOAD shim for the `slowio` suite of `npm test` (scripts/test.ts),
   which runs tests/faults.test.ts with it. Each epoll_wait () of a libzmq
   I/O thread (libzmq names them "ZMQbg/IO/<n>") sleeps ZMQ_FD_SLOW_IO_MS
   milliseconds (20 if unset) first. The application's commands then overtake
   the I/O thread's next step, as they can on a loaded machine, but every
   time: a test that counts on the I/O thread being quick fails here instead
   of once in a while in CI.

   With ZMQ_FD_SLOW_IO_RECV set, each recv () of those threads is delayed
   the same way: the I/O thread then reads a peer's handshake well after the
   peer has read libzmq's, which libzmq's test_mock_pub_sub once counted on
   never happening (the suite runs that test so, too).

   At exit, "<pid> <delayed calls>" is appended to the file named by
   ZMQ_FD_SLOW_IO_LOG, so that the suite can tell the shim was in effect. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static unsigned long delayed;

static long delay_ns (void)
{
    const char *ms = getenv ("ZMQ_FD_SLOW_IO_MS");
    return (ms ? atol (ms) : 20) * 1000000L;
}

/* Sleeps first if the calling thread is one of libzmq's I/O threads. */
static void delay_io_thread (void)
{
    char name[16] = {0};
    if (prctl (PR_GET_NAME, name) == 0 && strncmp (name, "ZMQbg/IO/", 9) == 0) {
        const long ns = delay_ns ();
        const struct timespec pause = {ns / 1000000000L, ns % 1000000000L};
        nanosleep (&pause, NULL);
        __atomic_add_fetch (&delayed, 1, __ATOMIC_RELAXED);
    }
}

int epoll_wait (int epfd, struct epoll_event *events, int max, int timeout)
{
    static int (*real) (int, struct epoll_event *, int, int);
    if (!real)
        real = (int (*) (int, struct epoll_event *, int, int)) dlsym (
          RTLD_NEXT, "epoll_wait");
    delay_io_thread ();
    return real (epfd, events, max, timeout);
}

ssize_t recv (int fd, void *buf, size_t len, int flags)
{
    static ssize_t (*real) (int, void *, size_t, int);
    if (!real)
        real =
          (ssize_t (*) (int, void *, size_t, int)) dlsym (RTLD_NEXT, "recv");
    if (getenv ("ZMQ_FD_SLOW_IO_RECV"))
        delay_io_thread ();
    return real (fd, buf, len, flags);
}

__attribute__ ((destructor)) static void report (void)
{
    const char *log = getenv ("ZMQ_FD_SLOW_IO_LOG");
    if (!log)
        return;
    const int fd = open (log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char line[64];
    const int n = snprintf (line, sizeof line, "%ld %lu\n", (long) getpid (),
                            __atomic_load_n (&delayed, __ATOMIC_RELAXED));
    if (n > 0 && write (fd, line, (size_t) n) != n)
        perror ("slow-io-thread: ZMQ_FD_SLOW_IO_LOG");
    close (fd);
}
