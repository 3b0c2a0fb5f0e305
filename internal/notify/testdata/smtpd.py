# A real SMTP server for the mail test: aiosmtpd (Debian's python3-aiosmtpd)
# on 127.0.0.1 at a port the kernel picks, delivering every message to the
# mbox file named by argv[1] with the envelope in X-MailFrom and X-RcptTo.
# Prints the port, then serves until its stdin closes.
import asyncio
import sys

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP


async def main():
    handler = Mailbox(sys.argv[1])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="lmn-test"), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


asyncio.run(main())
