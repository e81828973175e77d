"""``hotspot models``: every registered model with its parameters, defaults and tags.

Registered by ``hotspot.cli`` as ``app.command("models")(models_command)``. The facts come
from the registry and each class's signature, so the table cannot drift from the code;
``--config`` shows the values a config file's ``model_params`` sets beside the defaults.
"""

from __future__ import annotations

import inspect
import json
from typing import Annotated, Any

import typer
from rich.table import Table

from hotspot.cli.common import ConfigOpt, console, handle_errors, rich_progress
from hotspot.settings import load_settings


def _annotation(parameter: inspect.Parameter) -> str:
    annotation = parameter.annotation
    if annotation is inspect.Parameter.empty:
        return ""
    return annotation if isinstance(annotation, str) else getattr(
        annotation, "__name__", str(annotation))


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except TypeError:
        return repr(value)
    return value


def model_info(name: str, configured: dict[str, Any] | None = None) -> dict[str, Any]:
    """What ``hotspot models`` shows of one model: its summary line, tags that are set,
    and per parameter its type, default and the configured value (if any)."""
    from hotspot.models.base import DEFAULT_TAGS
    from hotspot.models.registry import model_class

    cls = model_class(name)
    configured = configured or {}
    params = []
    for parameter in inspect.signature(cls.__init__).parameters.values():
        if parameter.name == "self" or parameter.kind in (parameter.VAR_POSITIONAL,
                                                          parameter.VAR_KEYWORD):
            continue
        default = (None if parameter.default is inspect.Parameter.empty
                   else _jsonable(parameter.default))
        entry = {"name": parameter.name, "type": _annotation(parameter), "default": default}
        if parameter.name in configured:
            entry["configured"] = _jsonable(configured[parameter.name])
        params.append(entry)
    doc = inspect.getdoc(cls) or ""
    return {"name": name, "summary": doc.split("\n\n")[0].replace("\n", " "),
            "tags": [tag for tag in DEFAULT_TAGS if cls.get_tag(tag)], "params": params}


def _value(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def _table(infos: list[dict[str, Any]]) -> Table:
    """One row per parameter; a model's name and tags head its first row."""
    table = Table(title="models: set parameters with --param MODEL.KEY=VALUE or a "
                        "[hotspot.model_params.MODEL] table in --config; hotspot models "
                        "--json for all details")
    table.add_column("model (tags)", no_wrap=True)
    table.add_column("parameter", no_wrap=True)
    table.add_column("default", overflow="fold")
    table.add_column("type", overflow="fold", style="dim")
    for info in infos:
        rows = info["params"] or [{"name": "-", "default": "", "type": ""}]
        heading = [info["name"], f"({', '.join(info['tags'])})" if info["tags"] else ""]
        for i, p in enumerate(rows):
            default = _value(p["default"]) if p["name"] != "-" else ""
            if "configured" in p:
                default += f" (config: {_value(p['configured'])})"
            table.add_row(heading[i] if i < len(heading) else "", p["name"], default,
                          p["type"], end_section=i == len(rows) - 1)
    return table


@handle_errors
def models_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the list as JSON (name, summary, tags, "
                           "params with type, default and configured value).")
    ] = False,
    name: Annotated[
        str | None, typer.Argument(help="Only this model (default: all).", show_default=False)
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """List the models: parameters with their defaults, capability tags (baseline,
    needs_events, takes_covariates) and what each does."""
    from hotspot.models.registry import available_models, check_model, model_class

    settings = load_settings(config)
    names = [name] if name else available_models()
    if name:
        model_class(name)  # an unknown name: one line listing the known ones
    with rich_progress(stage="importing the models"):
        for model, params in settings.model_params.items():
            check_model(model, params)  # a bad configured value is named, as backtest would
        infos = [model_info(n, settings.model_params.get(n)) for n in names]
    if as_json:
        typer.echo(json.dumps(infos, indent=1))
    else:
        console.print(_table(infos))

