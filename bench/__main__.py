"""``python -m bench``: every benchmark, each beside its floor or peer measured in the same
run, and the table of issue #18 (what | ours | floor/peer | ratio | aim | met?) written into
docs/performance.md with the date, the machine and its load.

    .venv/bin/python -m bench                      # full sizes (~6-8 minutes on 2 cores)
    .venv/bin/python -m bench --quick              # smaller sizes (~3 minutes)
    .venv/bin/python -m bench --only turns,http    # some of them (the table keeps the others)
    .venv/bin/python -m bench --tiny --doc /tmp/x.md   # the suite's smoke run: sizes of one

The benches: ``startup`` (start-up and idle RSS vs bare Twisted + Autobahn), ``ws_rpc``
(``health`` on 1 and 50 connections vs bare Autobahn), ``http`` (``/v1/models`` vs a bare
twisted.web resource and ``nanobot serve`` when installed; streamed chat vs a bare treq
relay), ``turns`` (added latency of a turn over calling the upstream directly; 10 vs 10,000
stored sessions), ``connections`` (10,000 idle authenticated WebSockets), ``concurrent``
(200 concurrent streamed runs), ``reload`` (config write -> visible), ``cli``
(``openclaw health --json`` vs ``python -c pass``).

The figures are ratios taken side by side: on a shared machine absolute numbers move with
the load (given with the table), ratios much less. The Python peer is nanobot-ai's
``nanobot serve`` (aiohttp); it is a bench extra, never a dependency of the gateway: install
it apart, ``python3 -m venv .venv-peer && .venv-peer/bin/pip install 'nanobot-ai[api]'``
(or point ``BENCH_NANOBOT`` at its ``nanobot``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import attrs

from bench.common import ROOT, Row, loadavg, machine

SIZES: dict[str, dict[str, Any]] = {
    "full": {"startup_runs": 5, "rpc_duration": 5.0, "rpc_runs": 3, "rpc_conns": [1, 50],
             "http_duration": 5.0, "http_conns": 50, "models_rounds": 3, "stream_conns": 8,
             "burst": 5000, "long_repeats": 3, "turns": 300, "stored": 10_000,
             "idle_conns": 10_000, "probes": 300, "concurrent": 200, "reload_rounds": 20,
             "cli_runs": 15},
    "quick": {"startup_runs": 3, "rpc_duration": 3.0, "rpc_runs": 1, "rpc_conns": [1, 50],
              "http_duration": 3.0, "http_conns": 50, "models_rounds": 1, "stream_conns": 8,
              "burst": 3000, "long_repeats": 1, "turns": 100, "stored": 10_000,
              "idle_conns": 2_000, "probes": 100, "concurrent": 200, "reload_rounds": 8,
              "cli_runs": 5},
    "tiny": {"startup_runs": 1, "rpc_duration": 0.5, "rpc_runs": 1, "rpc_conns": [1, 2],
             "http_duration": 1.0, "http_conns": 2, "models_rounds": 1, "stream_conns": 1,
             "burst": 20, "long_repeats": 1, "turns": 3, "stored": 30,
             "idle_conns": 5, "probes": 3, "concurrent": 3, "reload_rounds": 1,
             "cli_runs": 1},
}
MARK_START = "<!-- python -m bench: table start -->"
MARK_END = "<!-- python -m bench: table end -->"


def pct(value: float) -> str:
    return f"{value * 100:.0f} %"


def ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


# -- one function per bench: run it, turn its figures into rows ---------------------------------


def bench_startup(size: dict[str, Any]) -> list[Row]:
    from bench import startup

    r = startup.run(size["startup_runs"])
    floor, ours = r["floor"], r["ours"]
    ratio = ours["ready_s"] / floor["ready_s"]
    return [
        Row("start-up to the first `/healthz` 200 (median of "
            f"{size['startup_runs']})", f"{ours['ready_s'] * 1000:.0f} ms",
            f"{floor['ready_s'] * 1000:.0f} ms (bare Twisted + Autobahn)", f"{ratio:.2f}x",
            "<= 1.4x", ratio <= 1.4),
        Row("idle RSS after start-up", f"{ours['rss_mb']:.1f} MB",
            f"{floor['rss_mb']:.1f} MB (bare Twisted + Autobahn)",
            f"{ours['rss_mb'] / floor['rss_mb']:.2f}x", "<= 55 MB", ours["rss_mb"] <= 55.0),
    ]


def bench_ws_rpc(size: dict[str, Any]) -> list[Row]:
    from bench import ws_rpc

    results = ws_rpc.run(size["rpc_conns"], size["rpc_duration"], runs=size["rpc_runs"])
    rows = []
    for conns in size["rpc_conns"]:
        ours = next(r for r in results if r["target"] == "ours" and r["conns"] == conns)
        floor = next(r for r in results if r["target"] == "floor" and r["conns"] == conns)
        failures = ours["failures"] + floor["failures"]
        ratio = ours["vs_floor"] or 0.0
        rows.append(Row(
            f"WS `health` round trips, {conns} connection{'s' if conns > 1 else ''}",
            f"{ours['rps']:,.0f}/s (p50 {ms(ours['p50_ms'] or 0)})",
            f"{floor['rps']:,.0f}/s (bare Autobahn)", pct(ratio), ">= 80 %",
            ratio >= 0.8 and not failures, "; ".join(failures)))
    return rows


def bench_http(size: dict[str, Any]) -> list[Row]:
    from bench import http_api

    r = http_api.run(duration=size["http_duration"], conns=size["http_conns"],
                     stream_conns=size["stream_conns"], burst=size["burst"],
                     long_repeats=size["long_repeats"], models_rounds=size["models_rounds"])
    ours, floor = r["models ours"], r["models floor"]
    conns = size["http_conns"]
    rows = [Row(f"`GET /v1/models`, {conns} connections, vs a bare twisted.web resource",
                f"{ours['rps']:,.0f} req/s", f"{floor['rps']:,.0f} req/s",
                pct(ours["rps"] / floor["rps"]), "(the floor)", None)]
    if "models peer" in r:
        peer = r["models peer"]
        ratio = ours["rps"] / peer["rps"]
        rows.append(Row(f"`GET /v1/models`, {conns} connections, vs `nanobot serve` "
                        "(aiohttp, bearer key)", f"{ours['rps']:,.0f} req/s",
                        f"{peer['rps']:,.0f} req/s", pct(ratio), ">= 100 %", ratio >= 1.0))
    else:
        rows.append(Row("`GET /v1/models` vs `nanobot serve`", "-",
                        "not installed (see bench/__main__.py)", "-", ">= 100 %", None))
    stream, relay = r["stream ours"], r["stream relay"]
    ratio = stream["chunks_per_s"] / relay["chunks_per_s"]
    rows.append(Row(f"streamed chat completions, {size['stream_conns']} connections, "
                    "100 deltas each (a full agent turn per request)",
                    f"{stream['chunks_per_s']:,.0f} chunks/s",
                    f"{relay['chunks_per_s']:,.0f} chunks/s (bare treq relay)", pct(ratio),
                    ">= 80 %", ratio >= 0.8))
    long_ours, long_relay = r["long ours"], r["long relay"]
    ratio = long_ours["chunks_per_s"] / long_relay["chunks_per_s"]
    rows.append(Row(f"one long stream, {size['burst']:,} deltas",
                    f"{long_ours['chunks_per_s']:,.0f} chunks/s",
                    f"{long_relay['chunks_per_s']:,.0f} chunks/s (bare treq relay)", pct(ratio),
                    ">= 80 %", ratio >= 0.8))
    return rows


def bench_turns(size: dict[str, Any]) -> list[Row]:
    from bench import turns

    r = turns.run(size["turns"], stored=size["stored"])
    d, s, added = r["direct"], r["small"], r["added"]
    cpu = r["cpu_per_turn_ms"]
    return [
        Row(f"added latency of an agent turn, first token, p50 ({r['turns']} turns, new "
            "session each)", ms(added["first_p50"]),
            f"{ms(d['first_p50'])} direct (ours {ms(s['first_p50'])})",
            f"+{ms(added['first_p50'])}", "<= 1 ms", added["first_p50"] <= 1.0,
            f"gateway CPU per turn {cpu['small']:.2f} ms"),
        Row("added latency of an agent turn, to the final, p50", ms(added["final_p50"]),
            f"{ms(d['final_p50'])} direct (ours {ms(s['final_p50'])})",
            f"+{ms(added['final_p50'])}", "<= 1 ms", added["final_p50"] <= 1.0),
        Row(f"turn p50 with {r['stored']:,} sessions stored vs 10",
            ms(r["big"]["final_p50"]), f"{ms(s['final_p50'])} (10 stored)",
            f"{r['big_vs_small']:.2f}x", "<= 1.10x", r["big_vs_small"] <= 1.10,
            f"CPU per turn {cpu['big']:.2f} vs {cpu['small']:.2f} ms"),
    ]


def bench_connections(size: dict[str, Any]) -> list[Row]:
    from bench import connections

    r = connections.run(size["idle_conns"], size["probes"])
    failed = f"{r['failed']} failed: {r['failures'][:1]}" if r["failed"] else ""
    before, during = r["health_before_p50"], r["health_during_p50"]
    # "unchanged": within a quarter (and a tenth of a millisecond of timer noise)
    unchanged = during <= before * 1.25 + 0.1
    return [
        Row(f"{r['conns']:,} idle authenticated WebSockets: whole-process RSS",
            f"{r['rss_open_mb']:.0f} MB ({r['kb_per_conn']:.1f} KB each)",
            f"{r['rss_before_mb']:.0f} MB before", f"{r['opened']:,} held",
            "<= 500 MB, all held",
            r["rss_open_mb"] <= 500 and r["opened"] == r["conns"], failed),
        Row(f"`health` p50 while the {r['conns']:,} are open", ms(during),
            f"{ms(before)} before", f"{during / before:.2f}x",
            "unchanged (<= 1.25x + 0.1 ms)", unchanged),
    ]


def bench_concurrent(size: dict[str, Any]) -> list[Row]:
    from bench import concurrent_runs

    r = concurrent_runs.run(size["concurrent"])
    growth = r["rss_after_mb"] / r["rss_before_mb"]
    return [
        Row(f"{r['runs']} concurrent streamed runs: completed, p99 send -> final",
            f"{r['completed']}/{r['runs']}, p99 {ms(r['p99'])} (p50 {ms(r['p50'])})",
            f"p99 {ms(r['direct_p99'])} direct ({r['runs']} at once)",
            f"{r['p99'] / r['direct_p99']:.1f}x", "all complete, p99 reported",
            r["completed"] == r["runs"], "; ".join(r["failed"][:2])),
        Row("RSS after the concurrent runs", f"{r['rss_after_mb']:.1f} MB "
            f"(peak {r['rss_peak_mb']:.1f})", f"{r['rss_before_mb']:.1f} MB before",
            f"{growth:.2f}x", "back to baseline (<= 1.10x)", growth <= 1.10),
    ]


def bench_reload(size: dict[str, Any]) -> list[Row]:
    from bench import reload

    r = reload.run(300, size["reload_rounds"])
    zero = reload.run(0, size["reload_rounds"])
    return [
        Row("config hot reload, write -> visible (debounce 300 ms)", f"{r['medianMs']:.1f} ms",
            f"{r['floorMs']:.1f} ms (debounce + one RPC)", f"{r['ratio']:.2f}x", "<= 1.10x",
            r["ratio"] <= 1.10),
        Row("config hot reload, debounce 0 (the pipeline alone)", f"{zero['medianMs']:.1f} ms",
            f"{zero['floorMs']:.1f} ms (one RPC)", f"+{zero['overheadMs']:.1f} ms", "-", None),
    ]


def bench_cli(size: dict[str, Any]) -> list[Row]:
    import statistics

    from bench import cli

    r = cli.run(size["cli_runs"])
    floor, ours = statistics.median(r["floor"]), statistics.median(r["health"])
    base = f"{floor * 1000:.0f} ms (`python -c pass`)"
    note = ""
    if "real" in r:
        base += f"; real Node CLI {statistics.median(r['real']) * 1000:.0f} ms"
    elif "real_failed" in r:
        note = "the real Node CLI (.cache/reference-openclaw) failed against our gateway"
    return [Row("CLI wall time, `openclaw health --json`", f"{ours * 1000:.0f} ms", base,
                f"{ours / floor:.1f}x", "< 300 ms", ours < 0.3, note)]


BENCHES: dict[str, tuple[str, Callable[[dict[str, Any]], list[Row]]]] = {
    "startup": ("start-up", bench_startup),
    "ws_rpc": ("WebSocket RPC", bench_ws_rpc),
    "http": ("HTTP API", bench_http),
    "turns": ("agent turns", bench_turns),
    "connections": ("idle connections", bench_connections),
    "concurrent": ("concurrent runs", bench_concurrent),
    "reload": ("config reload", bench_reload),
    "cli": ("CLI", bench_cli),
}


# -- the table --------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    lines = ["| what | ours | floor / peer | ratio | aim | met? |", "|---|---|---|---|---|---|"]
    for row in rows:
        cells = [cell.replace("|", "\\|") for cell in row.cells()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section(rows: list[Row], profile: str, started: float, load_before: str, took: float,
            command: str) -> str:
    stamp = datetime.datetime.fromtimestamp(started, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    notes = [f"* {row.what}: {row.note}" for row in rows if row.note]
    met = sum(1 for row in rows if row.met)
    judged = sum(1 for row in rows if row.met is not None)
    parts = [
        MARK_START,
        "## The table: `python -m bench`",
        "",
        f"`{command}`, {stamp}, sizes `{profile}`, {took / 60:.1f} minutes.",
        f"Machine: {machine()}. Load average (1/5/15 min): {load_before} at the start, "
        f"{loadavg()} at the end.",
        "",
        table(rows),
        "",
        f"{met} of {judged} aims met in this run.",
    ]
    if notes:
        parts += ["", "Notes from the run:", "", *notes]
    parts += ["", MARK_END]
    return "\n".join(parts) + "\n"


def write_doc(path: str, text: str) -> None:
    """Replace the table section between the markers (or put it after the introduction)."""
    try:
        with open(path, encoding="utf-8") as handle:
            doc = handle.read()
    except FileNotFoundError:
        doc = "# Performance\n"
    if MARK_START in doc and MARK_END in doc:
        head, rest = doc.split(MARK_START, 1)
        tail = rest.split(MARK_END, 1)[1].lstrip("\n")
        doc = head + text + "\n" + tail
    else:
        at = doc.find("\n## ")
        doc = doc + "\n" + text if at < 0 else doc[:at + 1] + text + "\n" + doc[at + 1:]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(doc)


def merge_rows(path: str, fresh: dict[str, list[Row]]) -> list[Row]:
    """With --only: keep the rows of the other benches from the last JSON record."""
    merged: dict[str, list[Row]] = {}
    try:
        with open(path, encoding="utf-8") as handle:
            for name, rows in json.load(handle).items():
                merged[name] = [Row(**row) for row in rows]
    except (OSError, ValueError, TypeError):
        pass
    merged.update(fresh)
    return [row for name in BENCHES for row in merged.get(name, [])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench",
                                     description=(__doc__ or "").splitlines()[0])
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="smaller sizes (~3 minutes)")
    sizes.add_argument("--tiny", action="store_true",
                       help="sizes of one or two: only checks that every bench still runs")
    parser.add_argument("--only", default="",
                        help=f"comma-separated subset of: {', '.join(BENCHES)}")
    parser.add_argument("--doc", default=os.path.join(ROOT, "docs", "performance.md"),
                        help="the Markdown file whose table section is replaced")
    parser.add_argument("--no-doc", action="store_true", help="print the table only")
    parser.add_argument("--json", default=None,
                        help="where the rows are kept as JSON (default: bench/last-run.json "
                             "for full/quick runs; --only merges with it)")
    args = parser.parse_args(argv)
    profile = "tiny" if args.tiny else "quick" if args.quick else "full"
    size = SIZES[profile]
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown bench {', '.join(unknown)}; known: {', '.join(BENCHES)}")
    record = args.json or (None if profile == "tiny" else
                           os.path.join(ROOT, "bench", "last-run.json"))

    started, load_before = time.time(), loadavg()
    print(f"python -m bench ({profile}): {', '.join(names)}; load {load_before}", flush=True)
    fresh: dict[str, list[Row]] = {}
    failed = []
    for name in names:
        label, bench = BENCHES[name]
        t0 = time.perf_counter()
        try:
            rows = bench(size)
        except Exception as error:
            traceback.print_exc()
            failed.append(name)
            rows = [Row(label, f"failed: {type(error).__name__}: {error}"[:200], "-", "-", "-",
                        False)]
        fresh[name] = rows
        print(f"\n[{name}: {time.perf_counter() - t0:.0f} s, load {loadavg()}]", flush=True)
        print(table(rows), flush=True)

    rows = merge_rows(record, fresh) if record and args.only else \
        [row for name in names for row in fresh[name]]
    if record:
        previous: dict[str, Any] = {}
        if args.only:
            try:
                with open(record, encoding="utf-8") as handle:
                    previous = json.load(handle)
            except (OSError, ValueError):
                previous = {}
        previous.update({name: [attrs.asdict(row) for row in fresh_rows]
                         for name, fresh_rows in fresh.items()})
        with open(record, "w", encoding="utf-8") as handle:
            json.dump(previous, handle, indent=1)
    command = "python -m bench" + {"full": "", "quick": " --quick", "tiny": " --tiny"}[profile]
    if args.only:
        command += f" --only {args.only}"
    text = section(rows, profile, started, load_before, time.time() - started, command)
    print("\n" + text)
    if not args.no_doc:
        write_doc(args.doc, text)
        print(f"table written to {args.doc}")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
