"""benchmarks/teaching_ranges.py: reads each notebook's summary line, sweeps seeds, resumes, and refuses
a committed run that is not the class-size seed-0 one."""

import json

import pytest

from support import load_benchmark


def executed(number, summary):
    line = json.dumps({"notebook": number, **summary})
    return {"cells": [{"cell_type": "code", "outputs": [{"name": "stdout", "text": ["size: class\n", "{\"other\": 1}\n"]}]},
                      {"cell_type": "code", "outputs": [{"name": "stdout", "text": line + "\n"}]}]}


def test_the_summary_line_is_found_and_nested_keys_are_read():
    benchmark = load_benchmark("teaching_ranges")
    notebook = executed("02", {"size": "class", "seed": 0, "open_set": {"twin_roc_auc": 0.7}})
    summary = benchmark.summary_of(notebook, "02")
    assert benchmark.lookup(summary, "open_set.twin_roc_auc") == 0.7
    with pytest.raises(ValueError, match="notebook 03 printed no JSON summary"):
        benchmark.summary_of(notebook, "03")


def test_a_sweep_gives_ranges_resumes_and_checks_the_seed_reached_the_notebook(monkeypatch, tmp_path, capsys):
    benchmark = load_benchmark("teaching_ranges")
    calls = []

    def fake_run(number, seed, size):
        calls.append((number, seed))
        return {"notebook": number, "size": size, "seed": seed, "roc_auc": 0.9 + seed / 100,
                "pair_accuracy": 0.8, "n_way_accuracy": 0.7 - seed / 100, "identify_top1": 0.6}, 1.0

    monkeypatch.setattr(benchmark, "run_notebook", fake_run)
    out = tmp_path / "ranges.json"
    benchmark.main(["--notebooks", "09", "--seeds", "0", "1", "--json", str(out)])
    record = json.loads(out.read_text())
    auc = record["ranges"]["09"]["roc_auc"]
    assert auc["min"] == 0.9 and auc["max"] == 0.91 and auc["seeds"] == 2 and auc["by_seed"] == {"0": 0.9, "1": 0.91}
    assert record["ranges"]["09"]["n_way_accuracy"]["min"] == 0.69
    benchmark.main(["--notebooks", "09", "--seeds", "0", "1", "2", "--json", str(out)])
    assert calls == [("09", 0), ("09", 1), ("09", 2)]  # the second sweep ran only the missing seed
    assert json.loads(out.read_text())["ranges"]["09"]["roc_auc"]["seeds"] == 3
    capsys.readouterr()
    benchmark.main(["--markdown", "--json", str(out)])
    table = capsys.readouterr().out
    assert "| 09 | `roc_auc` | 0.9 | 0.9000 to 0.9200 | 0.9100 | 3 |" in table
    assert len(calls) == 3  # --markdown runs nothing

    monkeypatch.setattr(benchmark, "run_notebook", lambda number, seed, size: ({"notebook": number, "size": size, "seed": 0}, 1.0))
    with pytest.raises(SystemExit, match="does not read SIAMESE_KIT_SEED"):
        benchmark.main(["--notebooks", "09", "--seeds", "3"])


def test_committed_runs_must_be_class_size_seed_zero(monkeypatch, tmp_path):
    benchmark = load_benchmark("teaching_ranges")
    saved = tmp_path / "10_triplets.ipynb"
    monkeypatch.setattr(benchmark, "notebook_path", lambda number: saved)
    saved.write_text(json.dumps(executed("10", {"size": "quick", "seed": 0})))
    with pytest.raises(SystemExit, match="committed notebook 10 ran size 'quick'"):
        benchmark.main(["--notebooks", "10", "--seeds", "0", "--committed"])
    saved.write_text(json.dumps(executed("10", {"size": "class", "seed": 0, "semi_hard_twenty_way": 0.74,
                                                "semi_hard_map_at_r": 0.36, "batch_hard_twenty_way": 0.6,
                                                "batch_hard_on_sphere_twenty_way": 0.7})))
    monkeypatch.setattr(benchmark, "run_notebook", lambda *args: pytest.fail("seed 0 is committed: nothing runs"))
    benchmark.main(["--notebooks", "10", "--seeds", "0", "--committed"])
