"""The `openclaw` entry point: version, help, usage errors."""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout

from twisted.trial.unittest import SynchronousTestCase

from openclaw import __version__
from openclaw.cli.main import main
from tests.support import REPO_ROOT


class MainTests(SynchronousTestCase):
    def run_main(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(argv), env={})
        return code, out.getvalue(), err.getvalue()

    def test_version(self) -> None:
        for flag in ("--version", "-V"):
            code, out, _ = self.run_main(flag)
            self.assertEqual(code, 0)
            self.assertEqual(out, f"OpenClaw {__version__} (openclaw-twisted)\n")

    def test_help_lists_commands_and_root_options(self) -> None:
        code, out, _ = self.run_main("--help")
        self.assertEqual(code, 0)
        for text in ("gateway", "--profile", "--dev", "twistd -n openclaw"):
            self.assertIn(text, out)
        for command in ("gateway status", "gateway probe", "gateway call", "gateway health",
                        "gateway install", "gateway uninstall", "gateway start",
                        "gateway stop", "gateway restart", "daemon", "status", "health",
                        "logs", "doctor", "setup", "config"):
            self.assertIn(f"  {command} ", out)

    def test_every_command_has_help(self) -> None:
        from openclaw.cli.main import COMMANDS

        for argv in (["status"], ["health"], ["logs"], ["doctor"], ["setup"],
                     ["gateway", "status"], ["gateway", "probe"], ["gateway", "call"],
                     ["gateway", "health"], ["gateway", "install"], ["gateway", "uninstall"],
                     ["gateway", "start"], ["gateway", "stop"], ["gateway", "restart"],
                     ["config"]):
            self.assertIn(argv[0], COMMANDS)
            code, out, err = self.run_main(*argv, "--help")
            self.assertEqual(code, 0, (argv, err))
            self.assertIn("Usage: openclaw", out, argv)

    def test_secrets_command_is_registered(self) -> None:
        code, out, _ = self.run_main("--help")
        self.assertIn("secrets reload", out)
        code, out, err = self.run_main("secrets", "--help")
        self.assertEqual(code, 0, err)
        self.assertIn("openclaw secrets", out)

    def test_no_command_is_usage_error(self) -> None:
        code, _, err = self.run_main()
        self.assertEqual(code, 1)
        self.assertIn("Usage: openclaw", err)

    def test_unknown_root_option(self) -> None:
        code, _, err = self.run_main("--bogus", "gateway")
        self.assertEqual(code, 1)
        self.assertEqual(err, 'OpenClaw does not recognize option "--bogus".\n'
                              "Try: openclaw --help\n")

    def test_unknown_command(self) -> None:
        code, _, err = self.run_main("frobnicate")
        self.assertEqual(code, 1)
        self.assertIn('OpenClaw does not know the command "frobnicate".', err)

    def test_profile_requires_value(self) -> None:
        code, _, err = self.run_main("--profile")
        self.assertEqual(code, 1)
        self.assertIn("--profile requires a value", err)

    def test_gateway_help(self) -> None:
        out = io.StringIO()
        with redirect_stdout(out):
            try:
                main(["gateway", "--help"], env={})
            except SystemExit as e:
                self.assertEqual(e.code, 0)
        for flag in ("--port", "--bind", "--token", "--password", "--auth", "--verbose",
                     "--force", "--allow-unconfigured"):
            self.assertIn(flag, out.getvalue())

    def test_gateway_bad_flag(self) -> None:
        code, _, err = self.run_main("gateway", "--nope")
        self.assertEqual(code, 1)
        self.assertIn("Usage: openclaw gateway", err)

    def test_gateway_unknown_subcommand(self) -> None:
        code, _, err = self.run_main("gateway", "teleport")
        self.assertEqual(code, 1)
        self.assertEqual(err, 'OpenClaw gateway has no command "teleport".\n'
                              "Try: openclaw gateway --help\nDocs: https://docs.openclaw.ai/cli\n")

    def test_dev_with_profile_conflict(self) -> None:
        code, _, err = self.run_main("--dev", "gateway", "--profile", "work")
        self.assertEqual(code, 1)
        self.assertIn("Cannot combine --dev with --profile", err)

    def test_lazy_imports(self) -> None:
        # `openclaw --help` must not pay for the reactor or the web stack.
        import subprocess

        code = subprocess.run(
            [sys.executable, "-c",
             "import sys; from openclaw.cli.main import main; main(['--version'], env={}); "
             "bad=[m for m in ('twisted.internet.reactor','autobahn','twisted.web.server') "
             "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"],
            capture_output=True, text=True, cwd=REPO_ROOT,
        )
        self.assertEqual(code.returncode, 0, code.stdout + code.stderr)

    def test_subcommands_stay_off_twisted(self) -> None:
        """`openclaw health`/`gateway call` never import Twisted (fast start-up)."""
        import subprocess

        code = subprocess.run(
            [sys.executable, "-c",
             "import sys; from openclaw.cli.main import main\n"
             "for argv in (['health','--help'], ['gateway','call','--help'], ['logs','--help'],"
             " ['gateway','status','--help'], ['agent','--help'], ['tui','--help'],"
             " ['dashboard','--help'], ['sessions','--help'], ['models','list','--help']):\n"
             "    main(argv, env={})\n"
             "import openclaw.client, openclaw.cli.health_cmd, openclaw.client.probe\n"
             "import openclaw.cli.agent_cmd, openclaw.cli.sessions_cmd, openclaw.cli.tui\n"
             "import openclaw.cli.models_cmd, openclaw.cli.dashboard_cmd\n"
             "import openclaw.client.session, openclaw.providers.local_install\n"
             "bad=[m for m in sys.modules if m == 'twisted' or m.startswith(('twisted.',"
             " 'autobahn'))]\n"
             "print(bad); sys.exit(1 if bad else 0)"],
            capture_output=True, text=True, cwd=REPO_ROOT,
        )
        self.assertEqual(code.returncode, 0, code.stdout + code.stderr)
