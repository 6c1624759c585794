/* Runs one benchmark process and reports what it cost.
 *
 *   launch <program> [<argument>…]
 *
 * The child gets descriptors 0-3 only: the harness makes its sockets without
 * FD_CLOEXEC (the conformance matrix needs them that way), so without this
 * every process would also inherit the other end of its socketpair, and a
 * connection would outlive the peer that closed it.
 *
 * When the child ends, one line goes to stderr:
 *   zmq-fd-bench rusage <user µs> <system µs> <max RSS KiB>
 * covering the child and every descendant it waited for. The exit status is
 * the child's, or 128 + the signal that ended it. SIGTERM and SIGINT are
 * passed on to the child, so that stopping the launcher stops the program. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t child = 0;

static void forward (int sig)
{
    if (child > 0)
        kill (child, sig);
}

static void close_from (int first)
{
#ifdef SYS_close_range
    if (syscall (SYS_close_range, first, ~0U, 0) == 0)
        return;
#endif
    const long max = sysconf (_SC_OPEN_MAX);
    for (long fd = first; fd < max; fd++)
        close ((int) fd);
}

int main (int argc, char *argv[])
{
    if (argc < 2) {
        fprintf (stderr, "usage: launch <program> [<argument>...]\n");
        return 2;
    }
    close_from (4);

    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);

    const pid_t pid = fork ();
    if (pid < 0) {
        perror ("launch: fork");
        return 2;
    }
    if (pid == 0) {
        signal (SIGTERM, SIG_DFL);
        signal (SIGINT, SIG_DFL);
        execv (argv[1], argv + 1);
        fprintf (stderr, "launch: cannot run %s: %s\n", argv[1], strerror (errno));
        _exit (127);
    }
    child = pid;

    int status;
    struct rusage ru;
    while (wait4 (pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror ("launch: wait4");
            return 2;
        }
    }
    fprintf (stderr, "zmq-fd-bench rusage %lld %lld %ld\n",
             (long long) ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
             (long long) ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec,
             ru.ru_maxrss);
    if (WIFSIGNALED (status))
        return 128 + WTERMSIG (status);
    return WEXITSTATUS (status);
}
