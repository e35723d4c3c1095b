"""Audiences as code: the specs in audiences/*.yml and the channel rules of the policy.

One yml file per audience (audiences/README.md shows the fields). Its SQL `definition`
is compiled into the dbt model `aud_<name>` (activation/render.py); everything else
(channel, purpose, cadence, holdout, priority, payload) drives the build and the export.
The consent scope and the fields a channel may receive are not in the audience: they
come from `activation.channels` in privacy/policy.yml, so a spec cannot widen them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from mallcrm.core.settings import PROJECT_ROOT
from privacy.policy import load_policy

AUDIENCES_DIR = PROJECT_ROOT / "audiences"
PURPOSES = ("marketing", "service")
CADENCES = {"daily": 1, "weekly": 7, "monthly": 28}  # days an exported run is not repeated
PAYLOAD_TYPES = ("varchar", "integer", "bigint", "double", "decimal(18,2)", "date", "boolean")
_NAME = re.compile(r"^[a-z][a-z0-9_]{2,40}$")
REQUIRED = ("name", "label", "description", "owner", "channel", "purpose", "cadence", "holdout_share", "priority")


class SpecError(ValueError):
    """An audience file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Channel:
    name: str
    label: str
    consent_scopes: tuple[str, ...]
    fields: tuple[str, ...]
    contact_field: str | None = None  # raw column "<schema>.<table>.<column>" the channel may carry in clear


@dataclass(frozen=True)
class ActivationRules:
    role: str
    channels: dict[str, Channel]
    cap_messages: int
    cap_days: int
    gates: dict[str, str]  # gate name -> what it guarantees, in order


@dataclass(frozen=True)
class Audience:
    name: str
    label: str
    description: str
    owner: str
    channel: str
    purpose: str
    cadence: str
    holdout_share: float
    priority: int
    definition: str
    payload: dict[str, str] = field(default_factory=dict)  # column -> data type
    path: Path | None = None

    @property
    def model(self) -> str:
        """The dbt model that holds the audience's definition."""
        return f"aud_{self.name}"

    @property
    def version(self) -> str:
        """Version of the definition: a hash of everything that decides who is exported."""
        body = yaml.safe_dump(
            {
                "definition": self.definition.strip(),
                "channel": self.channel,
                "purpose": self.purpose,
                "holdout_share": self.holdout_share,
                "priority": self.priority,
                "payload": self.payload,
            },
            sort_keys=True,
        )
        return hashlib.sha256(body.encode()).hexdigest()[:12]

    def run_id(self, run_date: date) -> str:
        return f"{self.name}@{run_date.isoformat()}"


def load_rules(policy: dict[str, Any] | None = None) -> ActivationRules:
    """`activation` of privacy/policy.yml: channels, frequency cap, gates."""
    section = (policy or load_policy()).get("activation") or {}
    scopes = set((policy or load_policy()).get("consent_scopes") or {})
    channels = {}
    for name, body in (section.get("channels") or {}).items():
        unknown = [s for s in body.get("consent_scope") or [] if s not in scopes]
        if unknown or not body.get("consent_scope"):
            raise SpecError(f"privacy/policy.yml activation.channels.{name}: consent_scope {unknown or 'missing'}")
        channels[name] = Channel(
            name=name,
            label=body.get("label", name),
            consent_scopes=tuple(body["consent_scope"]),
            fields=tuple(body.get("fields") or ["member_id"]),
            contact_field=body.get("contact_field"),
        )
    cap = section.get("frequency_cap") or {}
    return ActivationRules(
        role=section.get("role", "marketing"),
        channels=channels,
        cap_messages=int(cap.get("messages", 2)),
        cap_days=int(cap.get("days", 7)),
        gates=dict(section.get("gates") or {}),
    )


def parse_audience(path: Path, rules: ActivationRules) -> Audience:
    """One audience file, checked: every problem names the file and the field."""
    try:
        body = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise SpecError(f"{path}: not valid YAML ({error})") from None
    where = f"{path.name}"
    missing = [k for k in (*REQUIRED, "definition") if body.get(k) in (None, "")]
    if missing:
        raise SpecError(f"{where}: missing {', '.join(missing)}")
    name = str(body["name"])
    if not _NAME.match(name) or path.stem != name:
        raise SpecError(f"{where}: name {name!r} must be snake_case and equal the file name")
    if body["channel"] not in rules.channels:
        raise SpecError(
            f"{where}: channel {body['channel']!r} is not one of {sorted(rules.channels)} (privacy/policy.yml)"
        )
    if body["purpose"] not in PURPOSES:
        raise SpecError(f"{where}: purpose {body['purpose']!r} is not one of {PURPOSES}")
    if body["cadence"] not in CADENCES:
        raise SpecError(f"{where}: cadence {body['cadence']!r} is not one of {sorted(CADENCES)}")
    share = float(body["holdout_share"])
    if not 0.05 <= share <= 0.5:
        raise SpecError(f"{where}: holdout_share {share} must lie between 0.05 and 0.5")
    payload = {str(k): str(v).lower() for k, v in (body.get("payload") or {}).items()}
    bad = {k: v for k, v in payload.items() if v not in PAYLOAD_TYPES or not _NAME.match(k)}
    if bad:
        raise SpecError(f"{where}: payload {bad} (names snake_case, types one of {PAYLOAD_TYPES})")
    reserved = set(payload) & {"member_id", "run_id", "audience", "channel", "campaign_id", "arm"}
    if reserved:
        raise SpecError(f"{where}: payload may not redefine {sorted(reserved)}")
    return Audience(
        name=name,
        label=str(body["label"]),
        description=str(body["description"]).strip(),
        owner=str(body["owner"]),
        channel=str(body["channel"]),
        purpose=str(body["purpose"]),
        cadence=str(body["cadence"]),
        holdout_share=share,
        priority=int(body["priority"]),
        definition=str(body["definition"]).strip(),
        payload=payload,
        path=path,
    )


def load_audiences(directory: Path = AUDIENCES_DIR, rules: ActivationRules | None = None) -> list[Audience]:
    """Every audience, in priority order (then name): the order the frequency cap serves them."""
    rules = rules or load_rules()
    audiences = [parse_audience(p, rules) for p in sorted(directory.glob("*.yml"))]
    seen: dict[int, str] = {}
    for a in audiences:
        if a.priority in seen:
            raise SpecError(f"{a.name}.yml: priority {a.priority} is also {seen[a.priority]}'s; priorities are unique")
        seen[a.priority] = a.name
    return sorted(audiences, key=lambda a: (a.priority, a.name))
