"""A real SMTP server for the tests: aiosmtpd (PyPI), storing each message it accepts
as a file, with AUTH LOGIN/PLAIN for one user. Started and stopped by tests/common.

usage: smtp_server.py PORT MAILDIR USER PASSWORD   (PORT 0: any free port)
Prints "ready PORT" once listening.
"""
import sys
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, maildir, user, password = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
maildir.mkdir(parents=True, exist_ok=True)


class Store:
    """Writes the message exactly as received (after SMTP dot-unstuffing)."""

    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = maildir / f"{self.count:04d}.eml"
        envelope_info = f"{envelope.mail_from}\n" + "\n".join(envelope.rcpt_tos) + "\n"
        (maildir / f"{self.count:04d}.envelope").write_text(envelope_info)
        name.write_bytes(envelope.original_content)
        return "250 OK stored"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
    return AuthResult(success=ok, handled=False)


def free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# aiosmtpd cannot listen on port 0, so pick a free port and try again if another
# process took it first; the port is printed only once it is really ours.
for attempt in range(20):
    chosen = port or free_port()
    controller = Controller(
        Store(),
        hostname="127.0.0.1",
        port=chosen,
        authenticator=authenticator,
        auth_required=False,
        auth_require_tls=False,
        decode_data=False,
    )
    try:
        controller.start()
        break
    except Exception:
        if port:
            raise
else:
    sys.exit("no free port for the SMTP server")
print(f"ready {chosen}", flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()
