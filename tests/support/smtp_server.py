"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, a port the system
picks (so nothing races for it), printed on the first line of stdout; every
message is written whole (as received) to OUT_DIR/<n>.eml.

    .venv/bin/python tests/support/smtp_server.py OUT_DIR
"""

import asyncio
import sys
from pathlib import Path

from aiosmtpd.smtp import SMTP


# Recipients the server refuses, as a real one does an unknown mailbox (5xx:
# never worth another try) or a full one (4xx: try later). Each RCPT is noted
# in OUT_DIR/rcpt.log, so a test can count the attempts.
REFUSED = {
    "nobody@example.io": "550 5.1.1 <nobody@example.io>: mailbox unknown",
    "busy@example.io": "452 4.2.2 <busy@example.io>: mailbox full, try again later",
}


class Keep:
    def __init__(self, folder):
        self.folder = Path(folder)
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with open(self.folder / "rcpt.log", "a") as log:
            log.write(address + "\n")
        if address in REFUSED:
            return REFUSED[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        head = f"X-Envelope-From: {envelope.mail_from}\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\n"
        tmp = self.folder / f".{self.n}.tmp"
        tmp.write_bytes(head.encode() + envelope.original_content)
        tmp.rename(self.folder / f"{self.n}.eml")
        return "250 Message accepted for delivery"


async def serve(folder):
    handler = Keep(folder)
    loop = asyncio.get_running_loop()
    # Port 0: the system picks a free one; aiosmtpd's Controller cannot be told
    # to, as it probes the port it was given.
    server = await loop.create_server(lambda: SMTP(handler, hostname="envdash-test"), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main():
    asyncio.run(serve(sys.argv[1]))


if __name__ == "__main__":
    main()
