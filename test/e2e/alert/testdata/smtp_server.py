"""A real SMTP server for the alert exporter's email test: aiosmtpd (Debian's python3-aiosmtpd)
on loopback with STARTTLS required before AUTH, AUTH PLAIN/LOGIN against one user, and every
accepted message written to OUTDIR as <n>.eml.

usage: smtp_server.py HOST PORT CERTFILE KEYFILE OUTDIR USER PASSWORD
"""
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Save:
    def __init__(self, outdir):
        self.outdir = outdir
        self.n = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.n += 1
            n = self.n
        path = os.path.join(self.outdir, "%04d.eml" % n)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(("X-Rcpt-To: %s\r\n" % ",".join(envelope.rcpt_tos)).encode())
            f.write(("X-Tls: %s\r\n" % ("yes" if session.ssl else "no")).encode())
            f.write(envelope.original_content)
        os.rename(tmp, path)
        return "250 Message accepted"


def main():
    host, port, cert, key, outdir, user, password = sys.argv[1:8]
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok)

    controller = Controller(
        Save(outdir), hostname=host, port=int(port), tls_context=ctx, require_starttls=True,
        authenticator=authenticate, auth_required=True, auth_require_tls=True,
    )
    controller.start()
    print("READY", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
