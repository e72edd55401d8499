"""The gateway raises its soft open-files limit to the hard limit at start, and says so."""

from __future__ import annotations

import json
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.limits import OpenFilesLimit, raise_open_files_limit

SCRIPT = """
import json, resource
from openclaw.gateway.limits import raise_open_files_limit
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
limit = raise_open_files_limit()
print(json.dumps([limit.before, limit.after, limit.hard, limit.error,
                  resource.getrlimit(resource.RLIMIT_NOFILE)[0]]))
"""


class OpenFilesLimitTests(SynchronousTestCase):
    def test_soft_limit_raised_to_the_hard_limit(self) -> None:
        # in a child: the test process keeps its own limits
        out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                             check=True).stdout
        before, after, hard, error, now = json.loads(out)
        self.assertIsNone(error)
        self.assertEqual(before, min(256, hard))
        self.assertEqual((after, now), (hard, hard))

    def test_already_at_the_hard_limit(self) -> None:
        limit = raise_open_files_limit()
        assert isinstance(limit, OpenFilesLimit)
        self.assertEqual(limit.after, limit.hard)
        self.assertIsNone(limit.error)
