"""Use case A.1, a tuned listener: each copy of this server makes its own
SO_REUSEPORT listener on one port and binds it as tcp-fd://N; the kernel
spreads the clients' connections across them.

  /usr/bin/python3 examples/reuseport.py --port 5555 &   # (LD_LIBRARY_PATH=<prefix>/lib)
  /usr/bin/python3 examples/reuseport.py --port 5555 &
"""
import argparse
import socket

import zmq

from fdzmq import require_fd, serve_forever

parser = argparse.ArgumentParser()
parser.add_argument('--host', default='127.0.0.1')
parser.add_argument('--port', type=int, default=0)
args = parser.parse_args()
require_fd()
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
listener.bind((args.host, args.port))
listener.listen(128)
sock = zmq.Context().socket(zmq.REP)
port = listener.getsockname()[1]
sock.bind(f'tcp-fd://{listener.detach()}')  # ZeroMQ owns it now
serve_forever(sock, port=port)
