"""The data commands (replay, init, fired, alerts, demo) run in-process through ``main``.

Fires are checked against :class:`cryptoalerts.ReferenceIndex`, the brute-force
model of the semantics table, on a small workload whose prices come from a tiny
set so ties and boundaries happen all the time.
"""

from __future__ import annotations

import csv
import json
import random
import re
import socket
import sys
from pathlib import Path

import pytest

from cryptoalerts import Alert, Fired, ReferenceIndex, Tick
from cryptoalerts.cli import data_cmds, main

SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD")
LEVELS = [float(x) for x in range(95, 106)]


def make_alerts(n: int = 120, seed: int = 1) -> list[Alert]:
    rng = random.Random(seed)
    conditions = ["above", "below", "crosses_up", "crosses_down", "crosses", "enters_channel", "exits_channel",
                  "moves_up_pct", "moves_down_pct"]
    out = []
    for i in range(n):
        cond = conditions[i % len(conditions)]
        params: dict[str, object]
        if cond.endswith("channel"):
            lo = rng.choice(LEVELS[:-2])
            params = {"lower": lo, "upper": lo + rng.choice((1.0, 2.0))}
        elif cond.startswith("moves"):
            params = {"pct": rng.choice((1.0, 2.0, 3.0)), "window_s": rng.choice((5.0, 30.0))}
        else:
            params = {"threshold": rng.choice(LEVELS)}
        rearm = i % 3 == 0
        out.append(Alert(
            id=f"a{i:03d}", symbol=rng.choice(SYMBOLS), condition=cond,
            trigger="rearm" if rearm else "once", cooldown_s=rng.choice((0.0, 3.0)) if rearm else 0.0,
            expires_at=4_000_000_150.0 if i % 7 == 0 else None, **params,  # type: ignore[arg-type]
        ))
    return out


def make_ticks(n: int = 600, seed: int = 2) -> list[Tick]:
    """Random ticks with re-deliveries: duplicates and late (stale) copies."""
    rng = random.Random(seed)
    ticks: list[Tick] = []
    price = dict.fromkeys(SYMBOLS, 100.0)
    for i in range(n):
        sym = rng.choice(SYMBOLS)
        price[sym] = min(max(price[sym] + rng.choice((-1.0, 0.0, 1.0, 0.5, -0.5)), 90.0), 110.0)
        ticks.append(Tick(sym, price[sym], 4_000_000_000.0 + i))
        if rng.random() < 0.05:
            ticks.append(ticks[-1])  # duplicate
        if rng.random() < 0.03 and len(ticks) > 10:
            ticks.append(ticks[-rng.randrange(5, 10)])  # late
    return ticks


def write_alerts_jsonl(path: Path, alerts: list[Alert]) -> Path:
    path.write_text("".join(json.dumps(a.to_dict()) + "\n" for a in alerts), encoding="utf-8")
    return path


def write_ticks_csv(path: Path, ticks: list[Tick]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["symbol", "price", "ts"])
        w.writerows([t.symbol, repr(t.price), repr(t.ts)] for t in ticks)
    return path


def reference_fires(alerts: list[Alert], ticks: list[Tick]) -> list[dict[str, object]]:
    index = ReferenceIndex(alerts)
    return [f.to_dict() for t in ticks for f in index.match(t)]


def read_fires(path: Path) -> list[dict[str, object]]:
    return [Fired.from_dict(json.loads(line)).to_dict() for line in path.read_text().splitlines() if line]


def by_key(fires: list[dict[str, object]]) -> list[dict[str, object]]:
    return sorted(fires, key=lambda f: (str(f["alert_id"]), int(f["seq"])))  # type: ignore[call-overload]


@pytest.fixture
def files(tmp_path: Path) -> tuple[list[Alert], list[Tick], Path, Path]:
    alerts, ticks = make_alerts(), make_ticks()
    return alerts, ticks, write_alerts_jsonl(tmp_path / "alerts.jsonl", alerts), write_ticks_csv(
        tmp_path / "ticks.csv", ticks)


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite://{tmp_path / 'store.db'}"
    assert main(["init", "--store", url]) == 0
    return url


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The last stderr line, which must be the command's one-line error."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines, "expected an error message on stderr"
    return lines[-1]


def test_replay_fires_equal_the_reference(files, store, tmp_path, capsys) -> None:
    alerts, ticks, alerts_path, ticks_path = files
    out = tmp_path / "fires.jsonl"
    assert main(["replay", "--alerts", str(alerts_path), "--ticks", str(ticks_path), "--store", store,
                 "--out", str(out)]) == 0
    expected = reference_fires(alerts, ticks)
    assert len(expected) > 30  # the workload exercises matching, not just parsing
    assert by_key(read_fires(out)) == by_key(expected)
    err = capsys.readouterr().err
    assert f"{len(ticks)} ticks" in err
    assert "stale" in err
    assert "duplicate" in err


def test_replay_twice_records_each_fire_once(files, store, tmp_path, capsys) -> None:
    _, _, alerts_path, ticks_path = files
    args = ["replay", "--alerts", str(alerts_path), "--ticks", str(ticks_path), "--store", store]
    assert main([*args, "--out", str(tmp_path / "one.jsonl")]) == 0
    assert main([*args, "--out", str(tmp_path / "two.jsonl")]) == 0
    first = read_fires(tmp_path / "one.jsonl")
    capsys.readouterr()
    assert main(["fired", "--store", store]) == 0
    recorded = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert by_key(recorded) == by_key(first)
    keys = [(f["alert_id"], f["seq"]) for f in recorded]
    assert len(keys) == len(set(keys))
    # The second run accepted nothing new: whatever it wrote are the same fires re-found.
    second = read_fires(tmp_path / "two.jsonl")
    assert {(f["alert_id"], f["seq"]) for f in second} <= set(keys)


def test_replay_reads_jsonl_ticks_and_csv_alerts(tmp_path, store) -> None:
    alerts, ticks = make_alerts(40, seed=5), make_ticks(200, seed=6)
    alerts_csv = tmp_path / "alerts.csv"
    fields = list(Alert.__dataclass_fields__)
    with alerts_csv.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows({k: a.to_dict().get(k, "") for k in fields} for a in alerts)
    ticks_jsonl = tmp_path / "ticks.data"  # no suffix: the content decides
    ticks_jsonl.write_text("".join(json.dumps(t.to_dict()) + "\n" for t in ticks), encoding="utf-8")
    out = tmp_path / "fires.jsonl"
    assert main(["replay", "--alerts", str(alerts_csv), "--ticks", str(ticks_jsonl), "--store", store,
                 "--out", str(out)]) == 0
    assert by_key(read_fires(out)) == by_key(reference_fires(alerts, ticks))


def test_init_is_idempotent_and_alerts_round_trip(files, store, capsys) -> None:
    alerts, _, alerts_path, _ = files
    assert main(["init", "--store", store]) == 0
    empty = Path(alerts_path).with_name("ticks-empty.csv")
    empty.write_text("symbol,price,ts\n", encoding="utf-8")
    assert main(["replay", "--alerts", str(alerts_path), "--ticks", str(empty), "--store", store]) == 0
    capsys.readouterr()
    assert main(["alerts", "--store", store]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(listed, key=lambda a: a["id"]) == [a.to_dict() for a in sorted(alerts, key=lambda a: a.id)]
    assert main(["alerts", "--store", store, "--symbol", "ETH-USD"]) == 0
    eth = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {a["id"] for a in eth} == {a.id for a in alerts if a.symbol == "ETH-USD"}


# -- errors -------------------------------------------------------------------------
def test_unreadable_file_is_one_line_exit_2(files, store, tmp_path, capsys) -> None:
    _, _, alerts_path, _ = files
    missing = tmp_path / "nope.csv"
    assert main(["replay", "--alerts", str(alerts_path), "--ticks", str(missing), "--store", store]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"cryptoalerts replay: error: cannot read {missing}: No such file or directory"


def test_bad_jsonl_line_names_file_and_line(files, store, tmp_path, capsys) -> None:
    _, _, _, ticks_path = files
    bad = tmp_path / "alerts.jsonl"
    bad.write_text('{"id": "x1", "symbol": "BTC-USD", "condition": "above", "threshold": 100}\n'
                   "\n"
                   '{"id": "x2", "symbol": "BTC-USD", "condition": "above", "threshold": 1\n', encoding="utf-8")
    assert main(["replay", "--alerts", str(bad), "--ticks", str(ticks_path), "--store", store]) == 2
    line = error_line(capsys)
    assert line.startswith(f"cryptoalerts replay: error: {bad}:3: invalid JSON")


def test_invalid_alert_field_names_line_and_field(files, store, tmp_path, capsys) -> None:
    _, _, _, ticks_path = files
    bad = tmp_path / "alerts.jsonl"
    bad.write_text('{"id": "x1", "symbol": "BTC-USD", "condition": "sideways", "threshold": 100}\n', encoding="utf-8")
    assert main(["replay", "--alerts", str(bad), "--ticks", str(ticks_path), "--store", store]) == 2
    line = error_line(capsys)
    assert f"{bad}:1: condition='sideways': must be one of" in line


def test_bad_csv_header(files, store, tmp_path, capsys) -> None:
    _, _, alerts_path, _ = files
    bad = tmp_path / "ticks.csv"
    bad.write_text("symbol,price,time\nBTC-USD,1,2\n", encoding="utf-8")
    assert main(["replay", "--alerts", str(alerts_path), "--ticks", str(bad), "--store", store]) == 2
    line = error_line(capsys)
    assert f"{bad}:1: bad CSV header for ticks" in line
    assert "symbol,price,time" in line


def test_unknown_store_scheme_is_usage_error(capsys) -> None:
    assert main(["fired", "--store", "postgres://db/alerts"]) == 2
    line = error_line(capsys)
    assert line.startswith("cryptoalerts fired: error: bad store URL")
    assert "postgres" in line


def test_uninitialised_store_names_init(files, tmp_path, capsys) -> None:
    _, _, alerts_path, ticks_path = files
    url = f"sqlite://{tmp_path / 'fresh.db'}"
    assert main(["replay", "--alerts", str(alerts_path), "--ticks", str(ticks_path), "--store", url]) == 1
    assert "cryptoalerts init" in error_line(capsys)


def test_default_store_comes_from_the_environment(files, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv(data_cmds.STORE_ENV, f"sqlite://{tmp_path / 'env.db'}")
    assert main(["init"]) == 0
    assert (tmp_path / "env.db").exists()


def test_skip_bad_lines_reports_each_and_continues(files, store, tmp_path, capsys) -> None:
    alerts, ticks, alerts_path, _ = files
    path = tmp_path / "ticks.csv"
    write_ticks_csv(path, ticks)
    lines = path.read_text().splitlines()
    lines.insert(10, "BTC-USD,-5,4000000000.5")  # line 11: a negative price
    lines.insert(20, "BTC-USD,1,2,3")  # line 21: too many fields
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "fires.jsonl"
    assert main(["replay", "--alerts", str(alerts_path), "--ticks", str(path), "--store", store,
                 "--out", str(out), "--skip-bad-lines"]) == 0
    err = capsys.readouterr().err
    assert f"skipped {path}:11: price=" in err
    assert f"skipped {path}:21: expected 3 fields" in err
    assert by_key(read_fires(out)) == by_key(reference_fires(alerts, ticks))


def test_bad_line_keeps_the_work_before_it(files, store, tmp_path, monkeypatch, capsys) -> None:
    alerts, ticks, alerts_path, _ = files
    monkeypatch.setattr(data_cmds, "TICK_BATCH", 50)
    cut = 400
    path = tmp_path / "ticks.csv"
    write_ticks_csv(path, ticks[:cut])
    with path.open("a", encoding="utf-8") as f:
        f.write("BTC-USD,abc,1\n")
    out = tmp_path / "fires.jsonl"
    assert main(["replay", "--alerts", str(alerts_path), "--ticks", str(path), "--store", store,
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{cut + 2}: price='abc'" in err
    expected = by_key(reference_fires(alerts, ticks[:cut]))
    assert expected
    assert by_key(read_fires(out)) == expected
    assert main(["fired", "--store", store]) == 0
    recorded = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert by_key(recorded) == expected


def test_demo_on_a_prefix_writes_fires_and_summary(tmp_path, capsys) -> None:
    out = tmp_path / "fires.jsonl"
    assert main(["demo", "--seconds", "600", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "Fires by condition" in stdout
    assert "throughput" in stdout
    fires = read_fires(out)
    assert fires
    assert f"wrote {len(fires)} fires to {out}" in stdout


def test_unreachable_store_is_one_line_exit_1(tmp_path, capsys) -> None:
    url = f"sqlite://{tmp_path / 'no' / 'such' / 'dir.db'}"
    assert main(["init", "--store", url]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("cryptoalerts init: error: ")
    assert "dir.db" in err


def test_unreachable_dynamodb_fails_after_the_cli_attempts(monkeypatch, capsys) -> None:
    """A closed port, through real aiobotocore: one line, exit 1, after the CLI's few attempts."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"dynamodb://Alerts?region=us-east-1&endpoint_url=http://127.0.0.1:{port}"
    assert data_cmds._open_store(url).max_attempts == data_cmds.CLI_DYNAMODB_ATTEMPTS  # type: ignore[attr-defined]
    assert data_cmds._open_store(url + "&max_attempts=2").max_attempts == 2  # type: ignore[attr-defined]
    assert main(["alerts", "--store", url]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("cryptoalerts alerts: error: ")
    assert f"127.0.0.1:{port}" in err


def test_replay_on_a_memory_store_needs_no_init(files, tmp_path) -> None:
    alerts, ticks, alerts_path, ticks_path = files
    out = tmp_path / "fires.jsonl"
    assert main(["replay", "--alerts", str(alerts_path), "--ticks", str(ticks_path), "--store", "memory://",
                 "--out", str(out)]) == 0
    assert by_key(read_fires(out)) == by_key(reference_fires(alerts, ticks))


def test_csv_with_a_byte_order_mark_is_read(store, tmp_path) -> None:
    alerts = [Alert(id="b1", symbol="BTC-USD", condition="above", threshold=100.0)]
    alerts_path = write_alerts_jsonl(tmp_path / "alerts.jsonl", alerts)
    ticks_path = tmp_path / "ticks.csv"
    ticks_path.write_bytes("\ufeffsymbol,price,ts\nBTC-USD,99.5,4000000000\nBTC-USD,100,4000000001\n".encode())
    out = tmp_path / "fires.jsonl"
    assert main(["replay", "--alerts", str(alerts_path), "--ticks", str(ticks_path), "--store", store,
                 "--out", str(out)]) == 0
    assert [(f["alert_id"], f["price"]) for f in read_fires(out)] == [("b1", 100.0)]


def test_demo_prints_plain_tables_without_rich(tmp_path, monkeypatch, capsys) -> None:
    for name in [m for m in sys.modules if m == "rich" or m.startswith("rich.")] + ["rich"]:
        monkeypatch.setitem(sys.modules, name, None)  # rich is an optional extra (cli): import fails
    out = tmp_path / "fires.jsonl"
    assert main(["demo", "--seconds", "120", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "Fires by condition" in stdout
    assert re.search(r"^  accepted +[\d,]+$", stdout, re.M)
    assert read_fires(out)
