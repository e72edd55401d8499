"""Request bodies on the shared validator kit: the answers this API keeps where zod 4 differs.

See :mod:`openclaw.gateway.http.schema`: the real gateway (zod 4.6.5) answers these three
cases differently; they are pinned here so that changing them is a deliberate decision.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.http.responses import RESPONSES_SCHEMA
from openclaw.gateway.http.schema import Enum, Literal, Num, Obj, Str, Union, first_issue, opt


class PreKitAnswersTests(SynchronousTestCase):
    def test_a_failed_union_answers_as_a_whole(self) -> None:
        # zod: "input.0.content.0.source.data: Too small: expected string to have >=1 ..."
        body = {"model": "m", "input": [{"type": "message", "role": "user", "content": [
            {"type": "input_image",
             "source": {"type": "base64", "media_type": "image/png", "data": ""}}]}]}
        self.assertEqual(first_issue(RESPONSES_SCHEMA, body), "input: Invalid input")

    def test_missing_union_enum_or_literal_is_expected_unknown(self) -> None:
        self.assertEqual(first_issue(RESPONSES_SCHEMA, {"model": "m"}),
                         "input: Invalid input: expected unknown, received undefined")
        spec = Obj({"t": Literal("x"), "e": Enum(("a", "b")), "u": Union([Str(), Num()])})
        self.assertEqual(first_issue(spec, {"t": "x", "e": "a"}),
                         "u: Invalid input: expected unknown, received undefined")
        self.assertEqual(first_issue(spec, {"u": 1}),
                         "t: Invalid input: expected unknown, received undefined")
        self.assertEqual(first_issue(RESPONSES_SCHEMA, {"model": "m", "input": "x",
                                                        "tools": [{"name": "f"}]}),
                         "tools.0.type: Invalid input: expected unknown, received undefined")

    def test_an_infinite_number_is_received_as_number(self) -> None:
        # json.loads reads 1e999 as infinity; zod says "received Infinity"
        spec = Obj({"temperature": opt(Num(minimum=0, maximum=2))})
        self.assertEqual(first_issue(spec, {"temperature": float("inf")}),
                         "temperature: Invalid input: expected number, received number")
