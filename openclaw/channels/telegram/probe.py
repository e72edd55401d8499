"""``channels status --probe`` for Telegram (``extensions/telegram/src/probe.ts``, the
membership audit and ``status-issues.ts``).

* probe: ``getMe`` (up to 3 tries within the budget) then ``getWebhookInfo`` (its failure is
  ignored): ``{ok, status, error, elapsedMs, botInfo, bot: {id, isBot, firstName, username,
  canJoinGroups, canReadAllGroupMessages, supportsInlineQueries, ...}, webhook: {url,
  hasCustomCert}}``;
* audit: ``getChatMember`` of the bot in every explicit numeric group configured with
  ``requireMention: false`` (a wildcard or a non-numeric key cannot be checked): ``{ok,
  checkedGroups, unresolvedGroups, hasWildcardUnmentionedGroups, groups: [{chatId, ok,
  status, error, matchKey, matchSource}], elapsedMs}``;
* status issues: polling that has not completed a ``getUpdates`` 2 minutes after start,
  groups expecting unmentioned messages (privacy mode), and failed audits.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from twisted.internet.task import deferLater

from openclaw.channels.telegram.api import TelegramApi, TelegramApiError

if TYPE_CHECKING:
    from openclaw.channels.telegram.account import TelegramAccount

CONNECT_GRACE_MS: Final = 120_000
STALE_TRANSPORT_MS: Final = 1_800_000
_BOT_FLAGS: Final = (("isBot", "is_bot"), ("canJoinGroups", "can_join_groups"),
                     ("canReadAllGroupMessages", "can_read_all_group_messages"),
                     ("canManageBots", "can_manage_bots"),
                     ("supportsInlineQueries", "supports_inline_queries"),
                     ("canConnectToBusiness", "can_connect_to_business"),
                     ("hasMainWebApp", "has_main_web_app"),
                     ("hasTopicsEnabled", "has_topics_enabled"),
                     ("allowsUsersToCreateTopics", "allows_users_to_create_topics"))


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def bot_summary(me: dict[str, Any]) -> dict[str, Any]:
    bot: dict[str, Any] = {"id": me.get("id") if isinstance(me.get("id"), int) else None,
                           "firstName": me.get("first_name") if isinstance(
                               me.get("first_name"), str) else None,
                           "username": me.get("username") if isinstance(
                               me.get("username"), str) else None}
    for key, wire in _BOT_FLAGS:
        bot[key] = _bool(me.get(wire))
    return {"id": bot["id"], "isBot": bot["isBot"], "firstName": bot["firstName"],
            "username": bot["username"],
            **{key: bot[key] for key, _ in _BOT_FLAGS if key != "isBot"}}


def bot_info(me: dict[str, Any]) -> dict[str, Any] | None:
    """``normalizeTelegramBotInfo``."""
    if not (isinstance(me.get("id"), int) and me.get("is_bot") is True
            and isinstance(me.get("first_name"), str) and isinstance(me.get("username"), str)):
        return None
    info: dict[str, Any] = {"id": me["id"], "is_bot": True, "first_name": me["first_name"],
                            "username": me["username"]}
    for key in ("last_name", "language_code"):
        if isinstance(me.get(key), str):
            info[key] = me[key]
    for _, wire in _BOT_FLAGS[1:]:
        info[wire] = _bool(me.get(wire)) or False
    info["supports_join_request_queries"] = _bool(me.get("supports_join_request_queries")) \
        or False
    return info


async def probe_telegram(account: TelegramAccount, timeout_ms: int) -> dict[str, Any]:
    clock = account.context.timer
    started = clock.seconds()
    budget = max(1, timeout_ms) / 1000.0

    def elapsed() -> int:
        return int((clock.seconds() - started) * 1000)

    def remaining() -> float:
        return budget - (clock.seconds() - started)

    result: dict[str, Any] = {"ok": False, "status": None, "error": None}
    if not account.token:
        return {**result, "error": "missing token", "elapsedMs": 0}
    api = TelegramApi(account.context.reactor, clock, account.tg.api_root, account.token)
    try:
        me: Any = None
        failure: Exception | None = None
        retry_delay = max(0.05, min(1.0, budget / 5))
        for attempt in range(3):
            if remaining() <= 0:
                break
            try:
                me = await api.call("getMe", timeout_s=max(0.001, remaining()))
                failure = None
                break
            except TelegramApiError as e:
                if e.code == 0 or e.code >= 500:
                    failure = e
                else:
                    return {**result, "status": e.code, "error": e.description,
                            "elapsedMs": elapsed()}
            except Exception as e:
                failure = e
            if attempt < 2 and remaining() > 0:
                await deferLater(clock, min(retry_delay, remaining()), lambda: None)
        if me is None:
            error = str(failure) if failure is not None and str(failure) else \
                f"probe timed out after {int(budget * 1000)}ms"
            return {**result, "error": error, "elapsedMs": elapsed()}
        me = me if isinstance(me, dict) else {}
        info = bot_info(me)
        if info is not None:
            result["botInfo"] = info
        result["bot"] = bot_summary(me)
        if remaining() > 0:
            try:
                hook = await api.call("getWebhookInfo", timeout_s=max(0.001, remaining()))
                if isinstance(hook, dict):
                    result["webhook"] = {"url": hook.get("url"),
                                         "hasCustomCert": hook.get("has_custom_certificate")}
            except Exception:
                pass        # upstream ignores a failed webhook lookup
        return {**result, "ok": True, "status": None, "error": None, "elapsedMs": elapsed()}
    finally:
        await api.close()


def unmentioned_groups(account: TelegramAccount) -> tuple[list[str], int, bool]:
    """``(numeric group ids, unresolvable keys, "*" without mentions)``."""
    groups = account.tg.config.groups or {}
    wildcard = groups.get("*")
    has_wildcard = bool(wildcard is not None and wildcard.require_mention is False
                        and wildcard.enabled is not False)
    ids: list[str] = []
    unresolved = 0
    for key, rule in groups.items():
        if key == "*" or rule.enabled is False or rule.require_mention is not False:
            continue
        if re.fullmatch(r"-?\d+", key.strip()):
            ids.append(key.strip())
        elif key.strip():
            unresolved += 1
    return sorted(ids), unresolved, has_wildcard


async def audit_membership(account: TelegramAccount, timeout_ms: int,
                           probe: Any) -> dict[str, Any] | None:
    ids, unresolved, wildcard = unmentioned_groups(account)
    if not ids and unresolved == 0 and not wildcard:
        return None
    clock = account.context.timer
    started = clock.seconds()
    bot = probe.get("bot") if isinstance(probe, dict) and probe.get("ok") else None
    bot_id = bot.get("id") if isinstance(bot, dict) else None
    base = {"unresolvedGroups": unresolved, "hasWildcardUnmentionedGroups": wildcard}
    if bot_id is None or not ids:
        return {"ok": unresolved == 0 and not wildcard, "checkedGroups": 0, **base,
                "groups": [], "elapsedMs": 0}
    budget = max(1, timeout_ms) / 1000.0
    api = TelegramApi(account.context.reactor, clock, account.tg.api_root, account.token)
    groups: list[dict[str, Any]] = []
    try:
        for chat_id in ids:
            entry: dict[str, Any] = {"chatId": chat_id, "ok": False, "status": None,
                                     "error": None, "matchKey": chat_id, "matchSource": "id"}
            left = budget - (clock.seconds() - started)
            if left <= 0:
                entry["error"] = f"Telegram membership audit timed out after {timeout_ms}ms"
                groups.append(entry)
                continue
            try:
                member = await api.call("getChatMember", {"chat_id": chat_id,
                                                          "user_id": bot_id},
                                        timeout_s=left)
                status = member.get("status") if isinstance(member, dict) else None
                ok = status in ("creator", "administrator", "member")
                entry.update(ok=ok, status=status, error=None if ok else "bot not in group")
            except TelegramApiError as e:
                entry["error"] = e.description
            except Exception as e:
                entry["error"] = str(e) or type(e).__name__
            groups.append(entry)
    finally:
        await api.close()
    return {"ok": all(g["ok"] for g in groups), "checkedGroups": len(groups), **base,
            "groups": groups, "elapsedMs": int((clock.seconds() - started) * 1000)}


def status_issues(account: TelegramAccount, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    if not snapshot.get("enabled", True) or not snapshot.get("configured"):
        if account.tg.state_reason:
            return [{"channel": "telegram", "accountId": account.account_id,
                     "kind": "config", "message": account.tg.state_reason,
                     "fix": "Give each Telegram account its own bot token."}]
        return []
    issues: list[dict[str, Any]] = []
    account_id = account.account_id
    now = account.now_ms()
    fix = ("Run: openclaw channels status --probe (or restart the gateway). Check the bot "
           "token, proxy/network settings, and logs if it persists.")
    started = snapshot.get("lastStartAt")
    if snapshot.get("running") is True and snapshot.get("connected") is False:
        if not (isinstance(started, int) and now - started < CONNECT_GRACE_MS):
            message = ("Telegram polling is running but has not completed a successful "
                       "getUpdates call since startup")
            if snapshot.get("lastError"):
                message += f": {snapshot['lastError']}"
            issues.append({"channel": "telegram", "accountId": account_id, "kind": "runtime",
                           "message": message, "fix": fix})
    elif snapshot.get("running") is True:
        transport = snapshot.get("lastTransportActivityAt")
        if isinstance(transport, int) and now - transport > STALE_TRANSPORT_MS:
            issues.append({"channel": "telegram", "accountId": account_id, "kind": "runtime",
                           "message": "Telegram polling transport is stale (last successful "
                                      f"getUpdates {(now - transport) // 60_000}m ago)",
                           "fix": fix})
    if snapshot.get("allowUnmentionedGroups") is True:
        issues.append({"channel": "telegram", "accountId": account_id, "kind": "config",
                       "message": "Config allows unmentioned group messages "
                                  "(requireMention=false). Telegram Bot API privacy mode will "
                                  "block most group messages unless disabled.",
                       "fix": "In BotFather run /setprivacy → Disable for this bot (then "
                              "restart the gateway)."})
    audit = snapshot.get("audit")
    if isinstance(audit, dict):
        if audit.get("hasWildcardUnmentionedGroups") is True:
            issues.append({"channel": "telegram", "accountId": account_id, "kind": "config",
                           "message": 'Telegram groups config uses "*" with '
                                      "requireMention=false; membership probing is not "
                                      "possible without explicit group IDs.",
                           "fix": "Add explicit numeric group ids under "
                                  "channels.telegram.groups (or per-account groups) to enable "
                                  "probing."})
        unresolved = audit.get("unresolvedGroups")
        if isinstance(unresolved, int) and unresolved > 0:
            issues.append({"channel": "telegram", "accountId": account_id, "kind": "config",
                           "message": "Some configured Telegram groups are not numeric IDs "
                                      f"(unresolvedGroups={unresolved}). Membership probe can "
                                      "only check numeric group IDs.",
                           "fix": "Use numeric chat IDs (e.g. -100...) as keys in "
                                  "channels.telegram.groups for requireMention=false groups."})
        for group in audit.get("groups") or ():
            if not isinstance(group, dict) or group.get("ok") is True:
                continue
            status = f" status={group['status']}" if group.get("status") else ""
            error = f": {group['error']}" if group.get("error") else ""
            issues.append({"channel": "telegram", "accountId": account_id, "kind": "runtime",
                           "message": f"Group {group.get('chatId')} not reachable by bot."
                                      f"{status}{error}",
                           "fix": "Invite the bot to the group, then DM the bot once (/start) "
                                  "and restart the gateway."})
    return issues
