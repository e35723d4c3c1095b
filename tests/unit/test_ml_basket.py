"""ml/basket.py: sparse one-hot baskets, FP-Growth rule shape and metrics, the gate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml import basket


def _pairs(baskets: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(f"B{i}", item) for i, items in enumerate(baskets) for item in items], columns=["basket_id", "item"]
    )


def test_basket_matrix_is_sparse_boolean_and_keeps_single_item_baskets():
    onehot = basket.basket_matrix(_pairs([["a", "b"], ["a", "a", "c"], ["d"]]))
    assert list(onehot.columns) == ["a", "b", "c", "d"] and list(onehot.index) == ["B0", "B1", "B2"]
    assert all(isinstance(t, pd.SparseDtype) for t in onehot.dtypes)
    assert onehot.sparse.to_dense().astype(int).to_numpy().tolist() == [[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 1]]
    multi = basket.basket_matrix(_pairs([["a", "b"], ["a", "a", "c"], ["d"]]), min_items=2)
    assert list(multi.index) == ["B0", "B1"] and list(multi.columns) == ["a", "b", "c"]


def test_support_confidence_and_lift_count_single_item_baskets_in_the_denominator():
    # 250 baskets: 100 of two items, 150 of one item (no rule, but they count in N).
    # bread in 30 + 20 + 100 = 150 baskets, butter in 30, milk in 70, jam in 50 + 50 = 100.
    baskets = (
        [["bread", "butter"]] * 30
        + [["bread", "milk"]] * 20
        + [["milk", "jam"]] * 50
        + [["bread"]] * 100
        + [["jam"]] * 50
    )
    rules, stats = basket.mine_rules(basket.basket_matrix(_pairs(baskets)), min_baskets=10)
    assert stats["baskets"] == 250 and stats["multi_item_baskets"] == 100
    assert stats["min_support"] == pytest.approx(10 / 250)

    def rule(a, c):
        return rules[(rules["antecedents"] == a) & (rules["consequents"] == c)].iloc[0]

    r = rule("butter", "bread")
    assert r["support"] == pytest.approx(30 / 250) and r["baskets"] == 30
    assert r["antecedent_support"] == pytest.approx(30 / 250)
    assert r["consequent_support"] == pytest.approx(150 / 250)
    assert r["confidence"] == pytest.approx(1.0)
    assert r["lift"] == pytest.approx(250 / 150)  # old denominator (multi-item only): 100 / 50 = 2
    r = rule("bread", "butter")
    assert r["confidence"] == pytest.approx(30 / 150)  # old: 30 / 50
    assert r["lift"] == pytest.approx(250 / 150)
    r = rule("jam", "milk")
    assert r["support"] == pytest.approx(50 / 250)  # old: 0.5
    assert r["confidence"] == pytest.approx(50 / 100)  # old: 1.0
    assert r["lift"] == pytest.approx((50 / 250) / ((100 / 250) * (70 / 250)))  # 1.786; old: 1.429
    # the same baskets without the one-item ones give the old, overstated numbers
    multi, multi_stats = basket.mine_rules(basket.basket_matrix(_pairs(baskets), min_items=2), min_baskets=10)
    assert multi_stats["baskets"] == 100
    m = multi[(multi["antecedents"] == "jam") & (multi["consequents"] == "milk")].iloc[0]
    assert m["support"] == pytest.approx(0.5) and m["confidence"] == pytest.approx(1.0)


def test_fp_tree_matches_mlxtend_with_many_single_item_baskets():
    from mlxtend.frequent_patterns import fpgrowth

    rng = np.random.default_rng(5)
    items = [f"i{j:02d}" for j in range(12)]
    rows = [[str(rng.choice(items))] for _ in range(400)]
    rows += [sorted(set(rng.choice(items, int(rng.integers(2, 4)), replace=False))) for _ in range(300)]
    order = rng.permutation(len(rows))
    onehot = basket.basket_matrix(_pairs([rows[i] for i in order]))
    assert len(onehot) == 700
    for support in (0.01, 0.05, 0.2):
        ours = basket.fpgrowth_sparse(onehot, support, 3)
        theirs = fpgrowth(onehot, min_support=support, use_colnames=True, max_len=3)
        pd.testing.assert_frame_equal(ours.reset_index(drop=True), theirs.reset_index(drop=True))


def test_rules_have_the_textbook_support_confidence_and_lift():
    # 100 baskets: bread+butter 30, bread alone-ish (bread+milk) 20, milk+jam 50
    baskets = [["bread", "butter"]] * 30 + [["bread", "milk"]] * 20 + [["milk", "jam"]] * 50
    rules, stats = basket.mine_rules(basket.basket_matrix(_pairs(baskets)), min_baskets=10)
    assert stats["baskets"] == 100 and stats["items"] == 4
    assert list(rules.columns) == [
        "antecedents",
        "consequents",
        "support",
        "confidence",
        "lift",
        "antecedent_support",
        "consequent_support",
        "baskets",
    ]
    r = rules[(rules["antecedents"] == "butter") & (rules["consequents"] == "bread")].iloc[0]
    assert r["support"] == pytest.approx(0.30) and r["confidence"] == pytest.approx(1.0)
    assert r["lift"] == pytest.approx(1.0 / 0.5) and r["baskets"] == 30
    assert rules["lift"].is_monotonic_decreasing
    # bread and jam never meet: no rule between them
    assert not ((rules["antecedents"] == "bread") & (rules["consequents"] == "jam")).any()


def test_planted_pairs_are_found_and_hold_out_while_noise_does_not():
    rng = np.random.default_rng(3)
    items = [f"i{j}" for j in range(30)]

    def draw(n):
        out = []
        for _ in range(n):
            b = set(rng.choice(items, 2, replace=False))
            if rng.random() < 0.3:
                b |= {"tea", "cup"}  # planted affinity
            out.append(sorted(b))
        return out

    train, hold = basket.basket_matrix(_pairs(draw(3000))), basket.basket_matrix(_pairs(draw(1000)))
    rules, stats = basket.mine_rules(train)
    top = rules[rules["lift"] > 1].head(5)
    assert {"tea", "cup"} == {top.iloc[0]["antecedents"], top.iloc[0]["consequents"]}
    assert top.iloc[0]["lift"] > 2
    hold_lift = basket.holdout_lift(top.head(2), hold)
    assert (hold_lift > 2).all()
    stats["holdout_mean_lift_top"] = float(hold_lift.mean())
    assert basket.beats_baseline({"sku": stats}, min_rules=2)[0]
    # pure noise: lifts of the "best" rules fall back to about 1 on other baskets
    noise = basket.basket_matrix(_pairs([sorted(set(rng.choice(items, 3, replace=False))) for _ in range(3000)]))
    noise_rules, noise_stats = basket.mine_rules(noise)
    noise_hold = basket.basket_matrix(_pairs([sorted(set(rng.choice(items, 3, replace=False))) for _ in range(3000)]))
    held = basket.holdout_lift(noise_rules.head(10), noise_hold)
    assert held.mean() < 1.3


def test_no_baskets_gives_no_rules_and_fails_the_gate():
    rules, stats = basket.mine_rules(basket.basket_matrix(_pairs([["a"], ["b"]])))
    assert rules.empty and stats["rules"] == 0 and stats["baskets"] == 2
    singles, single_stats = basket.mine_rules(basket.basket_matrix(_pairs([["a"], ["b"]] * 30)))
    assert singles.empty and single_stats["frequent_itemsets"] == 2 and single_stats["multi_item_baskets"] == 0
    stats["holdout_mean_lift_top"] = None
    ok, detail = basket.beats_baseline({"category": stats})
    assert not ok and "category: 0 rules" in detail
