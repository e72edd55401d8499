"""`python -m bench` still runs: every benchmark once, on sizes of one or two, in a child
process. Nothing here is timed or compares figures: the benches measure, the suite only keeps
them working (and the table section of the doc in its place)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from twisted.trial.unittest import SynchronousTestCase

from bench.__main__ import BENCHES, MARK_END, MARK_START, Row, section, write_doc
from tests.support import REPO_ROOT


class BenchRunsTests(SynchronousTestCase):
    def test_every_bench_runs_on_tiny_sizes(self) -> None:
        with tempfile.TemporaryDirectory(prefix="bench-smoke-") as tmp:
            record = os.path.join(tmp, "rows.json")
            doc = os.path.join(tmp, "performance.md")
            with open(doc, "w", encoding="utf-8") as handle:
                handle.write("# Performance\n\nIntro.\n\n## Older results\n\nkept\n")
            env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
            env["PYTHONPATH"] = REPO_ROOT
            done = subprocess.run(
                [sys.executable, "-m", "bench", "--tiny", "--doc", doc, "--json", record],
                cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
            self.assertEqual(done.returncode, 0, done.stdout[-3000:] + done.stderr[-3000:])
            with open(record, encoding="utf-8") as handle:
                rows = json.load(handle)
            self.assertEqual(sorted(rows), sorted(BENCHES))
            for name, bench_rows in rows.items():
                self.assertTrue(bench_rows, name)
                for row in bench_rows:
                    self.assertFalse(row["ours"].startswith("failed"), (name, row))
            with open(doc, encoding="utf-8") as handle:
                text = handle.read()
            self.assertIn(MARK_START, text)
            self.assertIn("| what | ours | floor / peer | ratio | aim | met? |", text)
            self.assertIn("Load average", text)
            self.assertIn("## Older results\n\nkept", text)
            self.assertLess(text.index("Intro."), text.index(MARK_START))


class TableSectionTests(SynchronousTestCase):
    def test_a_second_run_replaces_the_section(self) -> None:
        rows = [Row("a | b", "1 ms", "2 ms", "0.50x", "<= 1x", True),
                Row("c", "3", "-", "-", "-", None, note="why")]
        with tempfile.TemporaryDirectory() as tmp:
            doc = os.path.join(tmp, "p.md")
            with open(doc, "w", encoding="utf-8") as handle:
                handle.write("# P\n\nintro\n\n## Old\n")
            write_doc(doc, section(rows, "tiny", 0.0, "0.1 0.2 0.3", 60.0, "python -m bench"))
            rows[0] = Row("a | b", "9 ms", "2 ms", "4.50x", "<= 1x", False)
            write_doc(doc, section(rows, "tiny", 0.0, "0.1 0.2 0.3", 60.0, "python -m bench"))
            with open(doc, encoding="utf-8") as handle:
                text = handle.read()
        self.assertEqual(text.count(MARK_START), 1)
        self.assertEqual(text.count(MARK_END), 1)
        self.assertIn("| a \\| b | 9 ms | 2 ms | 4.50x | <= 1x | **not met** |", text)
        self.assertNotIn("| 1 ms |", text)
        self.assertIn("* c: why", text)
        self.assertIn("0 of 1 aims met", text)
        self.assertTrue(text.rstrip().endswith("## Old"))
