"""The notification automation: built without a server, it fires on exactly the states
it names for the nightly flow, and its webhook body renders to valid JSON."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.prefect


def _event(state: str, flow: str = "hotspot-nightly"):
    """A flow-run state event as the server emits it (prefect.server.models.events)."""
    from prefect.server.events.schemas.events import ReceivedEvent

    run = uuid.uuid4()
    return ReceivedEvent(
        occurred=datetime.now(UTC), event=f"prefect.flow-run.{state}", id=uuid.uuid4(),
        resource={"prefect.resource.id": f"prefect.flow-run.{run}",
                  "prefect.resource.name": "nightly-2024-05-01",
                  "prefect.state-name": state},
        related=[{"prefect.resource.id": f"prefect.flow.{uuid.uuid4()}",
                  "prefect.resource.role": "flow", "prefect.resource.name": flow}])


def test_the_automation_fires_on_failure_and_warnings_only():
    from prefect.server.events.schemas.automations import EventTrigger as ServerTrigger

    from hotspot.flows.notify import notification_automation

    block = uuid.uuid4()
    automation = notification_automation(block)
    (action,) = automation.actions
    assert action.type == "call-webhook" and action.block_document_id == block
    assert automation.enabled and automation.name == "hotspot-nightly-notify"
    # evaluate the trigger as the server does
    trigger = ServerTrigger.model_validate(automation.trigger.model_dump())
    assert trigger.immediate
    for state in ("Failed", "Crashed", "Published with warnings"):
        assert trigger.covers(_event(state)), state
    for state in ("Published", "Nothing new", "Completed", "Running"):
        assert not trigger.covers(_event(state)), state
    assert not trigger.covers(_event("Failed", flow="backtest-grid"))
    again = type(automation).model_validate_json(automation.model_dump_json())
    assert again.trigger == automation.trigger  # the spec survives its JSON form


def test_the_webhook_body_is_json_whatever_the_message():
    from prefect.server.utilities.user_templates import (
        register_user_template_filters,
        render_user_template_sync,
        validate_user_template,
    )

    from hotspot.flows.notify import PAYLOAD

    validate_user_template(PAYLOAD)
    register_user_template_filters({"ui_url": lambda obj: f"http://ui/runs/{obj.id}"})
    message = 'published 2024-05-01; 1 warning(s): volume of "2020-07" is <low>\nsee report'
    run = SimpleNamespace(id="r1", name="nightly-2024-05-01",
                          state=SimpleNamespace(name="Published with warnings",
                                                message=message))
    body = json.loads(render_user_template_sync(PAYLOAD, {"flow_run": run}))
    assert body["state"] == "Published with warnings" and body["message"] == message
    assert body["text"].startswith("hotspot nightly run nightly-2024-05-01: Published with")
    assert body["url"] == "http://ui/runs/r1"


def test_dry_run_prints_the_spec_and_sends_nothing(capsys, monkeypatch):
    from hotspot.flows import notify

    monkeypatch.setattr(notify, "install_notification",
                        lambda *a, **k: pytest.fail("a dry run must not install"))
    assert notify.main(["--dry-run"]) == 0
    spec = json.loads(capsys.readouterr().out)
    assert set(spec["trigger"]["expect"]) == notify.notify_events()
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert notify.main(["--url", "https://example.invalid/hook"]) == 2
    assert "PREFECT_API_URL is not set" in capsys.readouterr().err
