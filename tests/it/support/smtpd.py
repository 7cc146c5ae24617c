#!/usr/bin/env python3
"""A real SMTP server for netzpost's integration tests (aiosmtpd).

Accepted messages land in --maildir: one file per message (<n>.eml, the exact
bytes after dot-unstuffing), a line per recipient in log.tsv
(rcpt<TAB>message-id), and a line per TCP session in connections.log.

Faults, by argument:
  --fail 'addr@x=550'   reject that recipient with the code (repeatable)
  --greylist N          451 for the first N attempts per recipient, then accept
  --fail-all CODE       reject every recipient with 421, 451 or 550
                        (421 also closes the session, as a real server does)
  --slow SECONDS        wait before answering the end of DATA
  --no-pipelining       do not offer PIPELINING (offered by default, as
                        Postfix does; aiosmtpd reads commands in order anyway)
  --slow-every N        with --slow: only every Nth DATA is slow (counted over
                        all sessions); the slow message is still stored
  --421-after N         in every session, answer the MAIL after N accepted
                        messages with 421 and hang up (a server shutting down
                        in the middle of a session)
  --reset-every N       every Nth DATA (over all sessions) is answered by a TCP
                        reset instead of a reply; that message is not stored
  --auth USER:PASSWORD  offer AUTH PLAIN and LOGIN without TLS and accept only
                        these credentials; each attempt is a line in auth.log
                        ("ok|fail<TAB>mechanism<TAB>login", never the password).
                        Without it, no AUTH is offered (as before)

Listens on 127.0.0.1:--port (0 = any free port) and prints "PORT <n>" once
listening. Stops on SIGTERM or SIGINT.
"""

import argparse
import asyncio
import itertools
import os
import re
import signal
import socket
import struct
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

TEXTS = {
    421: "421 4.3.2 Service shutting down, closing transmission channel",
    451: "451 4.7.1 Greylisted, please try again later",
    550: "550 5.1.1 Mailbox unavailable",
}
MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(.*?)\r?$", re.IGNORECASE | re.MULTILINE)


def reply(code):
    return TEXTS.get(code, f"{code} {'4.0.0' if code < 500 else '5.0.0'} Rejected by test server")


class Handler:
    def __init__(self, args):
        self.maildir = args.maildir
        self.fail = {}
        for item in args.fail:
            addr, _, code = item.rpartition("=")
            self.fail[addr.lower()] = int(code)
        self.greylist = args.greylist
        self.fail_all = args.fail_all
        self.slow = args.slow
        self.pipelining = not args.no_pipelining
        self.slow_every = args.slow_every
        self.close_after = args.close_after
        self.reset_every = args.reset_every
        self.data_seen = 0
        self.faults = open(os.path.join(self.maildir, "faults.log"), "a", buffering=1)
        self.attempts = {}
        self.seq = itertools.count(1)
        self.log = open(os.path.join(self.maildir, "log.tsv"), "a", buffering=1)
        self.connections = open(os.path.join(self.maildir, "connections.log"), "a", buffering=1)

    def connected(self, peer):
        self.connections.write(f"{peer[0]}:{peer[1]}\n")

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        done = getattr(session, "accepted_here", 0)
        if self.close_after and done >= self.close_after:
            self.faults.write("421\n")
            asyncio.get_running_loop().call_soon(server.transport.close)
            return reply(421)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        key = address.lower()
        code = self.fail_all or self.fail.get(key)
        if code is None and self.greylist:
            seen = self.attempts.get(key, 0)
            self.attempts[key] = seen + 1
            if seen < self.greylist:
                code = 451
        if code is not None:
            if code == 421:
                # Answer first, then hang up.
                asyncio.get_running_loop().call_soon(server.transport.close)
            return reply(code)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_seen += 1
        if self.reset_every and self.data_seen % self.reset_every == 0:
            self.faults.write("reset\n")
            sock = server.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            server.transport.abort()
            return "421 4.3.0 reset"
        if self.slow and (not self.slow_every or self.data_seen % self.slow_every == 0):
            self.faults.write("slow\n")
            await asyncio.sleep(self.slow)
        data = envelope.original_content
        n = next(self.seq)
        tmp = os.path.join(self.maildir, f".{n}.eml.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.maildir, f"{n}.eml"))
        head = data.split(b"\r\n\r\n", 1)[0]
        m = MESSAGE_ID.search(head)
        mid = m.group(1).decode("utf-8", "replace").strip() if m else ""
        for rcpt in envelope.rcpt_tos:
            self.log.write(f"{rcpt}\t{mid}\n")
        session.accepted_here = getattr(session, "accepted_here", 0) + 1
        return "250 2.0.0 OK queued"


class Authenticator:
    """Accepts exactly one login and password (--auth); logs every attempt to auth.log."""

    def __init__(self, maildir, credentials):
        user, sep, password = credentials.partition(":")
        if not sep or not user:
            raise SystemExit("--auth wants USER:PASSWORD")
        self.user = user.encode()
        self.password = password.encode()
        self.log = open(os.path.join(maildir, "auth.log"), "a", buffering=1)

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.user
            and auth_data.password == self.password
        )
        login = auth_data.login.decode("utf-8", "replace") if isinstance(auth_data, LoginPassword) else ""
        self.log.write(f"{'ok' if ok else 'fail'}\t{mechanism}\t{login}\n")
        return AuthResult(success=ok)


class CountingSMTP(SMTP):
    def connection_made(self, transport):
        super().connection_made(transport)
        self.event_handler.connected(transport.get_extra_info("peername"))


async def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--maildir", required=True)
    p.add_argument("--fail", action="append", default=[], metavar="ADDR=CODE")
    p.add_argument("--greylist", type=int, default=0, metavar="N")
    p.add_argument("--fail-all", type=int, choices=[421, 451, 550])
    p.add_argument("--slow", type=float, default=0.0, metavar="SECONDS")
    p.add_argument("--no-pipelining", action="store_true")
    p.add_argument("--slow-every", type=int, default=0, metavar="N")
    p.add_argument("--421-after", dest="close_after", type=int, default=0, metavar="N")
    p.add_argument("--reset-every", type=int, default=0, metavar="N")
    p.add_argument("--auth", metavar="USER:PASSWORD")
    args = p.parse_args()
    os.makedirs(args.maildir, exist_ok=True)

    handler = Handler(args)
    auth = {}
    if args.auth is not None:
        auth = dict(
            authenticator=Authenticator(args.maildir, args.auth),
            auth_require_tls=False,
        )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: CountingSMTP(
            handler,
            hostname="smtpd.test",
            decode_data=False,
            enable_SMTPUTF8=True,
            data_size_limit=64 * 1024 * 1024,
            **auth,
        ),
        host="127.0.0.1",
        port=args.port,
    )
    # Handlers before the PORT line: a caller may signal as soon as it reads it.
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
