"""The final payload of a successful (or aborted) ``agent`` run, as the real gateway shapes it.

``{runId, status: "ok", summary: "completed", result: {payloads: [{text, mediaUrl}], meta,
sourceReplyDeliveryState}}`` where ``meta`` carries ``durationMs``, ``agentMeta`` (session,
provider, model, usage), ``aborted``, ``stopReason``, ``completion`` ``{stopReason,
finishReason}``, ``finalPromptText``, ``finalAssistantVisibleText``/``RawText``,
``livenessState``, ``replayInvalid``, ``requestShaping`` and an ``executionTrace`` of the model
that answered. (The real ``systemPromptReport`` -- sizes of its own prompt's sections -- has no
counterpart here.)
"""

from __future__ import annotations

from typing import Any, Final

from openclaw.agents.runtime import RunRequest, RunResult

# pi-ai stop reasons -> the provider finish reasons the real gateway reports beside them
FINISH_REASONS: Final = {"stop": "stop", "length": "length", "toolUse": "tool_calls",
                         "tool_calls": "tool_calls", "max_steps": "tool_calls"}


def _silent(text: str) -> bool:
    return text.strip().upper() == "NO_REPLY"


def final_payload(result: RunResult, request: RunRequest | None = None) -> dict[str, Any]:
    aborted = result.status == "aborted"
    meta: dict[str, Any] = {
        "durationMs": result.duration_ms,
        "agentMeta": {"sessionId": result.session_id, "provider": result.provider,
                      "model": result.model, "usage": result.usage.to_wire()},
        "aborted": aborted,
    }
    if request is not None:
        meta["finalPromptText"] = request.message
    meta["finalAssistantVisibleText"] = result.text
    meta["finalAssistantRawText"] = result.text
    meta["replayInvalid"] = False
    meta["livenessState"] = "paused" if aborted else "working"
    if result.stop_reason:
        meta["stopReason"] = result.stop_reason
    if result.provider and result.model:
        meta["executionTrace"] = {
            "winnerProvider": result.provider, "winnerModel": result.model,
            "attempts": [{"provider": result.provider, "model": result.model,
                          "result": "aborted" if aborted else "success",
                          "stage": "assistant"}],
            "runner": "embedded"}
    meta["requestShaping"] = {"thinking": "off"}
    if result.stop_reason:
        meta["completion"] = {"stopReason": result.stop_reason,
                              "finishReason": FINISH_REASONS.get(result.stop_reason,
                                                                 result.stop_reason)}
    text = result.text
    payloads = [{"text": text, "mediaUrl": None}] if text and not _silent(text) else []
    return {"runId": result.run_id, "status": "ok", "summary": "completed",
            "result": {"payloads": payloads, "meta": meta,
                       "sourceReplyDeliveryState": "missing"}}


__all__ = ["final_payload"]
