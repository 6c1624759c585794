"""Use case B, master and workers: the master makes a socketpair per worker
and keeps one end; each worker inherits the other. Both sides connect fd://N.
When a worker dies, libzmq removes the master's endpoint for it, and the
master goes on with the rest.

  LD_LIBRARY_PATH=<prefix>/lib /usr/bin/python3 examples/workers.py --kill-one
"""
import argparse
import os
import signal
import socket
import subprocess
import sys

import zmq
import zmq.utils.monitor

from fdzmq import removed, report, require_fd


def worker(fd):
    """Does tasks until told 'bye', or until the master is gone (its end closed)."""
    sock = zmq.Context().socket(zmq.DEALER)
    sock.routing_id = str(os.getpid()).encode()
    master_gone = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    sock.connect(f'fd://{fd}')
    sock.send(b'ready')
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(master_gone, zmq.POLLIN)
    while sock in dict(poller.poll()) and (task := sock.recv()) != b'bye':
        sock.send_multipart([b'done', task])


def round_trip(router, ids, n):
    """Sends task `n` to each worker; returns who answered it."""
    for rid in ids:
        router.send_multipart([rid, f'task {n}'.encode()])
    return sorted(int(router.recv_multipart()[0]) for _ in ids)


def master(count, kill_one):
    router = zmq.Context().socket(zmq.ROUTER)
    monitor = router.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    endpoints = {}
    for _ in range(count):
        mine, theirs = socket.socketpair()
        child = subprocess.Popen([sys.executable, __file__, '--worker', str(theirs.fileno())], pass_fds=[theirs.fileno()])
        theirs.close()
        endpoint = f'fd://{mine.detach()}'
        router.connect(endpoint)
        endpoints[endpoint] = child
    ids = [router.recv_multipart()[0] for _ in endpoints]  # each worker's 'ready'
    report(event='round', round=1, served=round_trip(router, ids, 1),
           workers={e: c.pid for e, c in endpoints.items()})
    if kill_one:
        next(iter(endpoints.values())).send_signal(signal.SIGKILL)
    event = zmq.utils.monitor.recv_monitor_message(monitor)  # waits for a worker to die
    gone = event['endpoint'].decode()
    dead = endpoints.pop(gone)
    dead.wait()
    report(event='removed', endpoint=gone, pid=dead.pid, signal=-dead.returncode, removed=removed(router, gone))
    alive = [str(c.pid).encode() for c in endpoints.values()]
    report(event='round', round=2, served=round_trip(router, alive, 2))
    for rid in alive:
        router.send_multipart([rid, b'bye'])
    report(event='done', exits=[c.wait() for c in endpoints.values()])


parser = argparse.ArgumentParser()
parser.add_argument('--workers', type=int, default=3)
parser.add_argument('--kill-one', action='store_true', help='kill a worker after the first round (else wait for one to die)')
parser.add_argument('--worker', type=int, help=argparse.SUPPRESS)
args = parser.parse_args()
require_fd()
if args.worker is not None:
    worker(args.worker)
else:
    master(args.workers, args.kill_one)
