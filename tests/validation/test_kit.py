"""The validator kit: zod 4 semantics and wording, config hints, JSON Schema, the seams.

Expected messages were captured by running the same schemas through zod 4.6.5 (the version
bundled with OpenClaw 2026.9.6) and printing ``path.join(".") + ": " + message`` of each
issue.
"""

from __future__ import annotations

import math
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from openclaw.validation import (
    INVALID,
    MISSING,
    Bool,
    Context,
    Enum,
    Int,
    ListOf,
    Literal,
    MapOf,
    Num,
    Obj,
    OneOf,
    Path,
    Spec,
    Str,
    Tagged,
    Transformed,
    Unknown,
    nullable,
    nullish,
    optional,
    type_name,
)

SCHEMA = Obj({
    "s": optional(Str(min_length=2, max_length=4)),
    "p": optional(Str(pattern="^a+$")),
    "n": optional(Num(minimum=1, maximum=3)),
    "g": optional(Num(exclusive_minimum=0)),
    "i": optional(Int()),
    "b": optional(Bool()),
    "e": optional(Enum("x", "y", style="enum")),
    "l": optional(Literal("only")),
    "a": optional(ListOf(Str(), max_items=1)),
    "r": optional(MapOf(Num())),
    "u": optional(OneOf(Str(), Obj({"k": Str(min_length=3)}, strict=True))),
    "t": optional(Tagged("type", {"a": Obj({"type": Literal("a")}),
                                  "b": Obj({"type": Literal("b"), "v": Num()})})),
    "o": optional(Obj({"q": Str()}, strict=True)),
    "req": Str(),
})


def issues(spec: Spec, value: Any, ctx: Context | None = None) -> list[str]:
    ctx = ctx or Context()
    spec.convert(value, (), ctx)
    return [".".join(str(p) for p in issue.path) + ": " + issue.message for issue in ctx.issues]


class ZodWordingTests(SynchronousTestCase):
    def test_messages_match_zod(self) -> None:
        cases: list[tuple[dict[str, Any], list[str]]] = [
            ({"s": "a"}, ["s: Too small: expected string to have >=2 characters"]),
            ({"s": "abcde"}, ["s: Too big: expected string to have <=4 characters"]),
            ({"p": "b"}, ["p: Invalid string: must match pattern /^a+$/"]),
            ({"n": 0}, ["n: Too small: expected number to be >=1"]),
            ({"n": 4}, ["n: Too big: expected number to be <=3"]),
            ({"g": 0}, ["g: Too small: expected number to be >0"]),
            ({"i": 1.5}, ["i: Invalid input: expected int, received number"]),
            ({"i": "x"}, ["i: Invalid input: expected number, received string"]),
            ({"b": "yes"}, ["b: Invalid input: expected boolean, received string"]),
            ({"e": "z"}, ['e: Invalid option: expected one of "x"|"y"']),
            ({"e": None}, ['e: Invalid option: expected one of "x"|"y"']),
            ({"l": "other"}, ['l: Invalid input: expected "only"']),
            ({"l": 1}, ['l: Invalid input: expected "only"']),
            ({"a": ["a", "b"]}, ["a: Too big: expected array to have <=1 items"]),
            ({"r": []}, ["r: Invalid input: expected record, received array"]),
            ({"u": {"k": "ab"}}, ["u.k: Too small: expected string to have >=3 characters"]),
            ({"u": 5}, ["u: Invalid input"]),
            ({"u": {"k": "abc", "z": 1}}, ['u: Unrecognized key: "z"']),
            ({"t": {"type": "c"}}, ["t.type: Invalid discriminator value. Expected 'a' | 'b'"]),
            ({"t": {"type": "b"}}, ["t.v: Invalid input: expected number, received undefined"]),
            ({"t": 5}, ["t: Invalid input: expected object, received number"]),
            ({"o": {"q": "a", "z": 1, "w": 2}}, ['o: Unrecognized keys: "z", "w"']),
            ({"n": math.inf}, ["n: Invalid input: expected number, received Infinity"]),
            ({"req": math.inf}, ["req: Invalid input: expected string, received Infinity"]),
        ]
        for document, expected in cases:
            self.assertEqual(issues(SCHEMA, {"req": "x", **document}), expected, document)
        self.assertEqual(issues(SCHEMA, {}),
                         ["req: Invalid input: expected string, received undefined"])

    def test_every_issue_is_collected_in_document_order(self) -> None:
        self.assertEqual(issues(SCHEMA, {"req": 1, "s": "a", "zz": 1, "i": "x"}), [
            "s: Too small: expected string to have >=2 characters",
            "i: Invalid input: expected number, received string",
            "req: Invalid input: expected string, received number",
        ])
        self.assertEqual(issues(Obj({"a": Str()}, strict=True), {"a": 1, "zz": 1}), [
            "a: Invalid input: expected string, received number",
            ': Unrecognized key: "zz"',
        ])

    def test_type_names(self) -> None:
        for value, name in ((None, "null"), (True, "boolean"), (1, "number"), (1.5, "number"),
                            (math.nan, "NaN"), (-math.inf, "-Infinity"), ("", "string"),
                            ([], "array"), ((), "array"), ({}, "object"),
                            (MISSING, "undefined")):
            self.assertEqual(type_name(value), name)


class ConversionTests(SynchronousTestCase):
    def convert(self, spec: Spec, value: Any) -> Any:
        ctx = Context()
        result = spec.convert(value, (), ctx)
        self.assertEqual(ctx.issues, [])
        return result

    def test_values_are_converted(self) -> None:
        self.assertEqual(self.convert(Int(), 300.0), 300)
        self.assertIsInstance(self.convert(Int(), 300.0), int)
        self.assertEqual(self.convert(ListOf(Int()), [1, 2.0]), (1, 2))
        self.assertEqual(self.convert(MapOf(Str(), normalize_key=str.lower),
                                      {"A": "x", "a": "y"}), {"a": "x"})
        self.assertEqual(self.convert(Obj({"a": Str(), "b": optional(Int())}), {"a": "x", "z": 1}),
                         {"a": "x"})
        self.assertEqual(self.convert(Transformed(Str(), str.upper), "x"), "X")
        self.assertIsNone(self.convert(nullable(Str()), None))
        self.assertEqual(self.convert(Obj({"a": nullish(Str()), "u": optional(Unknown())}),
                                      {"a": None}), {"a": None})

    def test_failures_return_invalid(self) -> None:
        ctx = Context()
        self.assertIs(ListOf(Int()).convert([1, "x"], (), ctx), INVALID)
        self.assertFalse(INVALID)
        self.assertEqual([issue.path for issue in ctx.issues], [(1,)])

    def test_union_reports_its_only_softly_failing_branch(self) -> None:
        spec = OneOf(Str(), Int(minimum=5))
        self.assertEqual(issues(spec, 3), [": Too small: expected number to be >=5"])
        self.assertEqual(issues(spec, []), [": Invalid input"])
        self.assertEqual(self.convert(spec, 7), 7)
        # two softly failing branches: zod cannot tell which was meant
        self.assertEqual(issues(OneOf(Str(min_length=5), Str(pattern="^a")), "b"),
                         [": Invalid input"])

    def test_config_hints(self) -> None:
        ctx = Context()
        Obj({"port": Int(minimum=1, maximum=65535), "on": Bool(), "n": Num(exclusive_minimum=0),
             "mode": Enum("off", "hot")}).convert({"port": 0, "on": 1, "n": 0, "mode": "x"},
                                                  (), ctx)
        self.assertEqual([issue.full_message() for issue in ctx.issues], [
            "Too small: expected number to be >=1 (minimum: 1)",
            "Invalid input: expected boolean, received number (allowed: true, false)",
            "Too small: expected number to be >0 (must be greater than 0)",
            'Invalid input (allowed: "off", "hot")',
        ])
        many = Enum(*(f"v{n}" for n in range(14)))
        ctx = Context()
        many.convert("x", (), ctx)
        self.assertTrue(ctx.issues[0].full_message().endswith('"v11", ... (+2 more))'))


class SeamTests(SynchronousTestCase):
    def test_a_context_can_word_missing_values_and_unions_its_own_way(self) -> None:
        class Whole(Context):
            def missing(self, spec: Spec, path: Path) -> None:
                self.add(path, "absent", hard=True)

            def union_failed(self, path: Path, soft_failures: list[Context]) -> None:
                self.add(path, "no branch", hard=True)

        spec = Obj({"a": Str(), "u": OneOf(Str(), Int(minimum=5))})
        self.assertEqual(issues(spec, {"u": 3}, Whole()), ["a: absent", "u: no branch"])

    def test_json_schema(self) -> None:
        self.assertEqual(Obj({"a": Str(url=True), "b": optional(nullable(Int(minimum=1)))},
                             strict=True).json_schema(()), {
            "type": "object",
            "properties": {"a": {"type": "string", "format": "uri"},
                           "b": {"anyOf": [{"type": "integer", "minimum": 1},
                                           {"type": "null"}]}},
            "required": ["a"],
            "additionalProperties": False,
        })
        self.assertEqual(OneOf(Literal("a"), ListOf(Bool(), max_items=2)).json_schema(()), {
            "anyOf": [{"const": "a"}, {"type": "array", "items": {"type": "boolean"},
                                       "maxItems": 2}]})
        self.assertEqual(MapOf(Num(exclusive_minimum=0), key_pattern="^[a-z]+$").json_schema(()),
                         {"type": "object",
                          "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
                          "propertyNames": {"type": "string", "pattern": "^[a-z]+$"}})

    def test_the_kit_imports_nothing_else_from_openclaw(self) -> None:
        import ast
        import os

        import openclaw.validation as package

        directory = os.path.dirname(package.__file__)
        for name in os.listdir(directory):
            if not name.endswith(".py"):
                continue
            with open(os.path.join(directory, name), encoding="utf-8") as handle:
                tree = ast.parse(handle.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module:
                    self.assertFalse(node.module.startswith("openclaw.")
                                     and not node.module.startswith("openclaw.validation"),
                                     f"{name} imports {node.module}")
