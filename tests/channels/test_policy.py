"""Who may talk to the agent: DM policies, group allowlists, sender lists, mention gating."""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from openclaw.channels.model import DIRECT, GROUP, InboundMessage
from openclaw.channels.policy import (
    DISPATCH,
    DROP,
    PAIRING,
    SKIP,
    AccessPolicy,
    GroupRule,
    decide,
)


def message(*, group: bool = False, mentioned: bool = False, text: str = "hi",
            sender: str = "alice!~alice@host", target: str = "#test") -> InboundMessage:
    nick = sender.split("!")[0]
    return InboundMessage(
        channel="irc", account_id="default", event_id="e1",
        chat_type=GROUP if group else DIRECT, sender_id=sender, sender_name=nick,
        conversation_id=target if group else nick, reply_target=target if group else nick,
        text=text, ts=0, sender_keys=(sender.lower(), f"{nick}!~alice"),
        sender_names=(nick,), group_keys=(target,) if group else (), mentioned=mentioned)


def policy(**fields: Any) -> AccessPolicy:
    return AccessPolicy(**fields)


class DirectMessageTests(SynchronousTestCase):
    def test_pairing_is_the_default_and_admits_approved_senders(self) -> None:
        self.assertEqual(decide(message(), policy(), []).action, PAIRING)
        self.assertEqual(decide(message(), policy(), ["alice!~alice@host"]).action, DISPATCH)
        self.assertEqual(decide(message(), policy(allow_from=("alice!~alice@host",)),
                                []).action, DISPATCH)

    def test_bare_nicks_match_only_with_name_matching(self) -> None:
        self.assertEqual(decide(message(), policy(allow_from=("alice",)), []).action, PAIRING)
        self.assertEqual(decide(message(), policy(allow_from=("alice",), name_matching=True),
                                []).action, DISPATCH)

    def test_allowlist_open_and_disabled(self) -> None:
        self.assertEqual(decide(message(), policy(dm_policy="allowlist"), []).action, DROP)
        self.assertEqual(decide(message(), policy(dm_policy="allowlist"),
                                ["alice!~alice@host"]).action, DISPATCH)
        # open needs "*" (with concrete ids only those get in)
        self.assertEqual(decide(message(), policy(dm_policy="open", allow_from=("*",)),
                                []).action, DISPATCH)
        self.assertEqual(decide(message(), policy(dm_policy="open", allow_from=("bob!x@y",)),
                                []).action, DROP)
        self.assertEqual(decide(message(), policy(dm_policy="disabled", allow_from=("*",)),
                                []).action, DROP)
        self.assertEqual(decide(message(), policy(dm_enabled=False), ["alice!~alice@host"]
                                ).action, DROP)

    def test_pairing_approvals_never_open_groups(self) -> None:
        groups = {"#test": GroupRule(require_mention=False)}
        decision = decide(message(group=True), policy(groups=groups), ["alice!~alice@host"])
        self.assertEqual((decision.action, decision.reason), (DROP, "policy=allowlist"))


class GroupTests(SynchronousTestCase):
    def test_allowlist_needs_the_group_and_the_sender(self) -> None:
        self.assertEqual(decide(message(group=True, mentioned=True), policy(), []).reason,
                         "groupPolicy=allowlist and no groups configured")
        groups = {"#other": GroupRule(allow_from=("*",))}
        self.assertEqual(decide(message(group=True, mentioned=True), policy(groups=groups),
                                []).reason, "not allowlisted")
        groups = {"#TEST": GroupRule(allow_from=("*",))}   # keys match case-insensitively
        self.assertEqual(decide(message(group=True, mentioned=True), policy(groups=groups),
                                []).action, DISPATCH)

    def test_sender_lists_group_entry_then_group_allow_from(self) -> None:
        groups = {"#test": GroupRule(allow_from=("bob!x@y",))}
        self.assertEqual(decide(message(group=True, mentioned=True),
                                policy(groups=groups, group_allow_from=("alice!~alice@host",)),
                                []).action, DROP)
        groups = {"#test": GroupRule()}
        self.assertEqual(decide(message(group=True, mentioned=True),
                                policy(groups=groups, group_allow_from=("alice!~alice@host",)),
                                []).action, DISPATCH)
        # Matrix: the room allowlist alone lets members talk
        self.assertEqual(decide(message(group=True, mentioned=True),
                                policy(groups=groups, group_senders_required=False),
                                []).action, DISPATCH)

    def test_mention_gating_and_patterns(self) -> None:
        groups = {"*": GroupRule(allow_from=("*",))}
        self.assertEqual(decide(message(group=True), policy(groups=groups), []).action, SKIP)
        self.assertEqual(decide(message(group=True, mentioned=True), policy(groups=groups),
                                []).action, DISPATCH)
        self.assertEqual(decide(message(group=True, text="hey claw, help"),
                                policy(groups=groups, mention_patterns=(r"\bclaw\b",)),
                                []).action, DISPATCH)
        quiet = {"#test": GroupRule(require_mention=False, allow_from=("*",))}
        self.assertEqual(decide(message(group=True), policy(groups=quiet), []).action,
                         DISPATCH)

    def test_open_policy_and_disabled_entries(self) -> None:
        decision = decide(message(group=True), policy(group_policy="open"), [])
        self.assertEqual((decision.action, decision.reason), (DISPATCH,
                                                             "mention-not-required"))
        gated = {"*": GroupRule(require_mention=True)}
        self.assertEqual(decide(message(group=True), policy(group_policy="open",
                                                            groups=gated), []).action, SKIP)
        off = {"#test": GroupRule(enabled=False, allow_from=("*",))}
        self.assertEqual(decide(message(group=True, mentioned=True),
                                policy(group_policy="open", groups=off), []).reason,
                         "disabled")
        self.assertEqual(decide(message(group=True, mentioned=True),
                                policy(group_policy="disabled"), []).reason,
                         "groupPolicy=disabled")
        # open with a sender list behaves as an allowlist of senders
        self.assertEqual(decide(message(group=True, mentioned=True),
                                policy(group_policy="open", group_allow_from=("bob!x@y",)),
                                []).reason, "policy=allowlist")
