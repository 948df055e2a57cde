"""Helpers shared by the training tests (a module with a unique name: every test folder has a conftest)."""

import socket
import sys

PYTHON = sys.executable


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports
