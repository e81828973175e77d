"""Notify someone when a nightly run fails or publishes with warnings: a Prefect
automation whose action calls a webhook block (Slack, Teams, any HTTP endpoint).

The automation listens for the flow-run state events the server emits on every state
change, ``prefect.flow-run.<state name>``, for runs of the ``hotspot-nightly`` flow. The
nightly flow names its final state ``Nothing new``, ``Published`` or ``Published with
warnings``, so one trigger can tell a night with warnings from a quiet one; a failure is
``Failed`` (or ``Crashed`` when the process died). :func:`notification_automation` builds
the spec without a server; :func:`install_notification` saves the webhook block and
creates the automation on the server ``PREFECT_API_URL`` names. From a shell::

    PREFECT_API_URL=http://127.0.0.1:4200/api \\
        python -m hotspot.flows.notify --url https://hooks.slack.com/services/XXX
    python -m hotspot.flows.notify --dry-run       # print the automation, send nothing

See docs/notifications.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

from prefect.automations import Automation, CallWebhook, EventTrigger, Posture
from prefect.blocks.webhook import Webhook

from hotspot.flows.nightly import FLOW_NAME
from hotspot.nightly.summary import PUBLISHED_WITH_WARNINGS

#: State names that notify: failures and a publish with warnings.
NOTIFY_STATES = ("Failed", "Crashed", PUBLISHED_WITH_WARNINGS)
AUTOMATION_NAME = "hotspot-nightly-notify"
BLOCK_NAME = "hotspot-nightly-webhook"
#: The webhook's JSON body (Jinja, rendered by the server): ``text`` is what Slack and
#: Teams incoming webhooks show; ``tojson`` keeps quotes in a state message valid JSON.
PAYLOAD = """{
  "text": {{ ("hotspot nightly run " ~ flow_run.name ~ ": " ~ flow_run.state.name ~ " - "
              ~ (flow_run.state.message or "")) | tojson }},
  "flow_run": {{ flow_run.name | tojson }},
  "state": {{ flow_run.state.name | tojson }},
  "message": {{ (flow_run.state.message or "") | tojson }},
  "url": {{ (flow_run | ui_url) | tojson }}
}"""


def notify_events(states: Sequence[str] = NOTIFY_STATES) -> set[str]:
    """The event names of flow runs entering ``states``."""
    return {f"prefect.flow-run.{state}" for state in states}


def notification_automation(
    webhook_block_id: UUID,
    *,
    flow_name: str = FLOW_NAME,
    states: Sequence[str] = NOTIFY_STATES,
    name: str = AUTOMATION_NAME,
    enabled: bool = True,
) -> Automation:
    """The automation (not yet created): when a run of ``flow_name`` enters one of
    ``states``, call the webhook block ``webhook_block_id`` once with :data:`PAYLOAD`."""
    trigger = EventTrigger(
        expect=notify_events(states),
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={"prefect.resource.role": "flow", "prefect.resource.name": flow_name},
        for_each={"prefect.resource.id"},  # one call per flow run
        posture=Posture.Reactive, threshold=1, within=timedelta(0))
    return Automation(
        name=name, enabled=enabled, trigger=trigger,
        description=f"Call a webhook when a {flow_name} run ends "
                    + " or ".join(repr(s) for s in states),
        actions=[CallWebhook(block_document_id=webhook_block_id, payload=PAYLOAD)])


def install_notification(url: str, *, block_name: str = BLOCK_NAME,
                         enabled: bool = True, **options: object) -> Automation:
    """Save a webhook block for ``url`` as ``block_name`` (replacing one of that name) and
    create the automation on the current Prefect server; returns it with its id.
    ``options`` go to :func:`notification_automation`."""
    block_id = Webhook(url=url).save(block_name, overwrite=True)
    automation = notification_automation(block_id, enabled=enabled, **options)  # type: ignore[arg-type]
    return automation.create()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hotspot.flows.notify",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="webhook URL the server calls (kept in a block)")
    parser.add_argument("--block-name", default=BLOCK_NAME)
    parser.add_argument("--dry-run", action="store_true",
                        help="print the automation as JSON; create nothing")
    args = parser.parse_args(argv)
    if args.dry_run:
        spec = notification_automation(UUID(int=0))  # the block's id is known once saved
        print(spec.model_dump_json(indent=2, exclude={"id"}))
        return 0
    if not args.url:
        parser.error("--url: give the webhook URL to call (or --dry-run)")
    if not os.environ.get("PREFECT_API_URL"):
        print("error: PREFECT_API_URL is not set: an automation lives on a Prefect server; "
              "start one (prefect server start) and export PREFECT_API_URL", file=sys.stderr)
        return 2
    automation = install_notification(args.url, block_name=args.block_name)
    print(f"created automation {automation.name} ({automation.id}) calling block "
          f"{args.block_name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
