"""Adaptive-search policies and Hyperband arithmetic: pure, no cluster.

Expected values are worked out by hand in the comments (and agree with the
Hyperband paper's Algorithm 1 and dask-ml's documented metadata).
"""

import math

import pytest

from dasklearn.model_selection import _policies as pol


def rec(calls, score):
    return {"partial_fit_calls": calls, "score": score}


def simulate(policy, ids, quality, **plan_kw):
    """Drive ``policy`` to the end with score = quality[m] * (1 - 1 / (calls + 1)).

    Returns (records of every model, survivors, list of instructions).
    """
    records = {m: [] for m in ids}
    alive = dict(records)
    decisions = []
    while True:
        instr = pol.plan_round(alive, policy, **plan_kw)
        decisions.append(instr)
        for m in [m for m in alive if m not in instr]:
            del alive[m]
        work = {m: n for m, n in instr.items() if n > 0}
        if not work:
            return records, list(alive), decisions
        for m, n in work.items():
            calls = pol.current(alive[m]) + n
            alive[m].append(rec(calls, quality[m] * (1 - 1 / (calls + 1))))


# --------------------------------------------------------------- Hyperband
def test_hyperband_brackets_max_iter_81_eta_3():
    # s_max = 4, B = 5 * 81 = 405; n_s = ceil(5 * 3**s / (s + 1)), r_s = 81 / 3**s
    meta = pol.hyperband_metadata(81, 3)
    got = [(b["bracket"], b["n_models"], b["partial_fit_calls"], b["decisions"]) for b in meta["brackets"]]
    assert got == [
        (0, 5, 405, [81]),                   # 5 * 81
        (1, 8, 324, [27, 81]),               # (8 - 2) * 27 + 2 * 81
        (2, 15, 279, [9, 27, 81]),           # (15 - 5) * 9 + (5 - 1) * 27 + 81
        (3, 34, 276, [3, 9, 27, 81]),        # 23 * 3 + 8 * 9 + 2 * 27 + 81
        (4, 81, 297, [1, 3, 9, 27, 81]),     # 54 + 18 * 3 + 6 * 9 + 2 * 27 + 81
    ]
    assert meta["n_models"] == 143 and meta["partial_fit_calls"] == 1581
    rungs4 = [(r["n_models"], r["partial_fit_calls"]) for r in meta["brackets"][4]["rungs"]]
    assert rungs4 == [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)]


def test_hyperband_brackets_max_iter_27_and_other_etas():
    meta = pol.hyperband_metadata(27, 3)
    # n = 27, 12, 6, 4 at r = 1, 3, 9, 27; calls 81, 78, 90, 108
    assert [(b["n_models"], b["partial_fit_calls"]) for b in reversed(meta["brackets"])] == [
        (27, 81), (12, 78), (6, 90), (4, 108)]
    assert (meta["n_models"], meta["partial_fit_calls"]) == (49, 357)
    # eta = 4, R = 81: s_max = 3, B = 324: n = 64, 22, 8, 4 at r = 1, 5, 20, 81
    b4 = {b.bracket: b for b in pol.hyperband_brackets(81, 4)}
    assert [(b4[s].n_models, b4[s].n_initial_iter, b4[s].partial_fit_calls) for s in (3, 2, 1, 0)] == [
        (64, 1, 208), (22, 5, 245), (8, 20, 280), (4, 81, 324)]
    assert b4[1].decisions == [20, 80]  # 20 * 4 = 80 < 81: the paper's rungs
    # s_max is exact: 3**5 = 243 gives 6 brackets (floor(log(243, 3)) is 4 in floats)
    assert len(pol.hyperband_brackets(243, 3)) == 6
    assert [(b.n_models, b.partial_fit_calls) for b in pol.hyperband_brackets(1, 3)] == [(1, 1)]


def test_hyperband_policy_runs_match_metadata():
    """Each bracket driven by the successive-halving policy does exactly the
    planned calls and keeps the best model."""
    for R, eta in [(81, 3), (27, 3), (100, 3), (81, 4)]:
        for b in pol.hyperband_brackets(R, eta):
            ids = list(range(b.n_models))
            quality = {m: (m * 7919 % b.n_models) / b.n_models for m in ids}
            policy = lambda h, done=(), rungs=b.rungs: pol.successive_halving(h, rungs=rungs, done=done)
            records, survivors, _ = simulate(policy, ids, quality, max_iter=R)
            assert sum(pol.current(r) for r in records.values()) == b.partial_fit_calls
            assert max(quality, key=quality.get) in survivors
            assert all(pol.current(records[m]) == b.rungs[-1][1] for m in survivors)


# ------------------------------------------------------- successive halving
def test_sha_rungs_and_totals():
    # 10 models from 1 call, eta 3: 10 @ 1, 3 @ 3, 1 @ 9 -> 7 * 1 + 2 * 3 + 9 = 22
    assert pol.sha_rungs(10, 1, 3) == [(10, 1), (3, 3), (1, 9)]
    assert pol.rung_total(pol.sha_rungs(10, 1, 3)) == 22
    # max_iter caps the last rung: 10 @ 3, 3 @ 9, 1 @ min(27, 20) -> 21 + 18 + 20
    assert pol.sha_rungs(10, 3, 3, 20) == [(10, 3), (3, 9), (1, 20)]
    assert pol.rung_total(pol.sha_rungs(10, 3, 3, 20)) == 59
    # stops at the first rung reaching max_iter, with every model still there
    assert pol.sha_rungs(9, 5, 3, 10) == [(9, 5), (3, 10)]
    # 'exhaust': 9 models -> 2 halvings, so start at 81 / 9 = 9 to end at 81
    assert pol.n_halvings(9, 3) == 2 and pol.exhaust_initial(9, 3, 81) == 9
    assert pol.sha_rungs(9, 9, 3, 81) == [(9, 9), (3, 27), (1, 81)]
    assert pol.exhaust_initial(100, 3, 50) == 1  # never below 1
    # exhaust rungs end exactly at max_resource: 4250 rows -> 4250 // 9, 4250 // 3, 4250
    assert pol.exhaust_rungs(9, 3, 4250) == [(9, 472), (3, 1416), (1, 4250)]
    assert pol.exhaust_rungs(10, 3, 20) == [(10, 2), (3, 6), (1, 20)]  # sha_rungs(10, 2) ends at 18
    assert pol.exhaust_rungs(100, 3, 10) == [(100, 1), (33, 2), (11, 3), (3, 4), (1, 10)]  # increasing
    assert pol.sha_rungs(2, 4, 2.5) == [(2, 4)]  # float aggressiveness: floor(2 / 2.5) = 0


def test_successive_halving_instructions_by_hand():
    rungs = [(9, 1), (3, 3), (1, 9)]
    policy = lambda h, done=(): pol.successive_halving(h, rungs=rungs, done=done)
    ids = list("abcdefghi")
    history = {m: [] for m in ids}
    assert pol.plan_round(history, policy) == {m: 1 for m in ids}  # rung 0: one call each
    scores = dict(zip(ids, [0.5, 0.9, 0.1, 0.7, 0.8, 0.2, 0.3, 0.6, 0.4]))
    history = {m: [rec(1, scores[m])] for m in ids}
    # best three (b 0.9, e 0.8, d 0.7) go to 3 calls: 2 more; the rest are dropped
    assert pol.plan_round(history, policy) == {"b": 2, "e": 2, "d": 2}
    history = {"b": [rec(1, .9), rec(3, .91)], "e": [rec(1, .8), rec(3, .95)], "d": [rec(1, .7), rec(3, .5)]}
    assert pol.plan_round(history, policy) == {"e": 6}
    assert pol.plan_round({"e": [rec(9, .96)]}, policy) == {"e": 0}  # last rung: finished
    # a rung cut short (patience caps a round) continues before deciding
    history = {"b": [rec(2, .9)], "e": [rec(3, .95)], "d": [rec(3, .5)]}
    assert pol.plan_round(history, policy) == {"b": 1, "e": 0, "d": 0}


def test_successive_halving_with_patience_stops_plateaued_models():
    rungs = [(4, 2), (1, 8)]
    policy = lambda h, done=(): pol.successive_halving(h, rungs=rungs, done=done)
    flat = [rec(1, .5), rec(2, .8), rec(4, .8)]  # no gain over the last 2 calls
    rising = [rec(1, .5), rec(2, .7), rec(4, .75)]
    h = {"flat": flat, "rising": rising}
    # rung 1 (8 calls) is under way; patience 2, rounds of at most 2 calls
    assert pol.plan_round(h, policy, patience=2, tol=0.01) == {"flat": 0, "rising": 2}
    assert pol.plan_round(h, policy, patience=2, tol=None) == {"flat": 2, "rising": 2}


# ----------------------------------------------------------- other policies
def test_inverse_decay_by_hand():
    policy = lambda h, done=(): pol.inverse_decay(h, n_initial=10, decay_rate=1.0, max_iter=20, done=done)
    ids = list(range(10))
    # t = 0: all 10; keep(1) = floor(10 / 2) = 5 differs, so one call
    assert pol.plan_round({m: [] for m in ids}, policy) == {m: 1 for m in ids}
    h = {m: [rec(1, m / 10)] for m in ids}
    # t = 1: keep the best 5 (9..5); keep(2) = 3 differs -> one call
    assert pol.plan_round(h, policy) == {9: 1, 8: 1, 7: 1, 6: 1, 5: 1}
    h = {m: [rec(3, m / 10)] for m in (9, 8, 7)}
    # t = 3: keep(3) = floor(10 / 4) = 2, keep(4) = 2, keep(5) = 1 -> two calls
    assert pol.plan_round(h, policy) == {9: 2, 8: 2}
    # t = 5: one model left: it trains on to max_iter = 20
    assert pol.plan_round({9: [rec(5, .9)], 8: [rec(5, .8)]}, policy) == {9: 15}
    assert pol.plan_round({9: [rec(5, .9)]}, policy, max_per_round=4) == {9: 4}
    # decay_rate 0 keeps everyone to max_iter
    keep_all = lambda h, done=(): pol.inverse_decay(h, n_initial=3, decay_rate=0, max_iter=7, done=done)
    assert pol.plan_round({m: [rec(2, m)] for m in range(3)}, keep_all) == {0: 5, 1: 5, 2: 5}


def test_inverse_decay_of_a_huge_rate_keeps_one_model():
    """(1 + t) ** 1000.0 is past a float's range: one model is kept (it was
    an OverflowError)."""
    policy = lambda h, done=(): pol.inverse_decay(h, n_initial=10, decay_rate=1000.0, max_iter=200, done=done)
    h = {m: [rec(150, m / 10)] for m in range(3)}
    assert pol.plan_round(h, policy) == {2: 50}


def test_train_all_and_round_caps():
    policy = lambda h, done=(): pol.train_all(h, max_iter=10, done=done)
    h = {"a": [], "b": [rec(4, .5)], "c": [rec(10, .6)]}
    assert pol.plan_round(h, policy, max_iter=10) == {"a": 10, "b": 6, "c": 0}
    assert pol.plan_round(h, policy, max_iter=10, max_per_round=1) == {"a": 1, "b": 1, "c": 0}
    assert pol.plan_round(h, policy, max_iter=10, patience=3, tol=0.1) == {"a": 3, "b": 3, "c": 0}
    records, survivors, decisions = simulate(policy, ["x", "y"], {"x": 1, "y": 2}, max_iter=10, max_per_round=3)
    assert [pol.current(records[m]) for m in "xy"] == [10, 10] and survivors == ["x", "y"]
    assert [d["x"] for d in decisions] == [3, 3, 3, 1, 0]


def test_plateau_and_ranking_helpers():
    r = [rec(1, .50), rec(2, .60), rec(3, .605), rec(4, .606)]
    # reference = score at 2 calls (0.60); best since: 0.606 -> gain 0.006
    assert pol.plateaued(r, 2, 0.01) and not pol.plateaued(r, 2, 0.005)
    assert not pol.plateaued(r, 4, 0.01)  # no record 4 calls back
    assert not pol.plateaued(r, False, 0.01) and not pol.plateaued(r, 2, None)
    assert not pol.plateaued(r, 2, math.nan)
    h = {"a": [rec(1, .5)], "b": [rec(1, math.nan)], "c": [rec(1, .7)], "d": [rec(1, .5)], "e": []}
    assert pol.top_models(h, 3) == ["c", "a", "d"]  # NaN and unscored rank last; ties keep order
    assert pol.top_models(h, 10)[-2:] == ["b", "e"]
    with pytest.raises(KeyError, match="not alive"):
        pol.plan_round({"a": []}, lambda h, done=(): {"zz": 1})


def test_policies_do_not_import_dask():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(pol))
    names = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any("dask" in (m or "") for m in names | modules)
