"""``channelSummary`` of ``status`` (``buildChannelSummary``), from the config alone:

    IRC: configured
      - default (dm:pairing, port:6667, allow:alice!~a@h)
    Matrix: not configured
"""

from __future__ import annotations

from collections.abc import Mapping

from openclaw.config.loader import ConfigSnapshot


def summary_lines(snapshot: ConfigSnapshot, env: Mapping[str, str]) -> list[str]:
    from openclaw.channels.service import default_plugins

    lines: list[str] = []
    for plugin in default_plugins():
        specs = plugin.account_specs(snapshot, None, env)
        if not specs:
            continue
        rows = [plugin.config_status(spec) for spec in specs]
        configured = [row for row in rows if row.get("configured")]
        if not any(row.get("enabled") is not False for row in rows):
            status = "disabled"
        else:
            status = "configured" if configured else "not configured"
        lines.append(f"{plugin.meta.label}: {status}")
        for row in configured:
            details: list[str] = []
            if row.get("enabled") is False:
                details.append("disabled")
            if row.get("dmPolicy"):
                details.append(f"dm:{row['dmPolicy']}")
            if row.get("baseUrl"):
                details.append(str(row["baseUrl"]))
            if row.get("port") is not None:
                details.append(f"port:{row['port']}")
            allow = [str(entry) for entry in row.get("allowFrom") or ()][:2]
            if allow:
                details.append(f"allow:{','.join(allow)}")
            name = row.get("name")
            label = f"{row['accountId']} ({name})" if name else str(row["accountId"])
            lines.append(f"  - {label}" + (f" ({', '.join(details)})" if details else ""))
    return lines
