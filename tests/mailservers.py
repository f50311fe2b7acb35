"""Real mail servers on loopback for the mail tests.

- SMTP: aiosmtpd's `Controller` in a thread, with STARTTLS or implicit TLS over a self-signed
  certificate made here with `cryptography`, PLAIN/LOGIN and XOAUTH2 login, and replies that a
  test can set per recipient (4xx, 5xx).
- IMAP: pymap's in-memory `dict` backend as a child process (`pymap` on PyPI); one user, the
  founder. Tests put mail in with IMAP APPEND, like a delivering MTA would.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import imaplib
import ipaddress
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FOUNDER = "maya@northwind.example"
PASSWORD = "correct horse battery staple"
TOKEN = "ya29.test-access-token"


# The test peers' packages; `make test` installs them with the dev extras.
REQUIREMENTS = {"pymap": "pymap>=0.36,<0.37", "cryptography": "cryptography>=42"}


def require(module: str) -> None:
    """Fail with the install line, not an obscure error, when a test peer is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        import pytest

        line = REQUIREMENTS[module]
        pytest.fail(
            f"{module} is not installed: add {line!r} to the dev extras (pip install '{line}')"
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def self_signed(directory: Path) -> Certificate:
    """A certificate for 127.0.0.1 and localhost, valid for a day."""
    require("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path)


# --- SMTP -------------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None


@dataclass
class SmtpHandler:
    """Records what arrives; answers what a test asks for."""

    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_replies: list[str] = field(default_factory=list)  # consumed one per message
    logins: list[str] = field(default_factory=list)
    # Accept this many messages, then drop the connection before the 250 goes out (the
    # ambiguity of a send: the server has it, the client never hears so).
    drop_after_data: int = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        login = session.auth_data
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                bytes(envelope.original_content or envelope.content),
                login.decode() if isinstance(login, bytes) else None,
            )
        )
        if self.drop_after_data > 0:
            self.drop_after_data -= 1
            server.transport.close()
        return f"250 2.0.0 Ok: queued as Q{len(self.received)}"

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> Any:
        from aiosmtpd.smtp import AuthResult

        if len(args) < 2:
            return AuthResult(success=False, handled=False)
        blob = base64.b64decode(args[1])
        expected = f"user={FOUNDER}\x01auth=Bearer {TOKEN}\x01\x01".encode()
        if blob != expected:
            return AuthResult(success=False, handled=False)
        self.logins.append("XOAUTH2")
        return AuthResult(success=True, auth_data=FOUNDER.encode())


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ok = (
        isinstance(data, LoginPassword)
        and data.login == FOUNDER.encode()
        and data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: SmtpHandler
    security: str


@contextlib.contextmanager
def smtp_server(security: str, certificate: Certificate | None) -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1: `starttls` (login only after STARTTLS), `tls` or `none`."""
    from aiosmtpd.controller import Controller

    handler = SmtpHandler()
    port = free_port()
    kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": port, "ready_timeout": 5.0}
    if security != "none":  # a plain server here is a loopback relay without login
        kwargs |= {"authenticator": _authenticator, "auth_required": True}
    if security == "starttls":
        assert certificate is not None
        kwargs |= {"tls_context": certificate.server_context(), "require_starttls": True}
    elif security == "tls":
        assert certificate is not None
        # aiosmtpd only counts STARTTLS as TLS: AUTH is offered (and checked) without demanding
        # it, the connection being encrypted from the start.
        kwargs |= {
            "ssl_context": certificate.server_context(),
            "auth_required": False,
            "auth_require_tls": False,
        }
    controller = Controller(handler, **kwargs)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler, security)
    finally:
        controller.stop()


# --- IMAP -------------------------------------------------------------------------------------


def run_pymap(argv: list[str]) -> None:
    """pymap's `main`, made quick and OAuth-aware for tests.

    Passwords are kept in clear (pymap hashes with 500,000 PBKDF2 rounds per login by default,
    half a second each), and XOAUTH2 is offered, accepting `TOKEN` for the founder."""
    from pymap import config
    from pymap.backend.dict import Identity, Login
    from pymap.exceptions import InvalidAuth
    from pymap.main import main
    from pysasl import SASLAuth
    from pysasl.creds.external import ExternalCredentials
    from pysasl.hashing import Cleartext

    config.IMAPConfig._get_hash_context = classmethod(  # type: ignore[method-assign, assignment]
        lambda cls, passlib_cfg: Cleartext()
    )
    config.IMAPConfig.tls_auth = property(  # type: ignore[method-assign, assignment]
        lambda self: SASLAuth.named([b"PLAIN", b"LOGIN", b"XOAUTH2"])
    )
    password_login = Login.authenticate

    async def authenticate(self: Login, credentials: Any) -> Identity:
        if isinstance(credentials, ExternalCredentials):
            if credentials.authzid != FOUNDER or credentials._token != TOKEN:
                raise InvalidAuth()
            return Identity(credentials.authzid, self, None, frozenset())
        return await password_login(self, credentials)

    Login.authenticate = authenticate  # type: ignore[method-assign]
    sys.argv = ["pymap", *argv]
    main()


@dataclass
class ImapServer:
    host: str
    port: int
    user: str = FOUNDER
    password: str = PASSWORD

    @contextlib.contextmanager
    def client(self) -> Iterator[imaplib.IMAP4]:
        client = imaplib.IMAP4(self.host, self.port, timeout=5)
        try:
            client.login(self.user, self.password)
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def reset(self) -> None:
        """Empty every folder and keep only INBOX and Sent: a fresh mailbox for the next test."""
        with self.client() as client:
            _, listing = client.list()
            names = [
                m.group(1).strip(b'"').decode()
                for line in listing
                if isinstance(line, bytes)
                and (m := re.match(rb'\(.*?\) (?:"[^"]*"|NIL) (.+)$', line))
            ]
            for name in names:
                if name.upper() != "INBOX" and name != "Sent":
                    client.delete(f'"{name}"')
            client.create('"Sent"')
            for name in ("INBOX", "Sent"):
                client.select(f'"{name}"')
                _, found = client.uid("SEARCH", "ALL")
                if found[0]:
                    client.uid(
                        "STORE", b",".join(found[0].split()).decode(), "+FLAGS", "(\\Deleted)"
                    )
                    client.expunge()
                client.close()

    def create(self, folder: str) -> None:
        with self.client() as client:
            client.create(f'"{folder}"')

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message in a folder, as delivery (INBOX) or a mail client (Sent) would."""
        with self.client() as client:
            status, data = client.append(f'"{folder}"', None, None, raw)
            if status != "OK":
                client.create(f'"{folder}"')
                status, data = client.append(f'"{folder}"', None, None, raw)
            assert status == "OK", data

    def count(self, folder: str) -> int:
        with self.client() as client:
            status, data = client.select(f'"{folder}"', readonly=True)
            return int(data[0] or 0) if status == "OK" else 0

    def messages(self, folder: str) -> list[bytes]:
        with self.client() as client:
            status, _ = client.select(f'"{folder}"', readonly=True)
            if status != "OK":
                return []
            _, found = client.uid("SEARCH", "ALL")
            out: list[bytes] = []
            for uid in (found[0] or b"").split():
                _, data = client.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
                out += [item[1] for item in data if isinstance(item, tuple)]
            return out


@contextlib.contextmanager
def imap_server(tmp: Path) -> Iterator[ImapServer]:
    """pymap's in-memory IMAP server in a child process, with the founder as its one user."""
    require("pymap")
    port = free_port()
    log_path = tmp / f"pymap-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.mailservers",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-tls",
                "dict",
                "--demo-user",
                FOUNDER,
                "--demo-password",
                PASSWORD,
            ],
            cwd=Path(__file__).resolve().parent.parent,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"pymap exited: {log_path.read_text(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("pymap did not start within 15 s") from None
                time.sleep(0.05)
        yield ImapServer("127.0.0.1", port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


if __name__ == "__main__":
    run_pymap(sys.argv[1:])
