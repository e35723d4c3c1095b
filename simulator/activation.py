"""The simulated mall answers the warehouse's audience exports: the loop closes.

The warehouse exports audiences into its outbox (activation/export.py): per audience a
file of members to contact (treatment) and a holdout file (control, never contacted),
listed in `<outbox>/audiences/<date>/manifest.json`. Here the simulator plays both the
mall's marketing system and its members:

- the marketing system runs each export as a campaign starting the day after the export
  date, for `WINDOW_DAYS` days: its next exports carry the campaign (id, channel, dates,
  cost of the messages, the planned control share) and the assignments of both arms,
  exactly as for its own campaigns, so the campaign ROI mart measures it;
- treatment members respond with the audience's TRUE effect (`TRUE_EFFECTS`): an extra
  purchase rate during the campaign and a chance that a lapsed member comes back.
  Control members get nothing. One shipped audience has no true effect at all, so the
  measurement is seen to find an effect where there is one and none where there is not.

Only members named in the files are touched, and only from the campaign's first day, so
the days before it are the same with or without the exports. Randomness comes from its
own stream, so the rest of the mall's draws are unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from .behaviour import Latent, revive
from .frames import Day, Rows
from .population import Members
from .rng import stream

WINDOW_DAYS = 14
MESSAGE_COST = {"sms": 0.05, "wechat": 0.02, "email": 0.01, "app_push": 0.0}
# audience -> (extra purchase rate of treatment during the campaign, share of lapsed treatment members revived)
TRUE_EFFECTS: dict[str, tuple[float, float]] = {
    "winback_high_value": (3.0, 0.45),
    "dormant_reactivation": (3.0, 0.50),
    "new_member_second_purchase": (2.0, 0.10),
    "points_expiring_30d": (1.5, 0.05),
    "near_vip_threshold": (1.0, 0.0),
    "product_recommendations": (0.8, 0.0),
    "category_cross_sell": (0.6, 0.0),
    "birthday_this_month": (0.0, 0.0),  # greetings that change nothing: the null case
}
DEFAULT_EFFECT = (0.5, 0.02)


@dataclass
class Activation:
    campaign_id: str
    audience: str
    label: str
    channel: str
    export_date: date
    holdout_share: float
    treatment: list[str]
    control: list[str]

    @property
    def start_date(self) -> date:
        return self.export_date + timedelta(days=1)

    @property
    def end_date(self) -> date:
        return self.start_date + timedelta(days=WINDOW_DAYS - 1)


def _ids(path: Path, kind: str) -> list[str]:
    if not path.exists() or path.stat().st_size == 0:
        return []
    table = pajson.read_json(path) if kind == "jsonl" else pacsv.read_csv(path)
    return [str(v) for v in table.column("member_id").to_pylist()] if table.num_rows else []


def read_activations(outbox: Path) -> list[Activation]:
    """Every export of `<outbox>/audiences/*/manifest.json`, oldest first."""
    out = []
    for manifest_path in sorted((outbox / "audiences").glob("*/manifest.json")):
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        folder = manifest_path.parent
        for e in manifest["exports"]:
            out.append(
                Activation(
                    campaign_id=e["campaign_id"],
                    audience=e["audience"],
                    label=e.get("label", e["audience"]),
                    channel=e["channel"],
                    export_date=date.fromisoformat(manifest["run_date"]),
                    holdout_share=float(e["holdout_share"]),
                    treatment=_ids(folder / e["files"]["jsonl"], "jsonl"),
                    control=_ids(folder / e["files"]["holdout"], "csv"),
                )
            )
    return out


class ActivationResponder:
    """Runs the exported audiences as campaigns in the simulated marketing system."""

    def __init__(self, activations: list[Activation], members: Members, seed: int, start: date):
        self.members = members
        self.rng = stream(seed, "activation-response")
        index = {m: i for i, m in enumerate(members.member_id)}
        self.start = start
        self.runs = []
        for a in activations:
            if not a.treatment and not a.control:
                continue
            t = np.array([index[m] for m in a.treatment if m in index], dtype=np.int64)
            c = np.array([index[m] for m in a.control if m in index], dtype=np.int64)
            self.runs.append((a, t, c))

    def _day(self, d: date) -> int:
        return (d - self.start).days

    def start_of_day(self, day: Day, latent: Latent, campaign_rows: Rows, assignment_rows: Rows) -> None:
        for a, t, c in self.runs:
            start, end = self._day(a.start_date), self._day(a.end_date)
            if day.idx == start:
                uplift, revive_share = TRUE_EFFECTS.get(a.audience, DEFAULT_EFFECT)
                cost = round(len(t) * MESSAGE_COST.get(a.channel, 0.0), 2)
                campaign_rows.add(
                    campaign_id=np.array([a.campaign_id], object),
                    campaign_name=np.array([a.label], object),
                    channel=np.array([a.channel], object),
                    start_date=np.array([a.start_date.isoformat()], "datetime64[D]"),
                    end_date=np.array([a.end_date.isoformat()], "datetime64[D]"),
                    target_segment=np.array([a.audience], object),
                    budget=np.array([cost]),
                    cost=np.array([cost]),
                    coupon_value=np.array([0.0]),
                    min_spend=np.array([0.0]),
                    control_share=np.array([a.holdout_share]),
                    treatment_arms=np.array([1]),  # an export is a two-arm test: one treatment, one holdout
                )
                both = np.concatenate([t, c])
                arms = np.array(["treatment"] * len(t) + ["control"] * len(c), dtype=object)
                assignment_rows.add(
                    campaign_id=np.full(len(both), a.campaign_id, object),
                    member_id=self.members.member_id[both],
                    arm=arms,
                    assigned_at=day.at(np.full(len(both), 8 * 3600)),
                )
                latent.activation_uplift[t] += uplift
                if revive_share:
                    revive(self.rng, latent, self.members, t, revive_share)
            if day.idx == end + 1:
                uplift, _ = TRUE_EFFECTS.get(a.audience, DEFAULT_EFFECT)
                latent.activation_uplift[t] = np.maximum(latent.activation_uplift[t] - uplift, 0.0)
