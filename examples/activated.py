"""Use case A, socket activation: systemd (or systemd-socket-activate) made
the listening socket; this server binds it as fd://3 and serves REQ clients
that connect with plain tcp:// or ipc://.

  systemd-socket-activate -l 127.0.0.1:5555 -E LD_LIBRARY_PATH=<prefix>/lib \\
      /usr/bin/python3 examples/activated.py [--curve-secret=KEY]
"""
import argparse

import zmq

from fdzmq import curve_server, listen_fds, require_fd, serve_forever

parser = argparse.ArgumentParser()
parser.add_argument('--curve-secret', help='CURVE secret key (Z85): serve CURVE instead of NULL')
args = parser.parse_args()
require_fd()
fds = listen_fds()
if len(fds) != 1:
    raise SystemExit(f'activated.py: expected one socket from systemd (LISTEN_PID, LISTEN_FDS), got {len(fds)}')
sock = zmq.Context().socket(zmq.REP)
curve_server(sock, args.curve_secret)
sock.bind(f'fd://{fds[0]}')
serve_forever(sock)
