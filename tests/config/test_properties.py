"""Property tests (hypothesis): ${VAR} substitution, deep merge, robustness of the loader."""

from __future__ import annotations

import json
import os
import re
import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from openclaw.config import (
    ConfigError,
    ConfigSnapshot,
    deep_merge,
    parse_config_text,
    redact_config,
    substitute_env_vars,
)
from openclaw.config.includes import BLOCKED_KEYS

FAST = settings(max_examples=60, deadline=None, database=None)
SLOW = settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

var_names = st.from_regex(r"\A[A-Z_][A-Z0-9_]{0,12}\Z")
var_values = st.text(min_size=1, max_size=20)
literal_text = st.text(alphabet=st.characters(blacklist_characters="$"), max_size=15)


class SubstitutionProperties(SynchronousTestCase):
    @FAST
    @given(st.text(alphabet=st.characters(blacklist_characters="$"), max_size=40))
    def test_text_without_dollar_is_unchanged(self, text: str) -> None:
        self.assertEqual(substitute_env_vars(text, {}), (text, ()))

    @FAST
    @given(
        st.lists(
            st.one_of(
                literal_text.map(lambda t: ("literal", t)),
                var_names.map(lambda n: ("ref", n)),
                var_names.map(lambda n: ("escape", n)),
            ),
            max_size=8,
        ),
        st.dictionaries(var_names, var_values, max_size=6),
    )
    def test_segments_substitute_independently(
        self, segments: list[tuple[str, str]], env: dict[str, str]
    ) -> None:
        source = ""
        expected = ""
        missing = []
        for kind, value in segments:
            if kind == "literal":
                source += value
                expected += value
            elif kind == "escape":
                source += "$${" + value + "}"
                expected += "${" + value + "}"
            else:
                source += "${" + value + "}"
                if value in env:
                    expected += env[value]
                else:
                    expected += "${" + value + "}"
                    missing.append(value)
        result, refs = substitute_env_vars({"a": [source]}, env)
        self.assertEqual(result, {"a": [expected]})
        self.assertEqual([ref.name for ref in refs], missing)
        self.assertTrue(all(ref.path == ("a", 0) for ref in refs))

    @FAST
    @given(var_names, var_values)
    def test_escape_survives_exactly_one_pass(self, name: str, value: str) -> None:
        once, refs = substitute_env_vars("$${" + name + "}", {name: value})
        self.assertEqual((once, refs), ("${" + name + "}", ()))
        twice, refs = substitute_env_vars(once, {name: value})
        self.assertEqual((twice, refs), (value, ()))

    @FAST
    @given(st.from_regex(r"\A[a-z][a-z0-9_]{0,8}\Z"), var_values)
    def test_lowercase_names_are_not_references(self, name: str, value: str) -> None:
        text = "${" + name + "}"
        self.assertEqual(substitute_env_vars(text, {name: value}), (text, ()))

    @FAST
    @given(var_names, var_values)
    def test_keys_are_never_substituted(self, name: str, value: str) -> None:
        key = "${" + name + "}"
        result, _ = substitute_env_vars({key: 1}, {name: value})
        self.assertEqual(result, {key: 1})


# Type-consistent documents: a key's prefix fixes the type of its value at every level,
# so merging never mixes an array with a scalar at the same path.
def _documents() -> st.SearchStrategy[dict[str, Any]]:
    scalar = st.one_of(st.integers(-5, 5), st.booleans(), st.text(max_size=3), st.none())
    lists = st.lists(st.integers(0, 9), max_size=3)

    def objects(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {},
            optional={
                "s_a": scalar,
                "s_b": scalar,
                "l_a": lists,
                "l_b": lists,
                "o_a": children,
                "o_b": children,
            },
        )

    return st.recursive(st.just({}), objects, max_leaves=12)


class DeepMergeProperties(SynchronousTestCase):
    @FAST
    @given(_documents(), _documents(), _documents())
    def test_associative_for_consistent_documents(
        self, a: dict[str, Any], b: dict[str, Any], c: dict[str, Any]
    ) -> None:
        self.assertEqual(deep_merge(deep_merge(a, b), c), deep_merge(a, deep_merge(b, c)))

    @FAST
    @given(_documents())
    def test_empty_is_identity(self, a: dict[str, Any]) -> None:
        self.assertEqual(deep_merge({}, a), a)
        self.assertEqual(deep_merge(a, {}), a)

    @FAST
    @given(_documents(), _documents())
    def test_later_scalars_win_and_arrays_concatenate(
        self, a: dict[str, Any], b: dict[str, Any]
    ) -> None:
        merged = deep_merge(a, b)
        self.assertEqual(set(merged), set(a) | set(b))
        for key, value in b.items():
            if key.startswith("s_"):
                self.assertEqual(merged[key], value)
            elif key.startswith("l_"):
                self.assertEqual(merged[key], a.get(key, []) + value)

    @FAST
    @given(_documents(), _documents())
    def test_inputs_are_not_modified(self, a: dict[str, Any], b: dict[str, Any]) -> None:
        before = json.dumps([a, b], sort_keys=True)
        deep_merge(a, b)
        self.assertEqual(json.dumps([a, b], sort_keys=True), before)

    @FAST
    @given(st.sampled_from(sorted(BLOCKED_KEYS)), _documents())
    def test_prototype_keys_never_survive(self, key: str, a: dict[str, Any]) -> None:
        merged = deep_merge(a, {key: 1, "o_a": {key: 2}})
        self.assertNotIn(key, merged)
        self.assertNotIn(key, merged["o_a"])


# Keys that steer documents into the interesting parts of the pipeline.
_KEYS = st.one_of(
    st.sampled_from(
        [
            "gateway", "port", "mode", "bind", "auth", "token", "password", "reload",
            "debounceMs", "controlUi", "agents", "defaults", "entries", "list", "id", "default",
            "model", "primary", "fallbacks", "memorySearch", "memory", "search", "models",
            "providers", "apiKey", "localService", "command", "logging", "level", "env", "vars",
            "meta", "lastTouchedVersion", "channels", "hooks", "$include", "$schema", "source",
            "provider", "tls", "main", "trustedProxies", "__proto__", "audit", "consoleStyle",
        ]
    ),
    st.text(max_size=6),
)  # fmt: skip
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.sampled_from(["${A_VAR}", "$${B}", "local", "hybrid", "env", "x.json", "../x.json", "/"]),
)


def _json_values() -> st.SearchStrategy[Any]:
    return st.recursive(
        _SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(_KEYS, children, max_size=5)
        ),
        max_leaves=25,
    )


class RobustnessProperties(SynchronousTestCase):
    def setUp(self) -> None:
        self.base = os.path.abspath(self.mktemp())
        os.makedirs(self.base)
        self.path = os.path.join(self.base, "openclaw.json")
        with open(os.path.join(self.base, "x.json"), "w") as handle:
            handle.write('{"mode": "local"}')

    def _load(self, text: str) -> ConfigSnapshot | None:
        try:
            return parse_config_text(text, self.path, env={"A_VAR": "a"}, home=self.base)
        except ConfigError as error:
            rendered = str(error)
            self.assertTrue(rendered.startswith("Invalid config at "))
            self.assertNotIn("Traceback", rendered)
            self.assertTrue(error.issues)
            return None

    @SLOW
    @given(st.dictionaries(_KEYS, _json_values(), max_size=6))
    def test_json_documents_load_or_raise_config_error(self, document: dict[str, Any]) -> None:
        snapshot = self._load(json.dumps(document))
        if snapshot is not None:
            json.dumps(redact_config(snapshot.parsed))

    @SLOW
    @given(_json_values())
    def test_any_json_value_loads_or_raises_config_error(self, document: Any) -> None:
        self._load(json.dumps(document))

    @FAST
    @given(st.text(alphabet=string.printable + "{}[]:,\"'/*$é", max_size=60))
    def test_arbitrary_text_loads_or_raises_config_error(self, text: str) -> None:
        self._load(text)


# JSON5 rendering of JSON values with randomly chosen conveniences, to check that the fast
# JSON5 path agrees with the reference json5 parser.
_IDENTIFIER = st.from_regex(r"\A[A-Za-z_$][A-Za-z0-9_$]{0,6}\Z")


def _quote(text: str, quote: str) -> str:
    escaped = json.dumps(text)[1:-1]
    if quote == "'":
        escaped = escaped.replace('\\"', '"').replace("'", "\\'")
    return quote + escaped + quote


@st.composite
def _json5_texts(draw: st.DrawFn, value: Any) -> str:
    def gap() -> str:
        return draw(st.sampled_from(["", " ", "\n  ", " /* c */ ", " // c\n", "\t"]))

    def render(item: Any) -> str:
        if isinstance(item, bool) or item is None:
            return json.dumps(item)
        if isinstance(item, int):
            style = draw(st.sampled_from(["plain", "plus", "hex"]))
            if style == "hex" and item >= 0:
                return hex(item)
            if style == "plus" and item >= 0:
                return f"+{item}"
            return str(item)
        if isinstance(item, float):
            return json.dumps(item)
        if isinstance(item, str):
            return _quote(item, draw(st.sampled_from(['"', "'"])))
        if isinstance(item, list):
            parts = [gap() + render(child) + gap() for child in item]
            add_trailing: bool = draw(st.booleans())
            trailing = "," if parts and add_trailing else ""
            return "[" + ",".join(parts) + trailing + "]"
        members = []
        for key, child in item.items():
            if re.match(r"^[A-Za-z_$][A-Za-z0-9_$]*$", key) and draw(st.booleans()):
                rendered_key = key
            else:
                rendered_key = _quote(key, draw(st.sampled_from(['"', "'"])))
            members.append(gap() + rendered_key + gap() + ":" + gap() + render(child) + gap())
        add_comma: bool = draw(st.booleans())
        trailing = "," if members and add_comma else ""
        return "{" + ",".join(members) + trailing + "}"

    return gap() + render(value) + gap()


_JSON5_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=8),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(_IDENTIFIER, st.text(max_size=5)), children, max_size=4),
    ),
    max_leaves=15,
)


class Json5FastPathProperties(SynchronousTestCase):
    @FAST
    @given(_JSON5_VALUES.flatmap(_json5_texts))
    def test_fast_path_agrees_with_json5(self, text: str) -> None:
        import json5

        from openclaw.config.jsonfile import parse_json5

        self.assertEqual(
            json.dumps(parse_json5(text, "x"), sort_keys=True),
            json.dumps(json5.loads(text), sort_keys=True),
        )

    @FAST
    @given(
        st.lists(
            st.sampled_from([*"{}[]:,'\"\\/*+-.0123456789eExab$_ \n", "true", "//", "/*"]),
            max_size=20,
        ).map("".join)
    )
    def test_fast_path_never_accepts_what_json5_rejects(self, text: str) -> None:
        import json5

        from openclaw.config.jsonfile import _fast_parse

        try:
            fast = _fast_parse(text)
        except LookupError:
            return
        self.assertEqual(
            json.dumps(fast, sort_keys=True), json.dumps(json5.loads(text), sort_keys=True)
        )
