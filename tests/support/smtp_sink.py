#!/usr/bin/python3
"""An SMTP server for tests that keeps every message it receives as a file.

Listens on 127.0.0.1 (on --port, or a free one) and prints the port on stdout
once it accepts connections. Each message becomes FOLDER/N.json, written before
the server answers the DATA, so a client that got its 250 finds it:
  mail_from, rcpt_tos: the envelope
  data: the message as sent
  subject, body: as Python's email package reads them (encoded words and
    transfer encodings undone), an independent check of the message's format
  auth_login: the user the client logged in as, or null
With --user and --password it refuses mail until the client has logged in with
them (AUTH LOGIN or PLAIN, over plain text: tests have no TLS).

Needs aiosmtpd (Debian: python3-aiosmtpd).
"""

import argparse
import asyncio
import email
import email.policy
import itertools
import json
import logging
import os
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult

MECHANISMS = ("LOGIN", "PLAIN")


class FolderHandler:
    def __init__(self, folder):
        self.folder = folder
        self.numbers = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        auth = session.auth_data
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", errors="replace"),
            "subject": str(message["Subject"]),
            "body": message.get_content(),
            "auth_login": auth.login.decode() if auth is not None else None,
        }
        path = os.path.join(self.folder, "%d.json" % next(self.numbers))
        # Written aside and renamed, so a reader never sees half a message.
        with open(path + ".part", "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.replace(path + ".part", path)
        return "250 OK"


def make_authenticator(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login == user.encode() and auth_data.password == password.encode())
        # handled=False: aiosmtpd then sends the 535 of a refused login itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return authenticate


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", required=True, help="where received messages go")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--user", help="require AUTH with this user")
    parser.add_argument("--password", help="and this password")
    parser.add_argument("--mechanism", choices=MECHANISMS,
                        help="offer only this AUTH mechanism (default: both)")
    args = parser.parse_args()
    if (args.user is None) != (args.password is None):
        parser.error("--user and --password go together")

    # Plain-text AUTH is what the tests want: no warnings about it in the log
    # a failing test shows.
    warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
    logging.getLogger("mail.log").setLevel(logging.ERROR)

    handler = FolderHandler(args.folder)
    auth = {}
    if args.user is not None:
        auth = {
            "authenticator": make_authenticator(args.user, args.password),
            "auth_required": True,
            "auth_require_tls": False,
            "auth_exclude_mechanism":
                [m for m in MECHANISMS if args.mechanism not in (None, m)],
        }

    async def serve():
        loop = asyncio.get_running_loop()
        # A fixed host name: the default looks up the FQDN, which can stall
        # for seconds without DNS.
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="smtp-sink", loop=loop, **auth),
            host="127.0.0.1", port=args.port)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
