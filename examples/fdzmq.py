"""Helpers shared by the examples: which libzmq is loaded, systemd's
sd_listen_fds(), CURVE set-up, JSON reports, and the two serving loops."""
import errno
import json
import os
import sys
import time

import zmq
import zmq.utils.monitor


def libzmq_path():
    """The libzmq.so this process loaded (pyzmq does not say; the loader does)."""
    with open('/proc/self/maps') as maps:
        for line in maps:
            if 'libzmq.so' in line:
                return line.split()[-1]
    return None


def whoami():
    return {'pid': os.getpid(), 'lib': libzmq_path(), 'has_fd': zmq.has('fd')}


def report(**fields):
    """One JSON line on stderr: the examples' log, which the tests read. One
    write(2), so that services sharing a supervisor's stderr do not interleave."""
    os.write(2, (json.dumps(fields) + '\n').encode())


def require_fd():
    """Stops unless the loaded libzmq has fd:// endpoints (LD_LIBRARY_PATH to the patched one)."""
    if not zmq.has('fd'):
        sys.exit(f'{sys.argv[0]}: libzmq {zmq.zmq_version()} ({libzmq_path()}) has no fd:// endpoints: '
                 'set LD_LIBRARY_PATH to the patched libzmq')


def listen_fds():
    """sd_listen_fds(3): the descriptors systemd passed, from 3 on, if they are for this process."""
    if os.environ.get('LISTEN_PID') != str(os.getpid()):
        return []
    count = int(os.environ.get('LISTEN_FDS', '0'))
    for name in ('LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'):
        os.environ.pop(name, None)  # not for our children, as sd_listen_fds(1) does
    return list(range(3, 3 + count))


def stdio_socket():
    """inetd style (systemd-socket-activate --inetd, stunnel exec): the connection
    is fd 0 and fd 1 (fd 2 too if not a log). Only fd 0 goes to ZeroMQ, so the
    duplicates must go, or the peer never sees the connection close."""
    sock = os.fstat(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    dropped = []
    for fd in (1, 2):
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) == (sock.st_dev, sock.st_ino):
            os.dup2(devnull, fd)
            dropped.append(fd)
    os.close(devnull)
    return dropped


def curve_server(sock, secret):
    if secret:
        sock.curve_server = True
        sock.curve_secretkey = secret.encode()


def curve_client(sock, server_key):
    if server_key:
        sock.curve_serverkey = server_key.encode()
        sock.curve_publickey, sock.curve_secretkey = zmq.curve_keypair()


def answer(sock):
    """Answers one request on a REP socket with who served it."""
    request = sock.recv_string()
    sock.send_string(json.dumps({'request': request, **whoami()}))
    return request


def serve_forever(sock, **extra):
    report(event='ready', endpoint=sock.last_endpoint.decode(), **whoami(), **extra)
    while True:
        answer(sock)


def serve_connection(sock, endpoint, **extra):
    """Serves one connection handed over as `endpoint` until the peer goes:
    libzmq then removes the endpoint (DISCONNECTED, and zmq_disconnect says ENOENT)."""
    monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    sock.connect(endpoint)
    report(event='ready', endpoint=endpoint, **whoami(), **extra)
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(monitor, zmq.POLLIN)
    served = 0
    while True:
        ready = dict(poller.poll())
        if sock in ready:
            answer(sock)
            served += 1
        if monitor in ready:
            event = zmq.utils.monitor.recv_monitor_message(monitor)
            report(event='peer-gone', endpoint=event['endpoint'].decode(), served=served,
                   removed=removed(sock, endpoint), pid=os.getpid(), **extra)
            return


def fd_closed(fd):
    try:
        os.fstat(fd)
    except OSError as e:
        return e.errno == errno.EBADF
    return False


def wait_closed(fd, seconds=10):
    """Waits (bounded) for libzmq to close descriptor `fd`: libzmq sends no
    event for it, so this checks the number until it is gone."""
    deadline = time.monotonic() + seconds
    while not fd_closed(fd):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def removed(sock, endpoint):
    """Once libzmq closed the descriptor of the ended fd:// `endpoint` (it
    removes the endpoint first, RFC.md 7.3): is the endpoint gone
    (zmq_disconnect fails with ENOENT)?"""
    return wait_closed(int(endpoint.split('://')[1])) and not_connected(sock, endpoint)


def not_connected(sock, endpoint):
    """True when `endpoint` is gone from `sock` (zmq_disconnect fails with ENOENT)."""
    try:
        sock.disconnect(endpoint)
    except zmq.ZMQError as e:
        return e.errno == errno.ENOENT
    return False
