"""What a gateway that uses none of them does not import at start-up: the chat networks'
account modules (their protocols and HTTP clients), the VoiceClaw endpoint, and croniter.
Each is imported when first needed (a configured account, the first voice call, the first
cron schedule); idle RSS and start-up time are the gain (docs/performance.md)."""

from __future__ import annotations

import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from tests.support import REPO_ROOT

SCRIPT = """
import sys
from tests.builder import GatewayFixture
gateway = GatewayFixture()
assert gateway.service.voiceclaw.path == "/voiceclaw/realtime"
assert not gateway.service.voiceclaw.built
late = ("openclaw.voiceclaw.endpoint", "openclaw.voiceclaw.gemini", "openclaw.voiceclaw.session",
        "openclaw.channels.irc.account", "openclaw.channels.matrix.account",
        "openclaw.channels.telegram.account", "openclaw.channels.discord.account",
        "croniter", "treq")
print("imported:" + ",".join(name for name in late if name in sys.modules))
ids = sorted(plugin.meta.id for plugin in gateway.service.channels.plugins)
print(",".join(ids))
# the first look at the endpoint builds it
assert gateway.service.voiceclaw.sessions == set()
print(gateway.service.voiceclaw.built, "openclaw.voiceclaw.endpoint" in sys.modules)
"""


class StartupImportsTests(SynchronousTestCase):
    def test_unused_subsystems_are_not_imported(self) -> None:
        done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        imported, channels, built = done.stdout.strip().splitlines()[-3:]
        self.assertEqual(imported, "imported:")
        self.assertEqual(channels, "discord,irc,matrix,telegram")
        self.assertEqual(built, "True True")
