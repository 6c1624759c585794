"""Use case B.1, an application protocol first: this server accepts TCP
connections itself, reads one line (a token), and hands a connection with
the right token to ZeroMQ as tcp-fd://N; bytes the client sent after the
line (its ZMTP greeting) stay in the socket for libzmq. A wrong token gets
"DENIED" and the connection is closed.

  LD_LIBRARY_PATH=<prefix>/lib /usr/bin/python3 examples/token_gate.py --port 5555 --token s3cret
"""
import argparse
import socket

import zmq

from fdzmq import answer, report, require_fd, whoami


def read_line(conn, limit=256):
    """One line, and not a byte more: peek for the newline, then take just that."""
    head = conn.recv(limit, socket.MSG_PEEK)
    end = head.find(b'\n')
    return conn.recv(end + 1)[:-1] if end >= 0 else None


parser = argparse.ArgumentParser()
parser.add_argument('--port', type=int, default=0)
parser.add_argument('--token', required=True)
args = parser.parse_args()
require_fd()
listener = socket.create_server(('127.0.0.1', args.port))
sock = zmq.Context().socket(zmq.REP)
poller = zmq.Poller()
poller.register(listener, zmq.POLLIN)
poller.register(sock, zmq.POLLIN)
report(event='ready', port=listener.getsockname()[1], **whoami())
while True:
    for ready, _ in poller.poll():
        if ready is sock:
            answer(sock)
            continue
        conn, _ = listener.accept()
        token = read_line(conn)
        if token != args.token.encode():
            report(event='denied', token=token.decode(errors='replace') if token is not None else None)
            conn.sendall(b'DENIED\n')
            conn.close()
            continue
        endpoint = f'tcp-fd://{conn.detach()}'
        sock.connect(endpoint)
        report(event='accepted', endpoint=endpoint)
