"""Request bodies answer as the real gateway's zod 4.6.5 does (each case below was run
through the zod bundled in openclaw 2026.9.6 on upstream's ``CreateResponseBodySchema``)."""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.http.responses import RESPONSES_SCHEMA
from openclaw.gateway.http.schema import Num, Obj, first_issue, opt

REAL_ANSWERS: tuple[tuple[dict[str, Any], str], ...] = (
    ({"model": "m"}, "input: Invalid input"),
    ({"model": "m", "input": [{"type": "message", "role": "user", "content": "x",
                               "extra": 1}]},
     'input.0: Unrecognized key: "extra"'),
    ({"model": "m", "input": [{"type": "message", "role": "user", "content": [
        {"type": "input_image",
         "source": {"type": "base64", "media_type": "image/png", "data": ""}}]}]},
     "input.0.content.0.source.data: Too small: expected string to have >=1 characters"),
    ({"model": "m", "input": "x", "tool_choice": {"type": "function", "name": ""}},
     "tool_choice.name: Too small: expected string to have >=1 characters"),
    ({"model": "m", "input": "x", "tools": [{"name": "f"}]},
     'tools.0.type: Invalid input: expected "function"'),
)


class RealGatewayAnswersTests(SynchronousTestCase):
    def test_responses_bodies(self) -> None:
        for body, answer in REAL_ANSWERS:
            self.assertEqual(first_issue(RESPONSES_SCHEMA, body), answer, body)

    def test_an_infinite_number_is_received_as_infinity(self) -> None:
        # json.loads reads 1e999 as infinity, JSON.parse too; zod says "received Infinity"
        spec = Obj({"temperature": opt(Num(minimum=0, maximum=2))})
        self.assertEqual(first_issue(spec, {"temperature": float("inf")}),
                         "temperature: Invalid input: expected number, received Infinity")
