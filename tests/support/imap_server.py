"""A real IMAP server for the mailbox poller's tests: Debian's Dovecot, run with a throw-away configuration."""

import os
import shutil
import subprocess
import time
import imaplib
from pathlib import Path

from tests.support.smtp_server import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
CONFIG = """protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/run
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
default_internal_user = nobody
default_login_user = nobody
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
}}
service anvil {{
  chroot =
}}
"""


class ImapServer:
    def __init__(self, root: Path, password: str = "secret"):
        self.root, self.password, self.port = root, password, free_port()
        self.config = root / "dovecot.conf"

    def start(self) -> "ImapServer":
        for folder in ("run", "mail"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o777)
        os.chmod(self.root / "mail", 0o777)
        self.config.write_text(CONFIG.format(root=self.root, password=self.password, port=self.port))
        subprocess.run([DOVECOT, "-c", str(self.config)], check=True)
        for _ in range(50):
            try:
                imaplib.IMAP4("127.0.0.1", self.port).logout()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("dovecot did not start")

    def url(self, user: str = "bounces") -> str:
        return f"imap://{user}:{self.password}@127.0.0.1:{self.port}/INBOX"

    def append(self, raw: bytes, user: str = "bounces") -> None:
        connection = imaplib.IMAP4("127.0.0.1", self.port)
        connection.login(user, self.password)
        connection.append("INBOX", None, None, raw)
        connection.logout()

    def stop(self) -> None:
        subprocess.run([DOVECOT, "-c", str(self.config), "stop"], check=False)


def available() -> bool:
    return os.path.exists(DOVECOT) and os.geteuid() == 0
