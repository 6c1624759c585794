"""One connection, handed over: under `systemd-socket-activate --accept` it is
fd 3, under `--accept --inetd` or stunnel's `exec` it is fd 0 (and fd 1).
Serves the REQ peer at the other end until it goes, then exits. (`--inetd`
without `--accept` passes the listening socket as fd 0: that one is for
zmq_bind, and zmq_connect refuses it with EINVAL.)

  systemd-socket-activate --accept -l 5555 -E LD_LIBRARY_PATH=<prefix>/lib /usr/bin/python3 examples/service.py fd://3
  systemd-socket-activate --accept --inetd -l 5555 -E LD_LIBRARY_PATH=<prefix>/lib /usr/bin/python3 examples/service.py fd://0
"""
import argparse
import os
import signal

import zmq

from fdzmq import answer, curve_server, listen_fds, report, require_fd, serve_connection, stdio_socket, wait_closed

parser = argparse.ArgumentParser()
parser.add_argument('endpoint', choices=['fd://3', 'fd://0'])
parser.add_argument('--curve-secret', help='CURVE secret key (Z85): serve CURVE instead of NULL')
parser.add_argument('--once', action='store_true', help='end the connection after one request, and live on')
parser.add_argument('--keep-duplicates', action='store_true', help='the pitfall: leave fd 1 open')
args = parser.parse_args()
require_fd()
if args.endpoint == 'fd://3' and listen_fds() != [3]:
    raise SystemExit('service.py: systemd passed no connection for this process (LISTEN_PID, LISTEN_FDS)')
dropped = stdio_socket() if args.endpoint == 'fd://0' and not args.keep_duplicates else []
sock = zmq.Context().socket(zmq.REP)
curve_server(sock, args.curve_secret)
if not args.once:
    serve_connection(sock, args.endpoint, dropped_duplicates=dropped)
else:  # this end closes first: the peer sees it only if no duplicate keeps the connection open
    sock.connect(args.endpoint)
    answer(sock)
    sock.close()  # libzmq sends the reply, then closes the descriptor
    report(event='closed', fd_closed=wait_closed(int(args.endpoint[5:])), pid=os.getpid(), dropped_duplicates=dropped)
    signal.pause()  # a long-lived process that has finished with this connection
