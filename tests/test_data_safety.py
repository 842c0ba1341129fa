"""No command destroys a user's file or ends in a traceback (issue 14's numbered cases)."""

from __future__ import annotations

import json
import os
import pickle
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lukener.files.atomic_write import TEMP_SUFFIX
from lukener.files.output_directory import MARKER

ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "OMP_NUM_THREADS": "1"}
CONLL = "-DOCSTART- -X- O O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\n"


def one_line_error(result, *fragments: str) -> str:
    """The run failed with exit 1 and one ``error:`` line (no traceback) holding fragments."""
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, result.output
    assert "Traceback" not in result.output
    assert lines[-1].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[-1], lines[-1]
    return lines[-1]


def train_args(model: Path, data: Path, output: Path, *extra: str) -> list[str]:
    return [
        "train", "--train", str(data), "--model", str(model), "--output-dir", str(output),
        "--max-steps", "2", "--batch-size", "4", *extra,
    ]  # fmt: skip


def files_of(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


# 1, 2: a foreign directory with a checkpoints/ folder is never deleted, even after a
# failed --resume.
def test_overwrite_never_deletes_a_directory_lukener_did_not_create(
    invoke, tiny_luke, wnut_small, tmp_path
) -> None:
    foreign = tmp_path / "d"
    (foreign / "checkpoints").mkdir(parents=True)
    (foreign / "thesis.tex").write_text("x")
    before = files_of(foreign)

    one_line_error(
        invoke(*train_args(tiny_luke, wnut_small, foreign, "--resume")), "no saved checkpoint"
    )
    assert sorted(p.name for p in foreign.iterdir()) == ["checkpoints", "thesis.tex"]
    one_line_error(
        invoke(*train_args(tiny_luke, wnut_small, foreign, "--overwrite")),
        "lukener did not create this directory",
    )
    assert files_of(foreign) == before
    assert (foreign / "checkpoints").is_dir()


def test_overwrite_removes_only_what_lukener_wrote(invoke, tiny_luke, wnut_small, tmp_path):
    output = tmp_path / "run"
    assert invoke(*train_args(tiny_luke, wnut_small, output)).exit_code == 0
    assert (output / MARKER).is_file()
    (output / "notes.txt").write_text("mine")  # a user's file added later
    result = invoke(*train_args(tiny_luke, wnut_small, output, "--overwrite"))
    assert result.exit_code == 0, result.output
    assert (output / "notes.txt").read_text() == "mine"
    assert (output / "model.safetensors").is_file()
    assert "notes.txt" not in json.loads((output / MARKER).read_text())["entries"]


def test_a_failed_overwrite_leaves_the_old_checkpoint(invoke, tiny_luke, wnut_small, tmp_path):
    """--overwrite builds the new run beside the old one and swaps it in only once complete:
    a run that fails on bad data, a mistyped model or a bad --trainer-arg changes nothing."""
    output = tmp_path / "good"
    assert invoke(*train_args(tiny_luke, wnut_small, output)).exit_code == 0
    before = files_of(output)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(wnut_small.read_text(encoding="utf-8") + "{not json\n", encoding="utf-8")
    one_line_error(invoke(*train_args(tiny_luke, bad, output, "--overwrite")), "bad.jsonl")
    one_line_error(
        invoke(*train_args(tmp_path / "no-such-model", wnut_small, output, "--overwrite"))
    )
    sideways = ["--overwrite", "--trainer-arg", "lr_scheduler_type=sideways"]
    one_line_error(invoke(*train_args(tiny_luke, wnut_small, output, *sideways)))
    after = files_of(output)
    assert {k: v for k, v in after.items() if k != MARKER} == {
        k: v for k, v in before.items() if k != MARKER
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "good"]


# 3, 4: an output directory that is or holds an input is refused.
def test_output_dir_equal_to_the_model_is_refused(invoke, tiny_luke, wnut_small, tmp_path):
    model = tmp_path / "m"
    shutil.copytree(tiny_luke, model)
    before = files_of(model)
    one_line_error(
        invoke(*train_args(model, wnut_small, model, "--overwrite")), "holds the input --model"
    )
    assert files_of(model) == before


def test_output_dir_holding_the_training_file_is_refused(
    invoke, tiny_luke, wnut_small, tmp_path
) -> None:
    output = tmp_path / "ckpt2"
    assert invoke(*train_args(tiny_luke, wnut_small, output)).exit_code == 0
    data = output / "train.jsonl"
    shutil.copy(wnut_small, data)
    one_line_error(
        invoke(*train_args(tiny_luke, data, output, "--overwrite")), "holds the input --train"
    )
    assert data.read_bytes() == wnut_small.read_bytes()


# 5, 6: an output path equal to the input (or a link to it) is refused.
@pytest.mark.parametrize("link", [False, True])
def test_predict_output_equal_to_its_input_is_refused(
    invoke, trained_luke, wnut_small, tmp_path, link
):
    gold = tmp_path / "gold.jsonl"
    shutil.copy(wnut_small, gold)
    output = gold
    if link:
        output = tmp_path / "link.jsonl"
        output.symlink_to(gold)
    result = invoke("predict", "--checkpoint", trained_luke, gold, "--output", output)
    one_line_error(result, "input file")
    assert gold.read_bytes() == wnut_small.read_bytes()


@pytest.mark.parametrize(
    ("command", "target"),
    [
        ("predict", "model.safetensors"),
        ("evaluate", "config.json"),
        ("compare", "tokenizer_config.json"),
    ],
)
def test_an_output_inside_the_checkpoint_read_is_refused(
    invoke, trained_luke, wnut_small, tmp_path, command, target
) -> None:
    """The checkpoint is an input: no output may be written over any of its files (a new
    file beside them is fine)."""
    checkpoint = tmp_path / "ck"
    shutil.copytree(trained_luke, checkpoint)
    before = {p.name: p.read_bytes() for p in checkpoint.iterdir() if p.is_file()}
    output = checkpoint / target
    if command == "predict":
        args = ["predict", wnut_small, "--checkpoint", checkpoint, "--output", output]
    elif command == "evaluate":
        args = ["evaluate", "--checkpoint", checkpoint, "--data", wnut_small, "--output", output]
    else:
        args = ["compare", "--data", wnut_small, "--checkpoint", checkpoint, "--markdown", output]
    one_line_error(invoke(*args), "is a file of the input directory")
    assert {p.name: p.read_bytes() for p in checkpoint.iterdir() if p.is_file()} == before
    if command == "evaluate":
        beside = checkpoint / "test-metrics.json"
        assert invoke(*args[:-1], beside).exit_code == 0
        assert json.loads(beside.read_text(encoding="utf-8"))["micro"]["f1"] >= 0


def test_convert_output_equal_to_its_input_is_refused(invoke, tmp_path) -> None:
    source = tmp_path / "same.txt"
    source.write_text(CONLL)
    one_line_error(invoke("convert", source, source), "input file")
    assert source.read_text() == CONLL


# 7: two runs into one directory at once: the second is refused while the first runs.
def test_two_runs_cannot_share_an_output_directory(tiny_luke, wnut_small, tmp_path) -> None:
    output = tmp_path / "shared"
    command = [sys.executable, "-m", "lukener", "train", "--train", str(wnut_small), "--model",
               str(tiny_luke), "--output-dir", str(output), "--epochs", "200"]  # fmt: skip
    log = tmp_path / "first.log"
    with log.open("w") as sink:
        first = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=sink)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (output / MARKER).exists():
            assert first.poll() is None, log.read_text()
            time.sleep(0.05)
        second = subprocess.run(
            [*command, "--overwrite"],
            check=False,
            env=ENV,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert second.returncode == 1
        assert "another lukener run" in second.stderr
        assert "Traceback" not in second.stderr
        assert first.poll() is None  # the first run goes on, its directory untouched
        assert (output / MARKER).exists()
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()


# 8: a checkpoint cut short by a kill is never resumed from; the last complete one is.
def test_resume_skips_a_half_saved_checkpoint(tiny_luke, wnut_small, tmp_path) -> None:
    output = tmp_path / "run"
    command = [sys.executable, "-m", "lukener", "train", "--train", str(wnut_small),
               "--validation", str(wnut_small), "--model", str(tiny_luke), "--output-dir",
               str(output), "--epochs", "2", "--keep-checkpoints"]  # fmt: skip
    done = subprocess.run(
        command, check=False, env=ENV, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    checkpoints = sorted((output / "checkpoints").glob("checkpoint-*"))
    assert checkpoints
    assert all((c / ".lukener-complete").is_file() for c in checkpoints)
    # What a kill -9 during a save leaves: the folder with its config only.
    partial = output / "checkpoints" / "checkpoint-999"
    partial.mkdir()
    shutil.copy(checkpoints[-1] / "config.json", partial / "config.json")
    resumed = subprocess.run(
        [*command, "--resume"], check=False, env=ENV, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Traceback" not in resumed.stderr
    assert not partial.exists()


# 9: a no-break space inside a space-separated word keeps the word whole.
def test_no_break_space_stays_inside_its_word(invoke, tmp_path) -> None:
    source = tmp_path / "nbsp.conll"
    source.write_text("Paid NNP B-NP O\n10\u00a0000 CD I-NP B-MONEY\nyen NN I-NP O\n\n")
    output = tmp_path / "nbsp.jsonl"
    assert invoke("convert", source, output, "--scheme", "iob2").exit_code == 0
    example = json.loads(output.read_text())["examples"][0]
    assert example["text"] == "Paid 10\u00a0000 yen"
    assert example["entities"] == [{"start": 5, "end": 11, "label": "MONEY"}]


# 10: no lukener.json: the fallback to defaults is said.
def test_missing_settings_file_is_said(invoke, trained_luke, wnut_small, tmp_path) -> None:
    checkpoint = tmp_path / "ckpt"
    shutil.copytree(trained_luke, checkpoint)
    settings = json.loads((checkpoint / "lukener.json").read_text())
    (checkpoint / "lukener.json").unlink()
    # A lukener-trained checkpoint also carries its entity ids there; keep them in the config
    # route by using a tokenizer that knows them (the tiny LUKE one does).
    assert settings["encoding"]
    result = invoke("evaluate", "--checkpoint", checkpoint, "--data", wnut_small)
    assert result.exit_code == 0, result.output
    assert "has no lukener.json: encoding with lukener's defaults" in result.stderr


# 11: damaged weights: one line from evaluate and predict; compare runs the good rows.
@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_damaged_weights_are_one_line(invoke, trained_luke, wnut_small, tmp_path, damage) -> None:
    checkpoint = tmp_path / "bad"
    shutil.copytree(trained_luke, checkpoint)
    weights = checkpoint / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(
        {"truncated": data[: len(data) // 2], "empty": b"", "garbage": b"\x00garbage" * 99}[damage]
    )
    one_line_error(
        invoke("evaluate", "--checkpoint", checkpoint, "--data", wnut_small),
        "cannot load the weights",
    )
    one_line_error(
        invoke("predict", "--checkpoint", checkpoint, wnut_small), "cannot load the weights"
    )
    table = tmp_path / "compare.json"
    result = invoke(
        "compare", "--data", wnut_small, "--checkpoint", trained_luke, "--checkpoint",
        checkpoint, "--json", table,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    rows = json.loads(table.read_text())["rows"]
    assert rows[0]["f1"] is not None
    assert rows[0]["error"] is None
    assert rows[1]["f1"] is None
    assert "cannot load the weights" in rows[1]["error"]


# 12: a full disk (a file size limit gives the same write error) ends in one line.
def _limited(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_disk_full_in_convert_is_one_line_and_leaves_nothing(wnut_small, tmp_path) -> None:
    output = tmp_path / "out" / "wnut.conll"
    result = subprocess.run(
        [sys.executable, "-m", "lukener", "convert", str(wnut_small), str(output)],
        check=False, env=ENV, capture_output=True, text=True, timeout=120,
        preexec_fn=_limited(2000),
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {output}: cannot write")
    assert list(output.parent.iterdir()) == []


def test_disk_full_in_train_is_one_line(tiny_luke, wnut_small, tmp_path) -> None:
    output = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "lukener", *train_args(tiny_luke, wnut_small, output)],
        check=False, env=ENV, capture_output=True, text=True, timeout=300,
        preexec_fn=_limited(20_000),
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    # One error line (the Trainer's progress bar may close after it).
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr[-2000:]
    assert "cannot save a checkpoint" in errors[0]


# 13: outputs that cannot be written are refused before any work.
def test_unwritable_outputs_are_refused_first(invoke, wnut_small, tmp_path) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    a_dir = tmp_path / "dir"
    a_dir.mkdir()
    source = tmp_path / "in.conll"
    source.write_text(CONLL)
    missing = tmp_path / "no-such-checkpoint"
    one_line_error(invoke("convert", source, a_dir), "is a directory")
    one_line_error(invoke("convert", source, a_file / "x.jsonl"), "is a file, not a directory")
    # The output is checked before the checkpoint is even looked at.
    one_line_error(
        invoke("predict", "--checkpoint", missing, wnut_small, "--output", a_dir), "is a directory"
    )
    one_line_error(
        invoke("evaluate", "--checkpoint", missing, "--data", wnut_small, "--output", a_dir),
        "is a directory",
    )
    one_line_error(
        invoke("compare", "--data", wnut_small, "--checkpoint", missing, "--json", a_file / "t"),
        "is a file",
    )
    one_line_error(invoke("prepare-data", a_file), "not a directory")
    one_line_error(
        invoke("train", "--train", wnut_small, "--model", missing, "--output-dir", a_file),
        "--output-dir is a file",
    )
    assert a_file.read_text() == "x"


# 14: bad bytes on standard input.
def test_invalid_utf8_on_stdin_is_one_line(trained_luke) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lukener", "predict", "--checkpoint", str(trained_luke), "-"],
        check=False, input=b"Fine line\n\xff\xfe broken\n", env=ENV, capture_output=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("error: standard input:2: undecodable")


# 15: a spec that is not UTF-8, a mistyped lukener.json, a pickle checkpoint.
def test_bad_spec_settings_and_pickle_are_one_line(invoke, trained_luke, wnut_small, tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_bytes(b'[benchmark]\nname = "caf\xe9"\n')
    one_line_error(invoke("compare", spec, "--data", wnut_small), "spec must be UTF-8")

    typed = tmp_path / "typed"
    shutil.copytree(trained_luke, typed)
    settings = json.loads((typed / "lukener.json").read_text())
    settings["encoding"]["max_mention_length"] = "16"
    (typed / "lukener.json").write_text(json.dumps(settings))
    one_line_error(
        invoke("evaluate", "--checkpoint", typed, "--data", wnut_small),
        "lukener.json",
        "max_mention_length must be int",
    )

    pickled = tmp_path / "pickled"
    shutil.copytree(trained_luke, pickled)
    (pickled / "model.safetensors").unlink()
    (pickled / "pytorch_model.bin").write_bytes(pickle.dumps(Exploit()))
    one_line_error(
        invoke("evaluate", "--checkpoint", pickled, "--data", wnut_small),
        "cannot load the weights",
    )
    assert not (tmp_path / "exploited").exists()


class Exploit:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ.get("TMPDIR", "/tmp")) / "lukener-exploited",))


# 11b: a fine-tuned head keeps its rows by label name.
def test_retraining_maps_head_rows_by_label_name(trained_luke) -> None:
    import torch

    from lukener.modeling.loading import load_span_model

    old = load_span_model(str(trained_luke), device="cpu")
    rows = {
        label: old.model.classifier.weight[i].detach().clone() for i, label in old.id2label.items()
    }
    labels = [*sorted(old.labels, reverse=True)[:-1], "brand-new"]
    relabelled = load_span_model(str(trained_luke), labels=labels, device="cpu")
    weight = relabelled.model.classifier.weight.detach()
    for i, label in relabelled.id2label.items():
        if label in rows:
            torch.testing.assert_close(weight[i], rows[label])
    fresh = relabelled.id2label[len(labels)]
    assert fresh == "brand-new"
    assert relabelled.model.config.num_labels == len(labels) + 1
    assert any("new labels start fresh: brand-new" in n for n in relabelled.notes)
    dropped = sorted(set(old.labels) - set(labels))
    assert any(f"dropped: {', '.join(dropped)}" in n for n in relabelled.notes)


# 16: SIGTERM removes the temporary output; temp files of dead runs are cleaned later.
def test_sigterm_during_predict_leaves_no_file(trained_luke, wnut_small, tmp_path) -> None:
    big = tmp_path / "big.jsonl"
    records = [json.loads(line) for line in wnut_small.read_text().splitlines()]
    with big.open("w") as stream:
        for k in range(60):
            for record in records:
                copy = {**record, "id": f"{k}-{record['id']}"}
                copy["examples"] = [{**x, "id": f"{k}-{x['id']}"} for x in record["examples"]]
                stream.write(json.dumps(copy) + "\n")
    output = tmp_path / "out" / "tagged.jsonl"
    output.parent.mkdir()
    with (tmp_path / "log").open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "lukener", "predict", "--checkpoint", str(trained_luke),
             str(big), "--output", str(output)],
            env=ENV, stdout=subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(output.parent.glob(f"*{TEMP_SUFFIX}")):
        assert process.poll() is None, (tmp_path / "log").read_text()
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    assert list(output.parent.iterdir()) == []


def test_stale_temp_files_of_dead_runs_are_removed(invoke, tmp_path) -> None:
    source = tmp_path / "in.conll"
    source.write_text(CONLL)
    output = tmp_path / "out.jsonl"
    stale = tmp_path / f".out.jsonl.{2**22 + 12345}.abcd{TEMP_SUFFIX}"
    stale.write_text("half")
    mine = tmp_path / f".other.jsonl.{2**22 + 12345}.abcd{TEMP_SUFFIX}"
    mine.write_text("not this target's")
    assert invoke("convert", source, output).exit_code == 0
    assert not stale.exists()
    assert mine.exists()


# 17: output files get the usual permissions.
def test_outputs_have_the_usual_permissions(invoke, tmp_path) -> None:
    source = tmp_path / "in.conll"
    source.write_text(CONLL)
    fresh, existing = tmp_path / "fresh.jsonl", tmp_path / "existing.jsonl"
    existing.write_text("old")
    existing.chmod(0o640)
    old_mask = os.umask(0o022)
    try:
        assert invoke("convert", source, fresh).exit_code == 0
        assert invoke("convert", source, existing).exit_code == 0
    finally:
        os.umask(old_mask)
    assert fresh.stat().st_mode & 0o777 == 0o644
    assert existing.stat().st_mode & 0o777 == 0o640


# 18: convert streams: documents come out before the end of the file is read.
def test_conll_is_read_as_a_stream(tmp_path) -> None:
    from lukener.data.convert import iter_conll_as_documents
    from lukener.data.reading_options import ReadingOptions
    from lukener.errors import LukenerError

    source = tmp_path / "stream.conll"
    source.write_text(CONLL + CONLL + "bad-row-without-tag\n")
    documents = iter_conll_as_documents(source, ReadingOptions(scheme="iob1"))
    first = next(documents)
    assert [e.label for e in first.examples[0].entities] == ["ORG", "MISC"]
    with pytest.raises(LukenerError, match=":13: row 'bad-row-without-tag' has no tag"):
        list(documents)


# 19: a bogus mask mode, unknown spec keys, convert on standard streams, duplicated gold.
def test_small_cases(invoke, runner, wnut_small, trained_luke, tmp_path) -> None:
    from lukener.cli.app import app

    one_line_error(
        invoke("compare", "--data", wnut_small, "--checkpoint", f"{trained_luke}:bogus"),
        "'bogus' after ':' is not a mask mode",
    )
    spec = tmp_path / "spec.toml"
    spec.write_text('[benchmark]\nname = "x"\ndatta = "typo"\n[[rows]]\nname = "r"\n')
    one_line_error(invoke("compare", spec, "--data", wnut_small), "unknown keys datta")

    converted = runner.invoke(app, ["convert", "-", "-"], input=CONLL)
    assert converted.exit_code == 0, converted.output
    record = json.loads(converted.stdout.strip().splitlines()[0])
    assert record["id"] == "stdin-0"
    assert not (Path.cwd() / "-").exists()

    doubled = tmp_path / "doubled.jsonl"
    records = [json.loads(line) for line in wnut_small.read_text().splitlines()]
    target = next(r for r in records if r["examples"][0]["entities"])
    target["examples"][0]["entities"].append(target["examples"][0]["entities"][0])
    doubled.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = invoke("evaluate", "--checkpoint", trained_luke, "--data", doubled)
    assert result.exit_code == 0, result.output
    assert "1 gold entities are listed twice" in result.stderr
