"""Upstream's JSON Schemas compiled to the protocol's validators, and the error text they give.

The parity test runs the real gateway's own validation (TypeBox from the reference package,
with upstream's error formatting, ``typebox_errors.mjs``) on the same values and compares the
text clients see.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.methods.upstream_schemas import params_schema, upstream_method_names
from openclaw.gateway.protocol.json_schema import compile_json_schema
from openclaw.gateway.protocol.schema import validation_error_text
from tests.reference import PACKAGE_REL, installed_reference, reference_node

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE_JSON = os.path.join(os.path.dirname(os.path.dirname(HERE)), "interop", "data",
                              "control_ui_reference.json")

# (method, params): valid and invalid values across the shapes upstream's schemas use.
CASES: list[tuple[str, Any]] = [
    ("chat.startup", {"bogus": 1}),
    ("chat.startup", {"sessionKey": "agent:main:main", "limit": 80, "maxBytes": 262144}),
    ("chat.startup", {"shortId": "abc", "agentId": "main"}),
    ("chat.startup", {"sessionKey": "", "limit": 0}),
    ("chat.startup", {"sessionKey": "k", "inputRunIds": []}),
    ("chat.startup", {"sessionKey": "k", "inputRunIds": ["a", "a"]}),
    ("models.list", {"view": "everything"}),
    ("models.list", {"preparedOnly": True, "refresh": True}),
    ("models.list", {"sessionKey": "k", "authProfileId": "p"}),
    ("models.list", {"agentId": "main", "view": "configured", "preparedOnly": True}),
    ("users.prefs.get", {"keys": ["a", "a"]}),
    ("users.prefs.get", {"keys": [""]}),
    ("users.prefs.get", {"keys": ["ui.theme"] * 33}),
    ("users.prefs.set", {"entries": {"": 1}}),
    ("users.prefs.set", {"entries": {"ui.theme": "dark"}, "expectedEntries": {"ui.theme": None}}),
    ("sessions.viewers.set", {"sessionKeys": [""], "x": 1, "y": 2}),
    ("sessions.viewers.set", {"sessionKeys": ["k"] * 33}),
    ("sessions.list", {"archived": "all", "ownerFirst": True, "includePeople": True,
                       "sortBy": "activity", "configuredAgentsOnly": True}),
    ("sessions.list", {"archived": "some", "sortBy": "name"}),
    ("sessions.list", {"profileRelation": {"profileId": "p", "relationship": "friend"}}),
    ("sessions.messages.subscribe", {"key": "k", "includeApprovals": True}),
    ("sessions.messages.subscribe", {"key": "k", "includeApprovals": False}),
    ("sessions.usage", {"startDate": "2026-1-1", "utcOffset": "UTC+25:99", "mode": "x"}),
    ("chat.send", {"sessionKey": "k", "message": "m", "idempotencyKey": "i",
                   "expectedLeafEntryId": None, "deliver": False}),
    ("chat.send", {"sessionKey": "k", "message": "m", "idempotencyKey": "i",
                   "mentions": [{"profileId": "", "start": -1}], "fastMode": "sometimes"}),
    ("chat.send", {"sessionKey": "k", "message": "m", "idempotencyKey": "i",
                   "__controlUiReconnectResume": True}),
    ("tasks.list", {"status": ["queued", "nope"], "limit": 501}),
    ("environments.list", {"projection": "rows"}),
    ("update.status", {"refreshCheckout": "yes"}),
    ("channels.status", {"probe": False, "timeoutMs": 8000}),
    ("cron.list", {"agentId": "main", "compact": True, "enabled": "all", "sortBy": "name"}),
    ("question.list", {"x": None}),
    ("node.describe", {}),
    ("sessions.catalog.list", {"cursors": {"a": 1}, "limitPerHost": 0}),
]


class CompilerTests(SynchronousTestCase):
    def test_closed_objects_and_unions(self) -> None:
        schema = compile_json_schema({
            "anyOf": [
                {"type": "object", "required": ["a"],
                 "properties": {"a": {"type": "string", "minLength": 1}},
                 "additionalProperties": False},
                {"type": "null"},
            ]})
        self.assertIsNone(validation_error_text(schema, {"a": "x"}))
        self.assertIsNone(validation_error_text(schema, None))
        self.assertEqual(validation_error_text(schema, {"b": 1}),
                         "must have required property 'a'; at root: unexpected property 'b'; "
                         "must be null; must match a schema in anyOf")

    def test_strings_arrays_records(self) -> None:
        schema = compile_json_schema({
            "type": "object", "properties": {
                "code": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 3},
                "list": {"type": "array", "items": {"type": "integer", "minimum": 0},
                         "maxItems": 2, "uniqueItems": True},
                "map": {"type": "object", "patternProperties": {"^x": {"type": "boolean"}},
                        "additionalProperties": False},
                "open": {"type": "object", "patternProperties": {"^x": {"type": "boolean"}}},
            }, "additionalProperties": False})
        self.assertEqual(validation_error_text(schema, {"code": "ABCD"}),
                         "at /code: must not have more than 3 characters; "
                         'at /code: must match pattern "^[a-z]+$"')
        self.assertEqual(validation_error_text(schema, {"list": [1, 1, -1]}),
                         "at /list: must not have more than 2 items; "
                         "at /list: must not have duplicate items; at /list/2: must be >= 0")
        self.assertEqual(validation_error_text(schema, {"map": {"xa": 1, "b": True}}),
                         "at /map/xa: must be boolean; at /map: unexpected property 'b'")
        self.assertIsNone(validation_error_text(schema, {"open": {"xa": True, "b": 1}}))
        self.assertEqual(validation_error_text(compile_json_schema(
            {"type": "string", "const": "a"}), 1), "must be string; must be equal to constant")

    def test_every_upstream_params_schema_compiles(self) -> None:
        names = upstream_method_names()
        self.assertGreaterEqual(len(names), 59)
        for name in names:
            params_schema(name)


class TypeBoxParityTests(SynchronousTestCase):
    """Our text equals the real gateway's for every case (TypeBox run by the reference node)."""

    def test_error_text_matches_the_real_gateway(self) -> None:
        root = installed_reference()
        typebox = os.path.join(root, "node_modules", "typebox", "build", "compile",
                               "index.mjs")
        if not os.path.isfile(typebox):
            typebox = os.path.join(root, PACKAGE_REL, "node_modules", "typebox", "build",
                                   "compile", "index.mjs")
        with open(REFERENCE_JSON, encoding="utf-8") as handle:
            methods = json.load(handle)["methods"]
        request = {"typebox": typebox,
                   "cases": [[methods[name]["paramsSchema"], value] for name, value in CASES]}
        done = subprocess.run([reference_node(root), os.path.join(HERE, "typebox_errors.mjs")],
                              input=json.dumps(request), capture_output=True, text=True,
                              timeout=60, check=False)
        self.assertEqual(done.returncode, 0, done.stderr)
        expected = json.loads(done.stdout)
        ours = [validation_error_text(params_schema(name), value) for name, value in CASES]
        mismatches = [(name, value, theirs, mine)
                      for (name, value), theirs, mine in zip(CASES, expected, ours, strict=True)
                      if theirs != mine]
        self.assertEqual(mismatches, [])
