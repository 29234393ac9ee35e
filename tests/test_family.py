"""The index's sorted family (``_book.Family``) against a plain dict of sorted keys.

Chunks of two keys (``_LOAD = 1``) so that every operation splits, empties and
crosses chunk boundaries; duplicates are common because keys come from a few values.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cryptoalerts._book as book_module
from cryptoalerts import Alert
from cryptoalerts._book import Family, flatten

KEYS = st.sampled_from([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0])


@pytest.fixture(autouse=True)
def tiny_chunks() -> Iterator[None]:
    saved = book_module._LOAD
    book_module._LOAD = 1
    yield
    book_module._LOAD = saved


def alert(n: int, key: float) -> Alert:
    return Alert(id=f"a{n}", symbol="S", condition="above", threshold=key)


def ids(buckets: list[Alert | dict[str, Alert]]) -> set[str]:
    return {a.id for a in flatten(buckets)}


def check(fam: Family, model: dict[float, dict[str, Alert]]) -> None:
    """The family's chunks hold exactly the model, sorted, with correct maxima."""
    assert len(fam.keys) == len(fam.vals) == len(fam.maxes)
    for ks, vs, mx in zip(fam.keys, fam.vals, fam.maxes, strict=True):
        assert ks, "no empty chunk"
        assert len(ks) == len(vs) <= 2 * book_module._LOAD
        assert ks[-1] == mx
    assert fam.flat_keys() == sorted(model)
    for key, bucket in fam.items():
        members = bucket if isinstance(bucket, dict) else {bucket.id: bucket}
        assert members == model[key]
        assert not isinstance(bucket, dict) or len(bucket) > 1, "a lone alert is kept bare"
    assert bool(fam) == bool(model)


ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), KEYS),
        st.tuples(st.just("discard"), st.integers(0, 1000)),
        st.tuples(st.just("take_below"), KEYS, st.booleans()),
        st.tuples(st.just("take_above"), KEYS, st.booleans()),
        st.tuples(st.just("between"), KEYS, KEYS, st.booleans(), st.booleans()),
        st.tuples(st.just("take_first"), st.integers(0, 5)),
        st.tuples(st.just("take_last"), st.integers(0, 5)),
        st.tuples(st.just("around"), KEYS, st.booleans()),
    ),
    max_size=60,
)


@settings(max_examples=400, deadline=None)
@given(initial=st.lists(KEYS, max_size=12), steps=ops)
def test_family_matches_a_dict_model(initial: list[float], steps: list[tuple[object, ...]]) -> None:
    fam = Family()
    model: dict[float, dict[str, Alert]] = {}
    made: dict[int, Alert] = {}
    initial_alerts = [alert(i, k) for i, k in enumerate(sorted(initial))]
    for a in initial_alerts:
        model.setdefault(a.threshold, {})[a.id] = a  # type: ignore[index]
        made[int(a.id[1:])] = a
    ukeys = sorted(model)
    buckets = np.empty(len(ukeys), dtype=object)
    for j, key in enumerate(ukeys):
        members = model[key]
        buckets[j] = dict(members) if len(members) > 1 else next(iter(members.values()))
    fam.load_sorted(np.array(ukeys, dtype=np.float64), buckets, np.arange(len(ukeys)))
    check(fam, model)
    n = len(initial_alerts)
    for step in steps:
        op = step[0]
        if op == "add":
            key = step[1]
            assert isinstance(key, float)
            a = made[n] = alert(n, key)
            n += 1
            fam.add(key, a)
            model.setdefault(key, {})[a.id] = a
        elif op == "discard":
            live = [a for m in model.values() for a in m.values()]
            if live:
                target = live[step[1] % len(live)]  # type: ignore[operator]
                fam.discard(target.threshold, target.id)  # type: ignore[arg-type]
                members = model.get(target.threshold, {})  # type: ignore[arg-type]
                members.pop(target.id, None)
                if not members:
                    model.pop(target.threshold, None)  # type: ignore[arg-type]
        elif op in ("take_below", "take_above"):
            x, inclusive = step[1], step[2]
            assert isinstance(x, float)
            if op == "take_below":
                keys = [k for k in model if k < x or (inclusive and k == x)]
                got = fam.take_below(x, bool(inclusive))
            else:
                keys = [k for k in model if k > x or (inclusive and k == x)]
                got = fam.take_above(x, bool(inclusive))
            assert ids(got) == {i for k in keys for i in model[k]}
            for k in keys:
                del model[k]
        elif op == "between":
            lo, hi, lo_open, hi_open = step[1:]
            assert isinstance(lo, float)
            assert isinstance(hi, float)
            keys = sorted(
                k for k in model if (lo < k if lo_open else lo <= k) and (k < hi if hi_open else k <= hi)
            )
            got = fam.between(lo, hi, bool(lo_open), bool(hi_open))
            assert [a.id for a in flatten(got)] == [i for k in keys for i in model[k]]
        elif op in ("take_first", "take_last"):
            count = step[1]
            assert isinstance(count, int)
            ordered = sorted(model)
            keys = ordered[:count] if op == "take_first" else ordered[max(0, len(ordered) - count) :]
            got = fam.take_first(count) if op == "take_first" else fam.take_last(count)
            assert ids(got) == {i for k in keys for i in model[k]}
            for k in keys:
                del model[k]
        else:  # around
            p, closed_below = step[1], step[2]
            assert isinstance(p, float)
            below = [k for k in model if (k <= p if closed_below else k < p)]
            above = [k for k in model if (k > p if closed_below else k >= p)]
            assert fam.around(p, bool(closed_below)) == (max(below, default=None), min(above, default=None))
        check(fam, model)
        for key in model:
            bucket = fam.get(key)
            assert bucket is not None
            assert (set(bucket) if isinstance(bucket, dict) else {bucket.id}) == set(model[key])
        assert fam.get(9.5) is None
