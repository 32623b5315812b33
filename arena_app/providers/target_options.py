"""Per-entry settings a provider needs besides its URL and key (``EndpointTarget.options``), resolved once
by the registry from the entry and the environment.

* Vertex types (``vertex``, ``anthropic_message_vertex``): ``project_id`` and ``location``, from the entry,
  else FastChat's variables ``GCP_PROJECT_ID`` / ``GCP_LOCATION``, else Google's ``GOOGLE_CLOUD_PROJECT`` /
  ``GOOGLE_CLOUD_LOCATION``; the location defaults to ``global``. A missing project is a configuration
  problem (an SDK left to find one itself would ask the metadata server at start-up).
* ``yandexgpt``: ``folder_id`` (the model URI is ``gpt://FOLDER/MODEL``) and ``fixed_temperature``.
"""

from __future__ import annotations

from collections.abc import Mapping

from arena_app.providers.api_types import API_TYPE_TABLE
from arena_app.providers.endpoints import EndpointEntry
from arena_app.providers.errors import EndpointFileError


def provider_options(name: str, entry: EndpointEntry, env: Mapping[str, str]) -> dict[str, str]:
    """The options of ``entry``; raises EndpointFileError naming the model when a required one is missing."""
    options: dict[str, str] = {}
    if API_TYPE_TABLE[entry.api_type].google_adc:
        project = entry.project_id or env.get("GCP_PROJECT_ID") or env.get("GOOGLE_CLOUD_PROJECT")
        if not project:
            problem = (
                f"{name}: api_type {entry.api_type} needs a Google Cloud project: set project_id in the "
                "entry, or GCP_PROJECT_ID (FastChat's variable) or GOOGLE_CLOUD_PROJECT in the environment"
            )
            raise EndpointFileError("endpoint file", [problem])
        location = entry.location or env.get("GCP_LOCATION") or env.get("GOOGLE_CLOUD_LOCATION") or "global"
        options.update(project_id=project, location=location)
    if entry.api_type == "yandexgpt":
        if entry.folder_id is not None:
            options["folder_id"] = entry.folder_id
        if entry.fixed_temperature is not None:
            options["fixed_temperature"] = repr(entry.fixed_temperature)
    return options
