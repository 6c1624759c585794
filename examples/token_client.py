"""The client of token_gate.py: a stock ZeroMQ REQ socket behind a small
relay that sends the token line and libzmq's first ZMTP bytes in one write,
then relays both ways. Needs no patch (Debian's own libzmq5).

  /usr/bin/python3 examples/token_client.py 127.0.0.1:5555 s3cret
"""
import argparse
import json
import socket

import zmq

from fdzmq import whoami

parser = argparse.ArgumentParser()
parser.add_argument('server', help='host:port of token_gate.py')
parser.add_argument('token')
args = parser.parse_args()
host, port = args.server.rsplit(':', 1)

relay = socket.create_server(('127.0.0.1', 0))
req = zmq.Context().socket(zmq.REQ)
req.linger = 0
req.connect(f'tcp://127.0.0.1:{relay.getsockname()[1]}')
local, _ = relay.accept()
first = local.recv(4096)  # libzmq's greeting starts at once: its signature
remote = socket.create_connection((host, int(port)))
remote.sendall(args.token.encode() + b'\n' + first)  # the line and ZMTP, one write
req.send_string('hello 0')

peer = {local.fileno(): (local, remote), remote.fileno(): (remote, local)}  # pyzmq's poll gives plain sockets as fds
poller = zmq.Poller()
for s in (req, local, remote):
    poller.register(s, zmq.POLLIN)
result = None
while result is None:
    ready = dict(poller.poll(10000))
    if not ready:
        result = {'error': 'timeout'}
    for s in ready:
        if s is req:
            result = {'replies': [json.loads(req.recv_string())]}
            break
        source, sink = peer[s]
        data = source.recv(65536)
        if not data or data == b'DENIED\n':
            result = {'refused': data.decode().strip() or 'closed', 'by': 'server' if source is remote else 'libzmq'}
            break
        sink.sendall(data)
print(json.dumps({'client': whoami(), 'zmtp_bytes_with_token': len(first), **result}))
