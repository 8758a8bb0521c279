"""A real FTP server for the tests: pyftpdlib (PyPI), with one user (read-write home) and
an anonymous read-only area. Started and stopped by tests/common.

usage: ftp_server.py PORT HOME ANONYMOUS_DIR USER PASSWORD   (PORT 0: any free port)
Prints "ready PORT" once listening.
"""
import logging
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

port, home, anonymous, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
logging.basicConfig(level=logging.WARNING)

authorizer = DummyAuthorizer()
authorizer.add_user(user, password, home, perm="elradfmwMT")
authorizer.add_anonymous(anonymous, perm="elr")
# LuaSocket logs in anonymously as "ftp" (as most servers accept); give that name the
# same read-only area.
authorizer.add_user("ftp", "anonymous@anonymous.org", anonymous, perm="elr")


class Handler(FTPHandler):
    pass


Handler.authorizer = authorizer
Handler.passive_ports = None
Handler.banner = "luasocket-wasi test FTP server ready"

server = FTPServer(("127.0.0.1", port), Handler)
print(f"ready {server.socket.getsockname()[1]}", flush=True)
server.serve_forever()
