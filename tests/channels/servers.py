"""Real chat servers for the channel tests: ngIRCd (Debian) and Synapse (its own venv).

Each server runs as a child process (``subprocess``, not the reactor's process support, so
a server shared by several tests never leaves reactor selectables between them) on a free
loopback port in a temporary directory. Start-up waits for readiness -- the port accepting
(ngIRCd), ``/_matrix/client/versions`` answering 200 (Synapse) -- checked on the reactor
clock, never a fixed sleep. ``stop`` (TERM), ``kill`` (KILL) and ``restart`` (same port,
same directory: Synapse keeps its users, rooms and tokens) wait for the process to exit.

Adapted from ``/work/shared/servers/{ngircd,synapse}.sh``. Installed by
``scripts/install-chat-servers.sh``; when a server is missing the tests skip, saying so
(and CI fails in ``scripts/test.sh`` before getting here).
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from typing import Any, Final

from twisted.internet import reactor
from twisted.internet.task import deferLater

from tests.support import REPO_ROOT, free_port

SYNAPSE_VENV: Final = os.environ.get("SYNAPSE_VENV",
                                     os.path.join(REPO_ROOT, ".cache", "synapse-venv"))
SYNAPSE_PYTHON: Final = os.path.join(SYNAPSE_VENV, "bin", "python")
STEP_S: Final = 0.02

_RUNNING: list[subprocess.Popen[bytes]] = []
_DIRS: list[str] = []


@atexit.register
def _kill_leftovers() -> None:
    for proc in _RUNNING:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for directory in _DIRS:
        shutil.rmtree(directory, ignore_errors=True)


def ngircd_path() -> str | None:
    return shutil.which("ngircd") or (
        "/usr/sbin/ngircd" if os.path.exists("/usr/sbin/ngircd") else None)


def synapse_available() -> bool:
    return os.path.exists(SYNAPSE_PYTHON) and os.path.exists(
        os.path.join(SYNAPSE_VENV, ".openclaw-synapse-1.163.2"))


def missing_reason(server: str) -> str:
    return (f"{server} is not installed: run scripts/install-chat-servers.sh "
            "(CI installs it; these tests skip elsewhere)")


def _popen(command: list[str], cwd: str, log_path: str,
           env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a child whose output goes to ``log_path`` (fork+exec: returns at once)."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
                                env=env, start_new_session=True)


def _write(path: str, text: str, mode: int = 0o644) -> None:
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)


def _read(path: str, tail: int = 4000) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()[-tail:]
    except OSError:
        return ""


async def _sleep(seconds: float) -> None:
    await deferLater(reactor, seconds, lambda: None)


def _port_open(port: int) -> bool:
    # One loopback connect: answered (accepted or refused) at once, never a real wait.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class ServerProcess:
    """A child process with a log file, readiness and a clean exit."""

    name = "server"

    def __init__(self, base_dir: str | None = None, port: int | None = None) -> None:
        self.dir = base_dir or tempfile.mkdtemp(prefix=f"oc-{self.name}-")
        if base_dir is None:
            _DIRS.append(self.dir)      # removed at exit (and by close())
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = os.path.join(self.dir, f"{self.name}.log")
        self.starts = 0

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    async def ready(self) -> bool:
        return _port_open(self.port)

    async def start(self, timeout_s: float = 30.0) -> None:
        await self.prepare()
        self.proc = _popen(self.command(), self.dir, self.log_path, self.env())
        _RUNNING.append(self.proc)
        self.starts += 1
        waited = 0.0
        while not await self.ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.log()}")
            if waited > timeout_s:
                raise RuntimeError(f"{self.name} not ready after {timeout_s}s:\n{self.log()}")
            await _sleep(STEP_S)
            waited += STEP_S

    async def prepare(self) -> None:
        """Write the configuration (once per directory)."""

    async def _wait_exit(self) -> None:
        proc = self.proc
        while proc is not None and proc.poll() is None:
            await _sleep(STEP_S)
        if proc in _RUNNING:
            _RUNNING.remove(proc)
        self.proc = None

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        await self._wait_exit()

    async def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        await self._wait_exit()

    async def close(self) -> None:
        """Stop the server and remove its directory."""
        await self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def log(self) -> str:
        return _read(self.log_path)


class Ngircd(ServerProcess):
    """ngIRCd on 127.0.0.1 with a predefined ``#test`` channel (``ngircd.sh``)."""

    name = "ngircd"

    def __init__(self, base_dir: str | None = None, port: int | None = None, *,
                 channel: str = "#test", max_penalty: int = 0, tls: bool = False) -> None:
        super().__init__(base_dir, port)
        self.channel = channel
        self.max_penalty = max_penalty
        self.tls_port = free_port() if tls else None
        self.cert_path = os.path.join(self.dir, "cert.pem")

    def command(self) -> list[str]:
        binary = ngircd_path()
        assert binary is not None
        return [binary, "-n", "-f", os.path.join(self.dir, "ngircd.conf")]

    async def prepare(self) -> None:
        self._write_config()

    def _write_config(self) -> None:
        os.chmod(self.dir, 0o755)   # ngIRCd drops root to nobody
        motd = os.path.join(self.dir, "motd")
        _write(motd, "Welcome to the test ircd\n")
        lines = ["[Global]", "  Name = irc.test", "  Info = openclaw-twisted test ircd",
                 "  Listen = 127.0.0.1", f"  Ports = {self.port}", f"  MotdFile = {motd}",
                 "[Limits]", "  MaxConnectionsIP = 0", "  MaxNickLength = 30",
                 f"  MaxPenaltyTime = {self.max_penalty}",
                 "[Options]", "  PAM = no", "  Ident = no", "  DNS = no",
                 "[Channel]", f"  Name = {self.channel}", "  Topic = test channel"]
        if self.tls_port is not None:
            if not os.path.exists(self.cert_path):
                _self_signed(self.dir, self.cert_path)
            lines += ["[SSL]", f"  CertFile = {self.cert_path}",
                      f"  KeyFile = {os.path.join(self.dir, 'key.pem')}",
                      f"  Ports = {self.tls_port}"]
        _write(os.path.join(self.dir, "ngircd.conf"), "\n".join(lines) + "\n")


_SYNAPSE_CONFIG: Final = r"""
import sys, yaml
d, port = sys.argv[1], int(sys.argv[2])
p = d + "/hs.yaml"
c = yaml.safe_load(open(p))
c["listeners"] = [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http",
                   "tls": False, "x_forwarded": False,
                   "resources": [{"names": ["client"], "compress": False}]}]
c["database"] = {"name": "sqlite3", "args": {"database": d + "/homeserver.db"}}
c["trusted_key_servers"] = []
c["suppress_key_server_warning"] = True
c["report_stats"] = False
c["enable_registration"] = False
c["url_preview_enabled"] = False
c["presence"] = {"enabled": False}
c["bcrypt_rounds"] = 4
big = {"per_second": 1000, "burst_count": 1000}
for k in ("rc_message", "rc_registration", "rc_joins", "rc_invites", "rc_3pid_validation",
          "rc_admin_redaction", "rc_joins_per_room", "rc_room_creation", "rc_presence"):
    c[k] = big
c["rc_login"] = {"address": big, "account": big, "failed_attempts": big}
c["rc_invites"] = {"per_room": big, "per_user": big, "per_issuer": big}
c["rc_joins"] = {"local": big, "remote": big}
c["rc_presence"] = {"per_user": big}
c["log_config"] = d + "/log.yaml"
yaml.safe_dump(c, open(p, "w"))
open(d + "/shared_secret", "w").write(c["registration_shared_secret"])
open(d + "/log.yaml", "w").write(
    "version: 1\nformatters:\n  precise:\n    format: '%(asctime)s %(name)s %(levelname)s "
    "%(message)s'\nhandlers:\n  console:\n    class: logging.StreamHandler\n"
    "    formatter: precise\nroot:\n  level: WARNING\n  handlers: [console]\n"
    "disable_existing_loggers: false\n")
"""


class Synapse(ServerProcess):
    """Synapse with SQLite, server_name ``localhost``, registration by shared secret."""

    name = "synapse"

    def __init__(self, base_dir: str | None = None, port: int | None = None) -> None:
        super().__init__(base_dir, port)
        self.tokens: dict[str, str] = {}

    def command(self) -> list[str]:
        return [SYNAPSE_PYTHON, "-m", "synapse.app.homeserver", "-c",
                os.path.join(self.dir, "hs.yaml")]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def configured(self) -> bool:
        return os.path.exists(os.path.join(self.dir, "hs.yaml"))

    async def prepare(self) -> None:
        if self.configured():
            return
        await _run([SYNAPSE_PYTHON, "-m", "synapse.app.homeserver", "--server-name",
                    "localhost", "--config-path", "hs.yaml", "--data-directory", ".",
                    "--generate-config", "--report-stats=no"], cwd=self.dir)
        await _run([SYNAPSE_PYTHON, "-c", _SYNAPSE_CONFIG, self.dir, str(self.port)],
                   cwd=self.dir)

    async def ready(self) -> bool:
        if not _port_open(self.port):
            return False
        from tests.channels.matrix_client import http_status

        return await http_status(f"{self.base_url}/_matrix/client/versions") == 200

    @property
    def shared_secret(self) -> str:
        return _read(os.path.join(self.dir, "shared_secret")).strip()

    async def register(self, user: str, password: str, *, admin: bool = False
                       ) -> dict[str, Any]:
        """Create ``@user:localhost`` through the shared-secret admin API; the answer
        carries an access token (kept in :attr:`tokens`)."""
        from tests.channels.matrix_client import http_json

        url = f"{self.base_url}/_synapse/admin/v1/register"
        nonce = (await http_json("GET", url))["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), user.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        answer: dict[str, Any] = await http_json(
            "POST", url, {"nonce": nonce, "username": user, "password": password,
                          "admin": admin, "mac": mac.hexdigest()})
        self.tokens[user] = str(answer["access_token"])
        return answer


def _self_signed(directory: str, cert_path: str) -> None:
    """A certificate for 127.0.0.1 (IP SAN), readable by the unprivileged ngIRCd."""
    key_path = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key_path, "-out", cert_path], check=True,
                   capture_output=True)
    os.chmod(key_path, 0o644)


async def _run(command: list[str], cwd: str) -> None:
    log_path = os.path.join(cwd, "setup.log")
    proc = _popen(command, cwd, log_path)
    while proc.poll() is None:
        await _sleep(STEP_S)
    if proc.returncode != 0:
        raise RuntimeError(f"{command[:4]} exited {proc.returncode}: {_read(log_path, 2000)}")


def dump(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True)
