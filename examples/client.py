"""A stock ZeroMQ client: REQ over tcp:// or ipc://, one connection per request.
Needs no patch: run it with Debian's own libzmq5. Prints on stdout a JSON
object with its own libzmq and every reply (which server served it).

  /usr/bin/python3 examples/client.py tcp://127.0.0.1:5555 [--connections 40] [--curve-server=KEY] [--await-close 5]
"""
import argparse
import json

import zmq

from fdzmq import curve_client, whoami

parser = argparse.ArgumentParser()
parser.add_argument('endpoint')
parser.add_argument('--connections', type=int, default=1)
parser.add_argument('--curve-server', help='the server\'s CURVE public key (Z85)')
parser.add_argument('--await-close', type=float, metavar='SECONDS',
                    help='after each reply, wait this long for the server to close the connection')
args = parser.parse_args()

ctx = zmq.Context()
replies = []
closed = []
for i in range(args.connections):
    sock = ctx.socket(zmq.REQ)
    sock.linger = 0
    sock.rcvtimeo = 10000  # a server that never answers ends the run with an error, not a hang
    curve_client(sock, args.curve_server)
    if args.await_close is not None:
        # Not -1: stock libzmq 4.3.4 drops a message received just before a
        # connection that never reconnects ends (the series' second commit).
        sock.reconnect_ivl = 60000
        monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    sock.connect(args.endpoint)
    sock.send_string(f'hello {i}')
    replies.append(json.loads(sock.recv_string()))
    if args.await_close is not None:
        closed.append(monitor.poll(args.await_close * 1000) != 0)
    sock.close()
print(json.dumps({'client': whoami(), 'replies': replies, 'closed_by_server': closed}))
