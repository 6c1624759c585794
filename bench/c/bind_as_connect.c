/* LD_PRELOADed into local_thr and local_lat for the socketpair runs: libzmq's
 * perf tools always zmq_bind their endpoint, and a socketpair end is a
 * connected socket, which fd:// takes through zmq_connect only (RFC.md
 * section 5, row 6). The tools stay unmodified; only this call changes. */
#include <zmq.h>

int zmq_bind (void *socket, const char *endpoint)
{
    return zmq_connect (socket, endpoint);
}
