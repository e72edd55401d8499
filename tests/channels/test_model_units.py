"""Reactor-free units of the channel model: accounts, chunking, pairing, routing, Matrix
formatting and targets."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from openclaw.agents.config import read_agents
from openclaw.channels import pairing
from openclaw.channels.accounts import normalize_account_id
from openclaw.channels.chunking import chunk_text
from openclaw.channels.irc.account import normalize_target as irc_target
from openclaw.channels.irc.account import sender_keys, split_identity
from openclaw.channels.irc.config import resolve_accounts as irc_accounts
from openclaw.channels.matrix.account import is_private_host
from openclaw.channels.matrix.account import normalize_target as matrix_target
from openclaw.channels.matrix.format import message_content, strip_reply_fallback, to_html
from openclaw.channels.routing import resolve_route
from openclaw.channels.store import ChannelDatabase
from tests.support import config_snapshot

HOUR = 3_600_000


class AccountTests(SynchronousTestCase):
    def test_account_ids_normalize_like_upstream(self) -> None:
        self.assertEqual(normalize_account_id(None), "default")
        self.assertEqual(normalize_account_id("  Work "), "work")
        self.assertEqual(normalize_account_id("My Team!"), "my-team")
        self.assertEqual(normalize_account_id("__proto__"), "default")
        self.assertEqual(normalize_account_id("x" * 80), "x" * 64)

    def test_irc_accounts_defaults_inheritance_and_env(self) -> None:
        snapshot = config_snapshot({"channels": {"irc": {
            "host": "irc.example", "nick": "bot", "password": "pw", "dmPolicy": "open",
            "nickserv": {"password": "ns", "service": "NS"},
            "accounts": {"Work": {"nick": "workbot", "tls": False,
                                  "nickserv": {"register": True}}, "home": {}},
            "defaultAccount": "home"}}})
        specs = {s.account_id: s for s in irc_accounts(snapshot, {"IRC_HOST": "ignored"})}
        self.assertEqual(sorted(specs), ["home", "work"])
        work = specs["work"]
        self.assertEqual((work.settings.host, work.settings.nick, work.settings.tls,
                          work.settings.port, work.settings.username, work.settings.realname),
                         ("irc.example", "workbot", False, 6667, "workbot", "OpenClaw"))
        self.assertEqual(work.settings.config.dm_policy, "open")
        self.assertEqual((work.secrets["password"], work.secrets["nickserv"]), ("pw", "ns"))
        self.assertEqual((work.settings.nickserv_service, work.settings.nickserv_register),
                         ("NS", True))
        self.assertEqual(work.sources["passwordSource"], "config")
        self.assertTrue(specs["home"].is_default)
        self.assertEqual(specs["home"].settings.port, 6697)   # TLS by default
        only_env = config_snapshot({"channels": {"irc": {}}})
        [spec] = irc_accounts(only_env, {"IRC_HOST": "h", "IRC_NICK": "n", "IRC_TLS": "0",
                                         "IRC_PASSWORD": "secret"})
        self.assertEqual((spec.configured, spec.settings.tls, spec.settings.port,
                          spec.sources["passwordSource"]), (True, False, 6667, "env"))
        self.assertEqual(irc_accounts(config_snapshot({}), {}), [])


class ChunkingTests(SynchronousTestCase):
    def test_breaks_at_paragraphs_lines_and_spaces(self) -> None:
        text = "first paragraph here\n\nsecond one is a bit longer than that"
        self.assertEqual(chunk_text(text, 30),
                         ["first paragraph here", "second one is a bit longer", "than that"])
        self.assertEqual(chunk_text("a\n\nb", 100, mode="newline"), ["a", "b"])
        self.assertEqual(chunk_text("   ", 10), [])

    def test_fences_are_closed_and_reopened(self) -> None:
        text = "intro\n```python\n" + "\n".join(f"line {i}" for i in range(20)) + "\n```"
        chunks = chunk_text(text, 60)
        self.assertGreater(len(chunks), 2)
        for chunk in chunks[1:]:
            self.assertTrue(chunk.startswith("```python") or chunk.startswith("line"),
                            chunk)
        for chunk in chunks:
            self.assertEqual(chunk.count("```") % 2, 0, chunk)

    def test_utf8_byte_bound(self) -> None:
        chunks = chunk_text("é" * 300, 350, max_bytes=400)
        self.assertTrue(all(len(c.encode()) <= 400 for c in chunks))
        self.assertEqual("".join(chunks), "é" * 300)

    @settings(max_examples=60, deadline=None)
    @given(st.text(alphabet=st.sampled_from(list("ab c\n`")), max_size=400),
           st.integers(min_value=16, max_value=80))
    def test_every_chunk_fits(self, text: str, limit: int) -> None:
        for chunk in chunk_text(text, limit):
            self.assertLessEqual(len(chunk), limit)


class PairingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="oc-pairing-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.db = ChannelDatabase(os.path.join(self.dir, "channels.sqlite"))
        self.addCleanup(self.db.close)

    def upsert(self, sender: str, now: int, account: str = "default") -> tuple[str, bool]:
        return pairing.upsert_request(self.db, "irc", account, sender, {"name": sender}, now)

    def test_codes_are_reused_capped_and_expire(self) -> None:
        code, created = self.upsert("a!x@h", 0)
        self.assertTrue(created)
        self.assertRegex(code, r"^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{8}$")
        self.assertEqual(self.upsert("a!x@h", 60_000), (code, False))
        self.upsert("b!x@h", 1)
        self.upsert("c!x@h", 2)
        self.assertEqual(self.upsert("d!x@h", 3), ("", False))       # at most 3 pending
        self.assertTrue(self.upsert("d!x@h", 3, account="work")[1])  # per account
        [first, *_] = pairing.list_requests(self.db, "irc", 10)
        self.assertEqual((first.created_at, first.last_seen_at),
                         ("1970-01-01T00:00:00.000Z", "1970-01-01T00:01:00.000Z"))
        self.assertEqual(len(pairing.list_requests(self.db, "irc", HOUR + 1)), 3)
        self.assertEqual(pairing.list_requests(self.db, "irc", HOUR + 3, "default"), [])
        self.assertTrue(self.upsert("d!x@h", HOUR + 4)[1])          # room again after expiry

    def test_approval_by_code_or_request_id(self) -> None:
        code, _ = self.upsert("Alice!~A@Host", 0)
        self.assertIsNone(pairing.approve_code(self.db, "irc", "NOPENOPE", 1))
        approved = pairing.approve_code(self.db, "irc", code.lower(), 1)
        assert approved is not None
        self.assertEqual(approved.sender_id, "Alice!~A@Host")
        self.assertEqual(pairing.allowed_senders(self.db, "irc", "default"),
                         ["alice!~a@host"])
        self.assertEqual(pairing.list_requests(self.db, "irc", 1), [])
        self.upsert("b!x@h", 2)
        [request] = pairing.list_requests(self.db, "irc", 2)
        self.assertEqual(len(request.request_id), 32)
        self.assertEqual(request.request_id, pairing.request_id(
            "irc", "default", "b!x@h", "1970-01-01T00:00:00.002Z"))
        self.assertIsNone(pairing.dismiss_request(self.db, "irc", "default", "nope", 3))
        dismissed = pairing.dismiss_request(self.db, "irc", "default", request.request_id, 3)
        assert dismissed is not None
        self.assertEqual(pairing.allowed_senders(self.db, "irc", "default"),
                         ["alice!~a@host"])

    def test_reply_text(self) -> None:
        self.assertEqual(pairing.pairing_reply("irc", "Your IRC id: a!b@c", "ABCDEFGH"),
                         "OpenClaw: access not configured.\n\nYour IRC id: a!b@c\n"
                         "Pairing code:\n```\nABCDEFGH\n```\n\nAsk the bot owner to approve "
                         "with:\n```\nopenclaw pairing approve irc ABCDEFGH\n```")


class RoutingTests(SynchronousTestCase):
    def route(self, config: dict[str, Any], **kwargs: Any) -> Any:
        snapshot = config_snapshot(config)
        view = read_agents(snapshot, default_workspace="/w", state_dir="/s", home="/h")
        params: dict[str, Any] = {"channel": "irc", "account_id": "default",
                                  "is_default_account": True, "kind": "direct",
                                  "peer_id": "alice"}
        params.update(kwargs)
        links = snapshot.parsed.get("session", {}).get("identityLinks")
        return resolve_route(view, snapshot.config.bindings, identity_links=links, **params)

    def test_tiers_and_default_account_rule(self) -> None:
        config = {"agents": {"entries": {"main": {"default": True}, "ops": {}, "fun": {}}},
                  "bindings": [
                      {"agentId": "fun", "match": {"channel": "irc", "accountId": "*"}},
                      {"agentId": "ops", "match": {"channel": "irc"}},
                      {"agentId": "fun", "match": {"channel": "irc",
                                                   "peer": {"kind": "channel", "id": "#OPS"}}}]}
        self.assertEqual(self.route(config).agent_id, "ops")          # binding.account
        self.assertEqual(self.route(config).matched_by, "binding.account")
        other = self.route(config, account_id="work", is_default_account=False)
        self.assertEqual((other.agent_id, other.matched_by), ("fun", "binding.channel"))
        group = self.route(config, kind="group", peer_id="#ops")
        self.assertEqual((group.agent_id, group.matched_by, group.session_key),
                         ("fun", "binding.peer", "agent:fun:irc:group:#ops"))
        ghost = {"bindings": [{"agentId": "ghost", "match": {"channel": "irc"}}]}
        self.assertEqual(self.route(ghost).agent_id, "main")

    def test_session_keys_follow_dm_scope_and_identity_links(self) -> None:
        self.assertEqual(self.route({}).session_key, "agent:main:main")
        scoped = {"session": {"dmScope": "per-channel-peer",
                              "identityLinks": {"alice": ["irc:Alice!~a@h"]}}}
        self.assertEqual(self.route(scoped, peer_id="bob").session_key,
                         "agent:main:irc:direct:bob")
        self.assertEqual(self.route(scoped, peer_id="alice!~a@h").session_key,
                         "agent:main:irc:direct:alice")
        self.assertEqual(self.route({"session": {"dmScope": "per-account-channel-peer"}},
                                    account_id="work").session_key,
                         "agent:main:irc:work:direct:alice")
        threaded = self.route({}, kind="group", peer_id="!room:hs", thread_id="$root",
                              channel="matrix")
        self.assertEqual(threaded.session_key, "agent:main:matrix:group:!room:hs:thread:$root")


class NetworkDetailTests(SynchronousTestCase):
    def test_irc_identities_and_targets(self) -> None:
        self.assertEqual(split_identity("alice!~al@host.example"),
                         ("alice", "~al", "host.example"))
        self.assertEqual(sender_keys("Alice", "~al", "Host"),
                         ("alice!~al", "alice@host", "alice!~al@host"))
        self.assertEqual(irc_target("channel:ops"), "#ops")
        self.assertEqual(irc_target("irc:user:bob"), "bob")
        self.assertIsNone(irc_target("two words"))

    def test_matrix_targets_formatting_and_guards(self) -> None:
        self.assertEqual(matrix_target("room:!abc:hs"), "!abc:hs")
        self.assertEqual(matrix_target("@u:hs"), "@u:hs")
        self.assertIsNone(matrix_target("alice"))
        self.assertEqual(to_html("Hi **you**\nline two\n\n```py\nx < 1\n```"),
                         "<p>Hi <strong>you</strong><br>line two</p>"
                         '<pre><code class="language-py">x &lt; 1\n</code></pre>')
        content = message_content("ok", thread_id="$root")
        self.assertEqual(content["m.relates_to"], {"rel_type": "m.thread", "event_id": "$root",
                                                   "is_falling_back": True,
                                                   "m.in_reply_to": {"event_id": "$root"}})
        self.assertEqual(content["m.mentions"], {})
        self.assertEqual(strip_reply_fallback("> <@a:hs> earlier\n> more\n\nreal text"),
                         "real text")
        self.assertTrue(is_private_host("127.0.0.1"))
        self.assertTrue(is_private_host("localhost"))
        self.assertFalse(is_private_host("matrix.org"))
