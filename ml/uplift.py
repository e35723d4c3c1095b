"""Uplift model: who buys *because of* a campaign, not who would buy anyway (issue 22).

Every past campaign is a randomized experiment (treatment vs control arm), so the
members' campaign outcomes say how the response differs with and without the message.
A T-learner (one response model per arm) and an X-learner (Künzel et al. 2019: imputed
individual effects, one effect model per arm) estimate each member's incremental
response from point-in-time features (`ml_features.ml_member_features` at the latest
cutoff before the campaign started, recency and 30/90-day frequency recomputed as of the
day before the start). Only the mall's own campaigns train and gate; the warehouse's
audience exports are reported apart. The base learner (logistic regression or gradient
boosting) and the meta-learner are chosen by forward-chaining validation inside the
training campaigns; the test campaigns (the latest start dates holding a third of the
assignments) only give the Qini figures and the promotion gate: the model's stratified
holdout Qini (per campaign, summed) must beat the 95th percentile of random targeting
within campaigns AND the churn heuristic (recency first).

Pure functions first (Qini, learners, split), then warehouse in/out (train, score).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect
from ml import churn, sampling
from ml.pipeline import (
    FEATURES_TABLE,
    TrainResult,
    _now,
    _sample_rows,
    _score_cutoff,
    load_feature_snapshots,
    load_features,
    with_sample_note,
    write_scores,
)
from ml.registry import Registry

UPLIFT = "uplift"
ASSIGNMENTS_TABLE = "marts.fct_campaign_assignments"
IDENTITY_TABLE = "intermediate.int_member__identity_map"
TRANSACTIONS_TABLE = "marts.fct_transactions"
QINI_TABLE = "uplift_qini"
FEATURES = churn.FEATURES
LEARNERS = ("t_logistic", "t_gbm", "x_logistic", "x_gbm")
DEFAULT_LEARNER = "t_logistic"  # when the training campaigns are too few to validate a choice
RANDOM_PERMUTATIONS = 200
CURVE_POINTS = 50  # Qini curve points stored per ranking (plus the origin)
TOP_SHARES = (0.1, 0.2, 0.3)
GATE_RULE = "stratified holdout Qini of the mall's test campaigns > random targeting's p95 and > the churn heuristic's"
HEURISTIC = "churn heuristic: recency first (largest recency_days; never bought = 365 days, as churn's baseline)"


# --------------------------------------------------------------------------- Qini


def _order(score) -> np.ndarray:
    """Rank positions, highest score first; ties keep row order (stable), so a ranking is
    reproducible."""
    return np.argsort(-np.asarray(score, dtype=float), kind="stable")


def _strata(treated, group) -> list[np.ndarray]:
    """Row indices of each campaign holding both arms (all rows as one campaign when
    `group` is None). A campaign with one arm has no incremental conversions to count."""
    t = np.asarray(treated, dtype=bool)
    codes = np.zeros(len(t), dtype=int) if group is None else pd.factorize(np.asarray(group))[0]
    out = []
    for code in np.unique(codes):
        idx = np.flatnonzero(codes == code)
        if t[idx].any() and not t[idx].all():
            out.append(idx)
    return out


def qini_curve(treated, converted, score) -> tuple[np.ndarray, np.ndarray]:
    """(share targeted, incremental conversions) of ONE campaign after each member, best score first.

    Q(k) = treated conversions in the top k - control conversions in the top k x
    treated / control members in the top k (Radcliffe 2007): conversions the campaign
    added had the top k been targeted, the control arm scaled to the treated arm's size."""
    t = np.asarray(treated, dtype=float)
    y = np.asarray(converted, dtype=float)
    order = _order(score)
    t, y = t[order], y[order]
    nt, nc = np.cumsum(t), np.cumsum(1 - t)
    yt, yc = np.cumsum(y * t), np.cumsum(y * (1 - t))
    with np.errstate(divide="ignore", invalid="ignore"):
        q = yt - np.where(nc > 0, yc * nt / nc, 0.0)
    share = np.arange(1, len(t) + 1) / max(len(t), 1)
    return np.concatenate([[0.0], share]), np.concatenate([[0.0], q])


def _area(x: np.ndarray, q: np.ndarray) -> float:
    return float(np.sum((q[1:] + q[:-1]) * np.diff(x)) / 2) - float(q[-1]) / 2


def qini_coefficient(treated, converted, score, group=None) -> float:
    """Area between the Qini curve and the random-targeting line (0 to Q(1)), in
    incremental conversions: 0 for a ranking no better than random, negative when worse.

    With `group` (the campaign of each row) it is stratified: the sum of each campaign's
    own coefficient, members ranked within their campaign. Campaigns differ in control
    share (15-25 %) and base rate, so one pooled curve would credit a ranking for sorting
    high-converting or low-control campaigns first, not for finding persuadable members."""
    t, y, s = (np.asarray(v, dtype=float) for v in (treated, converted, score))
    strata = _strata(t, group)
    if not strata:
        return float("nan")
    return float(sum(_area(*qini_curve(t[i], y[i], s[i])) for i in strata))


def uplift_at(treated, converted, score, share: float, group=None) -> float:
    """Treated minus control conversion rate among the top `share` of scores; with `group`,
    the top `share` of each campaign and the campaigns' differences weighted by their
    members there (NaN when no campaign has both arms there)."""
    t = np.asarray(treated, dtype=bool)
    y = np.asarray(converted, dtype=float)
    s = np.asarray(score, dtype=float)
    total, weight = 0.0, 0
    for idx in _strata(t, group) or [np.arange(len(t))]:
        top = idx[_order(s[idx])[: max(1, int(np.ceil(len(idx) * share)))]]
        tt, yt = t[top], y[top]
        if tt.any() and not tt.all():
            total += len(top) * float(yt[tt].mean() - yt[~tt].mean())
            weight += len(top)
    return total / weight if weight else float("nan")


def random_qini(
    treated, converted, group=None, permutations: int = RANDOM_PERMUTATIONS, seed: int = sampling.SEED
) -> dict:
    """Qini coefficients of `permutations` seeded random rankings (within each campaign
    when `group` is given): mean, 95th percentile."""
    rng = np.random.default_rng(seed)
    n = len(np.asarray(treated))
    values = np.array([qini_coefficient(treated, converted, rng.random(n), group) for _ in range(permutations)])
    return {
        "qini": float(values.mean()),
        "qini_p95": float(np.percentile(values, 95)),
        "permutations": int(permutations),
        "seed": int(seed),
    }


def evaluate(treated, converted, score, group=None) -> dict:
    """Qini coefficient and uplift at the top 10/20/30 % of one ranking (per campaign with `group`)."""
    out = {"n": int(len(np.asarray(treated))), "qini": qini_coefficient(treated, converted, score, group)}
    for share in TOP_SHARES:
        out[f"uplift_top_{int(share * 100)}"] = uplift_at(treated, converted, score, share, group)
    return out


def curve_points(treated, converted, score, group=None, points: int = CURVE_POINTS) -> pd.DataFrame:
    """The Qini curve at `points` evenly spaced shares (and 0): targeted_share, incremental_conversions;
    with `group`, the sum of the campaigns' curves, each at that share of its own members."""
    t, y, s = (np.asarray(v, dtype=float) for v in (treated, converted, score))
    at = np.linspace(0.0, 1.0, points + 1)
    q = np.zeros_like(at)
    for idx in _strata(t, group):
        q += np.interp(at, *qini_curve(t[idx], y[idx], s[idx]))
    return pd.DataFrame({"targeted_share": at, "incremental_conversions": q})


# --------------------------------------------------------------------------- learners


def _log_features(x: np.ndarray) -> np.ndarray:
    """Signed log1p: counts and amounts are heavy-tailed; a linear model needs them tamed."""
    return np.sign(x) * np.log1p(np.abs(x))


def _gbm_imputer() -> SimpleImputer:
    """Gradient boosting handles NULLs itself, but not a feature NULL for every member (a
    young mall with no complaint yet): impute, and keep "was missing" as indicator columns."""
    return SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)


def _classifier(base: str, random_state: int = 0):
    if base == "logistic":
        return make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            FunctionTransformer(_log_features),
            StandardScaler(),
            LogisticRegression(C=0.1, max_iter=2000),
        )
    return make_pipeline(_gbm_imputer(), HistGradientBoostingClassifier(
        max_iter=150, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=50, l2_regularization=1.0,
        random_state=random_state,
    ))  # fmt: skip


def _regressor(base: str, random_state: int = 0):
    if base == "logistic":
        return make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            FunctionTransformer(_log_features),
            StandardScaler(),
            Ridge(alpha=10.0),
        )
    return make_pipeline(_gbm_imputer(), HistGradientBoostingRegressor(
        max_iter=150, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=50, l2_regularization=1.0,
        random_state=random_state,
    ))  # fmt: skip


def _proba(model, x: np.ndarray) -> np.ndarray:
    if isinstance(model, float):  # one class only in that arm: its rate
        return np.full(len(x), model)
    return model.predict_proba(x)[:, 1]


def _fit_response(base: str, x: np.ndarray, y: np.ndarray):
    """A response model for one arm; an arm whose outcomes are all equal is its rate."""
    if len(np.unique(y)) < 2:
        return float(y.mean()) if len(y) else 0.0
    return clone(_classifier(base)).fit(x, y)


@dataclass
class UpliftModel:
    """A fitted T- or X-learner over `features`: predict() returns the incremental
    response (treated - control probability) and both arms' response probabilities."""

    learner: str  # one of LEARNERS
    features: list[str]
    treated_model: object
    control_model: object
    effect_treated: object = None  # X-learner stage 2
    effect_control: object = None
    treated_share: float = 0.5

    def predict(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = churn.matrix(frame, self.features)
        p1, p0 = _proba(self.treated_model, x), _proba(self.control_model, x)
        if self.learner.startswith("x_"):
            # Künzel's weighting g(x) tau0 + (1 - g(x)) tau1 with the propensity g constant:
            # the arms were randomized.
            g = self.treated_share
            tau = g * self.effect_control.predict(x) + (1 - g) * self.effect_treated.predict(x)
        else:
            tau = p1 - p0
        # A difference of two probabilities; the X-learner's regressors may overshoot it.
        return np.clip(np.asarray(tau, dtype=float), -1.0, 1.0), p1, p0


def fit_learner(learner: str, frame: pd.DataFrame, features=FEATURES) -> UpliftModel:
    """Fit `learner` ("t_logistic", "t_gbm", "x_logistic", "x_gbm") on rows with
    `treated` (0/1) and `converted` (0/1)."""
    if learner not in LEARNERS:
        raise ValueError(f"unknown uplift learner {learner!r}; the learners are: {', '.join(LEARNERS)}")
    meta, base = learner.split("_", 1)
    t = frame["treated"].to_numpy().astype(bool)
    y = frame["converted"].to_numpy().astype(int)
    if t.all() or not t.any():
        raise ValueError("uplift training rows hold one arm only: need treated and control members")
    x = churn.matrix(frame, features)
    m1, m0 = _fit_response(base, x[t], y[t]), _fit_response(base, x[~t], y[~t])
    model = UpliftModel(learner, list(features), m1, m0, treated_share=float(t.mean()))
    if meta == "x":
        d1 = y[t] - _proba(m0, x[t])  # treated: observed - predicted without treatment
        d0 = _proba(m1, x[~t]) - y[~t]  # control: predicted with treatment - observed
        model.effect_treated = clone(_regressor(base)).fit(x[t], d1)
        model.effect_control = clone(_regressor(base)).fit(x[~t], d0)
    return model


def heuristic_score(frame: pd.DataFrame) -> np.ndarray:
    """The churn heuristic's ranking: longest since the last purchase first, with churn's
    recency baseline transform (never bought = 365 days)."""
    return churn.RecencyBaseline._x(frame).ravel()


# --------------------------------------------------------------------------- split


@dataclass(frozen=True)
class CampaignSplit:
    """Campaigns starting on or after `split_date` are the test (holdout) campaigns;
    training uses only campaigns whose window ENDED before it, so no test-period outcome
    is ever a training label."""

    split_date: pd.Timestamp
    train_campaigns: list[str]
    test_campaigns: list[str]
    dropped_campaigns: list[str]  # started before the split, window ends on or after it

    def as_dict(self) -> dict:
        return {
            "split_date": str(self.split_date.date()),
            "train_campaigns": len(self.train_campaigns),
            "test_campaigns": len(self.test_campaigns),
            "dropped_straddling_campaigns": len(self.dropped_campaigns),
        }


def campaign_split(frame: pd.DataFrame, test_share: float = 1 / 3) -> CampaignSplit:
    """Split by campaign start date: the latest campaigns holding at least `test_share`
    of the assignments are the test campaigns (by assignments, not campaigns: a burst of
    small audience exports must not make the whole test set); the split date is the
    first of their start dates, so it follows the data's own window."""
    campaigns = (
        frame.groupby("campaign_id", sort=False)
        .agg(start_date=("start_date", "min"), end_date=("end_date", "max"), rows=("start_date", "size"))
        .reset_index()
        .sort_values(["start_date", "campaign_id"], kind="stable")
    )
    # assignments of the campaigns starting on or after each start date
    later = campaigns.groupby("start_date")["rows"].sum().sort_index()[::-1].cumsum()[::-1]
    if len(later) < 2:
        raise ValueError(f"{ASSIGNMENTS_TABLE} has finished campaigns on {len(later)} start date(s): need 2")
    # the latest start date with enough assignments from it on, never the first (training needs one)
    split_date = pd.Timestamp(max(later.index[1], later[later >= test_share * len(frame)].index.max()))
    starts, ends = pd.to_datetime(campaigns["start_date"]), pd.to_datetime(campaigns["end_date"])
    ids = campaigns["campaign_id"].astype(str)
    train = ids[ends < split_date].tolist()
    test = ids[starts >= split_date].tolist()
    dropped = ids[(starts < split_date) & (ends >= split_date)].tolist()
    if not train:
        raise ValueError(f"no campaign ended before the uplift split date {split_date.date()}: nothing to train on")
    return CampaignSplit(split_date, train, test, dropped)


def _rows(frame: pd.DataFrame, campaigns) -> pd.DataFrame:
    return frame[frame["campaign_id"].astype(str).isin(set(campaigns))].reset_index(drop=True)


MIN_FIT_CAMPAIGNS = 2  # a validation fold needs this many campaigns ended before it to fit on


def choose_learner(train: pd.DataFrame) -> tuple[str, dict]:
    """Pick the learner by forward-chaining validation inside the training campaigns: every
    start date with at least MIN_FIT_CAMPAIGNS campaigns ended before it is a fold, its
    campaigns the validation set, those ended before it the fit set. A learner's score is
    the sum of its folds' stratified Qini (a sum of per-campaign areas, like the test's),
    so the choice rests on every training campaign that can be validated, not on the last
    one or two. The test campaigns are never seen here. No fold: DEFAULT_LEARNER, and
    the metrics say so."""
    campaigns = train.groupby("campaign_id").agg(start=("start_date", "min"), end=("end_date", "max"))
    starts, ends = pd.to_datetime(campaigns["start"]), pd.to_datetime(campaigns["end"])
    folds = [d for d in sorted(starts.unique()) if (ends < d).sum() >= MIN_FIT_CAMPAIGNS]
    scores = dict.fromkeys(LEARNERS, 0.0)
    for day in folds:
        fit_rows = _rows(train, campaigns.index[ends < day])
        valid = _rows(train, campaigns.index[starts == day])
        for learner in LEARNERS:
            try:
                tau = fit_learner(learner, fit_rows).predict(valid)[0]
                scores[learner] += qini_coefficient(valid["treated"], valid["converted"], tau, valid["campaign_id"])
            except ValueError:  # an arm missing in the fit campaigns
                scores[learner] = float("nan")
    finite = {k: v for k, v in scores.items() if np.isfinite(v)}
    if not folds or not finite:
        why = "no training campaign has" if not folds else "no learner validated on the campaigns with"
        note = f"not validated ({why} {MIN_FIT_CAMPAIGNS} campaigns ended before it): default {DEFAULT_LEARNER}"
        return DEFAULT_LEARNER, {"note": note, "qini": scores if folds else {}}
    best = max(finite, key=lambda k: (finite[k], -LEARNERS.index(k)))
    valid_rows = int(_rows(train, campaigns.index[starts.isin(folds)]).shape[0])
    return best, {"folds": len(folds), "rows": valid_rows, "qini": scores}


def beats_baselines(model: dict, random: dict, heuristic: dict) -> tuple[bool, str]:
    """The promotion gate: the holdout Qini above random targeting's 95th percentile AND
    above the churn heuristic's."""
    q, r95, h = model.get("qini"), random.get("qini_p95"), heuristic.get("qini")
    if any(v is None or not np.isfinite(v) for v in (q, r95, h)):
        return False, "holdout Qini is undefined (an arm is missing in the test campaigns?)"
    ok = q > r95 and q > h
    return ok, f"holdout Qini {q:.1f} vs random p95 {r95:.1f} and churn heuristic {h:.1f}"


# --------------------------------------------------------------------------- warehouse


# The short-window features recomputed as of the campaign start (see load_campaign_rows).
AS_OF_START = ("recency_days", "recency_over_mean_gap", "orders_30d", "net_spend_30d", "orders_90d", "net_spend_90d")
RUNS_TABLE = "activation.runs"  # the warehouse's own audience exports (activation/): campaign_id per run
MALL, EXPORT = "mall_campaign", "audience_export"


def load_campaign_rows(settings: Settings, features=FEATURES) -> pd.DataFrame:
    """One row per finished campaign assignment with its outcome, its kind (MALL: the
    mall's own randomized campaign; EXPORT: one of the warehouse's audience exports, a
    campaign_id of activation.runs) and the member's features at the latest snapshot
    before the campaign started (a cutoff is the end of its day, so cutoff < start date),
    read in one SQL query. Snapshots are up to 60 days old, and a member who stopped
    buying since gets no uplift in the simulator, so the recency and 30/90-day frequency
    features (AS_OF_START) are recomputed from fct_transactions as of the day before the
    start, with ml_member_features' definitions (non-refund receipts; net spend incl.
    refunds; age in days < window). Members resolve to their golden id (the features'
    key); an assignment with no snapshot before its campaign, or whose member has no row
    in it (registered after it), is left out."""
    as_of = {c: f"s.{c}" for c in AS_OF_START}
    as_of["recency_over_mean_gap"] = "s.recency_days / nullif(f.mean_interpurchase_days, 0)"
    cols = ", ".join(f"cast({as_of[c]} as double) as {c}" if c in as_of else f"f.{c}" for c in features)
    con = connect(settings)
    try:
        schema, table = RUNS_TABLE.split(".")
        has_runs = con.sql(
            f"select count(*) from information_schema.tables where table_schema = '{schema}' and table_name = '{table}'"
        ).fetchall()[0][0]
        runs = f"select distinct campaign_id from {RUNS_TABLE}" if has_runs else "select null as campaign_id"
        query = f"""
            with snapshots as (
                select distinct cutoff_date from {FEATURES_TABLE}
            ),
            data_end as (
                select max(cutoff_date) as last_day from snapshots
            ),
            exports as ({runs}),
            assignments as (
                select
                    a.campaign_id,
                    coalesce(ids.golden_member_id, a.member_id) as member_id,
                    a.start_date,
                    a.end_date,
                    case when a.arm <> 'control' then 1 else 0 end as treated,
                    case when a.is_converted then 1 else 0 end as converted,
                    case when a.campaign_id in (select campaign_id from exports) then '{EXPORT}'
                        else '{MALL}' end as campaign_kind
                from {ASSIGNMENTS_TABLE} as a
                left join {IDENTITY_TABLE} as ids
                    on ids.identifier_type = 'member_id' and ids.identifier_value = a.member_id
                cross join data_end
                where a.end_date <= data_end.last_day
            ),
            matched as (
                select assignments.*, max(snapshots.cutoff_date) as cutoff_date
                from assignments
                inner join snapshots on snapshots.cutoff_date < assignments.start_date
                group by all
            ),
            tx as (
                select m.campaign_id, m.member_id, m.start_date - 1 as as_of, t.is_refund, t.net_revenue_amount,
                    t.business_date, date_diff('day', t.business_date, m.start_date - 1) as age_days
                from matched as m
                inner join {TRANSACTIONS_TABLE} as t
                    on t.member_id = m.member_id and t.business_date < m.start_date
            ),
            start_state as (
                select
                    campaign_id,
                    member_id,
                    date_diff('day', max(case when not is_refund then business_date end), min(as_of)) as recency_days,
                    sum(case when not is_refund and age_days < 30 then 1 else 0 end) as orders_30d,
                    sum(case when age_days < 30 then net_revenue_amount else 0 end) as net_spend_30d,
                    sum(case when not is_refund and age_days < 90 then 1 else 0 end) as orders_90d,
                    sum(case when age_days < 90 then net_revenue_amount else 0 end) as net_spend_90d
                from tx
                group by campaign_id, member_id
            )
            select m.campaign_id, m.campaign_kind, m.member_id, m.start_date, m.end_date, m.treated, m.converted,
                m.cutoff_date, {cols}
            from matched as m
            inner join {FEATURES_TABLE} as f on f.member_id = m.member_id and f.cutoff_date = m.cutoff_date
            left join start_state as s on s.campaign_id = m.campaign_id and s.member_id = m.member_id
            order by m.start_date, m.campaign_id, m.member_id
        """
        frame = con.sql(query).df()
    finally:
        con.close()
    # no receipt before the start: no purchase in the windows (recency stays NULL, as in the features)
    for c in ("orders_30d", "net_spend_30d", "orders_90d", "net_spend_90d"):
        if c in frame:
            frame[c] = frame[c].fillna(0.0)
    return frame


def _learner_title(learner: str) -> str:
    meta, base = learner.split("_", 1)
    return f"{meta.upper()}-learner ({'logistic regression' if base == 'logistic' else 'gradient boosting'})"


def _qini_frame(test: pd.DataFrame, rankings: dict[str, tuple[str, np.ndarray]], metrics: dict) -> pd.DataFrame:
    """Curve points of each ranking on the test campaigns, for the dashboard's Qini chart."""
    frames = []
    for ranking, (label, score) in rankings.items():
        pts = curve_points(test["treated"], test["converted"], score, test["campaign_id"])
        pts.insert(0, "ranking_label", label)
        pts.insert(0, "ranking", ranking)
        frames.append(pts)
    out = pd.concat(frames, ignore_index=True)
    out["qini_coefficient"] = out["ranking"].map(
        {"uplift_model": metrics["test"]["qini"], "churn_heuristic": metrics["churn_heuristic"]["qini"], "random": 0.0}
    )
    out["random_qini_p95"] = metrics["random"]["qini_p95"]
    out["holdout_members"] = int(len(test))
    out["holdout_campaigns"] = int(metrics["split"]["test_campaigns"])
    out["split_date"] = pd.Timestamp(metrics["split"]["split_date"]).date()
    return out


def _export_lines(e: dict | None) -> list[str]:
    """The card's paragraph on the audience exports of the test period (reported, not gated)."""
    if not e:
        return []
    learners = ", ".join(f"{k} {v['qini']:.1f}" for k, v in e["learners"].items())
    return [
        "",
        f"Audience exports of the test period ({e['campaigns']} campaigns, {e['learners'][LEARNERS[0]]['n']} "
        f"assignments; not gated): Qini {learners}; churn heuristic {e['churn_heuristic']['qini']:.1f}; "
        f"random mean / p95 {e['random']['qini']:.1f} / {e['random']['qini_p95']:.1f}.",
    ]


def _card(m: dict) -> str:
    chosen = {k: " (chosen)" if k == m["learner"] else "" for k in LEARNERS}
    rows = [
        f"| {_learner_title(k)}{chosen[k]} | {m['validation']['qini'].get(k, float('nan')):.1f} "
        f"| {m['learners_test'][k]['qini']:.1f} |"
        for k in LEARNERS
    ]
    tops = " / ".join(f"{m['test'][f'uplift_top_{int(s * 100)}']:.4f}" for s in TOP_SHARES)
    htops = " / ".join(f"{m['churn_heuristic'][f'uplift_top_{int(s * 100)}']:.4f}" for s in TOP_SHARES)
    s = m["split"]
    return "\n".join(
        [
            f"# Uplift model {m['learner']}",
            "",
            "Incremental conversion (treated - control probability of buying in a campaign window) per member.",
            f"Time split at {s['split_date']}: {s['train_campaigns']} training campaigns (ended before it), "
            f"{s['test_campaigns']} test campaigns (started on or after it), "
            f"{s['dropped_straddling_campaigns']} straddling ones left out. "
            f"{m['train_rows']} training and {m['test']['n']} test assignments.",
            "",
            "| learner | validation Qini | test Qini |",
            "|---|---|---|",
            *rows,
            f"| churn heuristic (recency first) | — | {m['churn_heuristic']['qini']:.1f} |",
            f"| random targeting (mean / p95 of {m['random']['permutations']}) | — | "
            f"{m['random']['qini']:.1f} / {m['random']['qini_p95']:.1f} |",
            "",
            f"Uplift at top 10/20/30 %: model {tops}; churn heuristic {htops}; all members {m['test_ate']:.4f}.",
            *([f"Learner choice: {m['validation']['note']}."] if "note" in m["validation"] else []),
            "Qini coefficients are stratified: each campaign's members ranked within it, its own treated/control "
            "ratio, the campaigns' areas summed (incremental conversions); random targeting shuffles within "
            f"campaigns. Recency and 30/90-day frequency are as of each campaign's start ({', '.join(AS_OF_START)}).",
            *_export_lines(m.get("audience_exports")),
            "",
            f"Gate ({m['gate']['rule']}): {'passed' if m['gate']['passed'] else 'failed'}: {m['gate']['detail']}.",
            "",
        ]
    )


def _holdout(model_scores: dict[str, np.ndarray], test: pd.DataFrame) -> dict:
    """Every learner, the churn heuristic and random targeting on `test`, each campaign its
    own stratum (stratified Qini, uplift at top shares within each campaign)."""
    t, y, g = test["treated"].to_numpy(), test["converted"].to_numpy(), test["campaign_id"].astype(str).to_numpy()
    return {
        "campaigns": int(test["campaign_id"].nunique()),
        "learners": {name: evaluate(t, y, score, g) for name, score in model_scores.items()},
        "churn_heuristic": {"name": HEURISTIC, **evaluate(t, y, heuristic_score(test), g)},
        "random": random_qini(t, y, g),
        # per-campaign treated - control conversion rate, weighted by campaign size
        "ate": uplift_at(t, y, np.zeros(len(t)), 1.0, g),
    }


def train_uplift(
    settings: Settings, registry: Registry | None = None, promote: bool = True, test_share: float = 1 / 3
) -> TrainResult:
    """Choose the learner on a validation split of the mall's training campaigns, report
    every learner and the baselines on its test campaigns (and, apart, on the warehouse's
    audience exports of the test period), gate on the mall's test campaigns, then refit
    the chosen learner on every finished mall campaign for scoring.

    Only the mall's own campaigns (MALL) train and gate: they are randomized over the
    whole target segment with the mall's coupon, the treatment the scores are for. An
    audience export is a narrow audience picked by this warehouse's own models, with its
    own message and effect, so it is reported separately rather than mixed into the test."""
    registry = registry or Registry(settings.models_dir)
    rows = load_campaign_rows(settings)
    mall = rows[rows["campaign_kind"] == MALL].reset_index(drop=True)
    try:
        if mall.empty:
            raise ValueError(f"{ASSIGNMENTS_TABLE} has no finished mall campaign with a feature snapshot before it")
        split = campaign_split(mall, test_share)
        train_all, test = _rows(mall, split.train_campaigns), _rows(mall, split.test_campaigns)
        train, sample = _sample_rows(train_all, "campaign assignments")
        learner, validation = choose_learner(train)
        fitted = {name: fit_learner(name, train) for name in LEARNERS}
    except ValueError as error:
        # A young or small mall: too few campaigns to train and test on. A version that
        # failed its gate, like any other model's, so the demo and the pipeline go on.
        return _not_evaluated(registry, rows, str(error))
    scores = {name: model.predict(test)[0] for name, model in fitted.items()}
    holdout = _holdout(scores, test)
    exports = rows[(rows["campaign_kind"] == EXPORT) & (pd.to_datetime(rows["start_date"]) >= split.split_date)]
    exports = exports.reset_index(drop=True)
    export_holdout = (
        _holdout({name: model.predict(exports)[0] for name, model in fitted.items()}, exports)
        if exports["treated"].nunique() == 2
        else None
    )
    learners_test, heuristic, random = holdout["learners"], holdout["churn_heuristic"], holdout["random"]
    ok, reason = beats_baselines(learners_test[learner], random, heuristic)

    final_rows, final_sample = _sample_rows(mall, "campaign assignments")
    final = fit_learner(learner, final_rows)
    metrics = {
        "model": UPLIFT,
        "learner": learner,
        "algorithm": _learner_title(learner),
        "split": split.as_dict(),
        "train_rows": int(len(train)),
        "sample": sample,
        "final_sample": final_sample,
        "validation": validation,
        "test": learners_test[learner],
        "learners_test": learners_test,
        "test_ate": holdout["ate"],
        "churn_heuristic": heuristic,
        "random": random,
        "audience_exports": export_holdout,
        "gate": {
            "passed": bool(ok),
            "rule": GATE_RULE,
            "detail": reason,
        },
        "features": list(FEATURES),
        "features_as_of_campaign_start": list(AS_OF_START),
    }
    curve = _qini_frame(
        test,
        {
            "uplift_model": (_learner_title(learner), scores[learner]),
            "churn_heuristic": ("churn heuristic (recency first)", heuristic_score(test)),
        },
        metrics,
    )
    line = curve[curve["ranking"] == "uplift_model"].copy()
    line["ranking"], line["ranking_label"], line["qini_coefficient"] = "random", "random targeting", 0.0
    line["incremental_conversions"] = line["targeted_share"] * float(curve["incremental_conversions"].iloc[-1])
    curve = pd.concat([curve, line], ignore_index=True)
    version = registry.register(
        UPLIFT,
        artifact=final,
        metrics=metrics,
        card=_card(metrics),
        extra_files={"qini_curve.csv": curve.to_csv(index=False)},
    )
    if promote and ok:
        registry.promote(UPLIFT, version.version)
    return TrainResult(UPLIFT, version, metrics, bool(promote and ok), with_sample_note(reason, metrics))


def _not_evaluated(registry: Registry, rows: pd.DataFrame, reason: str) -> TrainResult:
    """Register a version without a model whose gate failed: the campaigns could not be
    split into training and test (`reason`)."""
    nan = float("nan")
    metrics = {
        "model": UPLIFT,
        "learner": None,
        "algorithm": None,
        "campaign_assignments": int(len(rows)),
        "campaigns": int(rows["campaign_id"].nunique()) if len(rows) else 0,
        "test": {"qini": nan},
        "learners_test": {},
        "churn_heuristic": {"name": HEURISTIC, "qini": nan},
        "random": {"qini": nan, "qini_p95": nan},
        "gate": {
            "passed": False,
            "evaluated": False,  # too little data to test the model: `mallcrm ml train` does not fail on it
            "rule": GATE_RULE,
            "detail": f"not evaluated: {reason}",
        },
        "features": list(FEATURES),
    }
    card = f"# Uplift model\n\nNot trained: {reason}.\n"
    version = registry.register(UPLIFT, metrics=metrics, card=card)
    return TrainResult(UPLIFT, version, metrics, False, metrics["gate"]["detail"])


def score_uplift(settings: Settings, registry: Registry | None = None) -> pd.DataFrame:
    """Score every member of the latest snapshot with the promoted version; also writes
    its holdout Qini curve to ml_scores.uplift_qini (the campaigns dashboard's chart)."""
    registry = registry or Registry(settings.models_dir)
    current = registry.current(UPLIFT)
    if current is None:
        raise LookupError("no promoted uplift model: run `mallcrm ml train` first")
    model: UpliftModel = current.load_artifact()
    cutoff = _score_cutoff(load_feature_snapshots(settings))
    rows = load_features(settings, [cutoff])
    tau, p1, p0 = model.predict(rows) if len(rows) else (np.array([]),) * 3
    scores = pd.DataFrame(
        {
            "member_id": rows["member_id"].astype(str).to_numpy(),
            "uplift_score": np.asarray(tau, dtype=float),
            "treated_response_probability": np.asarray(p1, dtype=float),
            "control_response_probability": np.asarray(p0, dtype=float),
        }
    )
    scores["uplift_decile"] = (
        (scores["uplift_score"].rank(method="first", ascending=False) - 1) * 10 // max(len(scores), 1) + 1
    ).astype("int64")
    scores["learner"] = model.learner
    scores["cutoff_date"] = cutoff.date()
    scores["model_version"] = current.version
    scores["scored_at"] = _now()
    curve = pd.read_csv(current.path / "qini_curve.csv", parse_dates=["split_date"])
    curve["split_date"] = curve["split_date"].dt.date
    curve["model_version"] = current.version
    curve["scored_at"] = scores["scored_at"].iloc[0] if len(scores) else _now()
    write_scores(settings, QINI_TABLE, curve)
    return scores
