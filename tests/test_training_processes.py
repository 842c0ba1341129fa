"""Training as real processes: resuming after kill -9, and two processes under torchrun."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "OMP_NUM_THREADS": "1"}


def train_args(model: Path, data: Path, output: Path, epochs: int) -> list[str]:
    return [
        "train", "--train", str(data), "--validation", str(data), "--model", str(model),
        "--output-dir", str(output), "--epochs", str(epochs), "--learning-rate", "5e-3",
    ]  # fmt: skip


def steps_of(output: str) -> int:
    match = re.search(r"(\d+) steps in", output)
    assert match, output
    return int(match.group(1))


def test_killed_run_resumes_from_its_last_checkpoint(tiny_luke, wnut_small, tmp_path) -> None:
    output = tmp_path / "run"
    command = [sys.executable, "-m", "lukener", *train_args(tiny_luke, wnut_small, output, 30)]
    process = subprocess.Popen(
        command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    checkpoints = output / "checkpoints"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        # A checkpoint counts once it is marked complete (a kill before that leaves one
        # that --resume rightly refuses).
        if list(checkpoints.glob("checkpoint-*/.lukener-complete")):
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "training ended before it could be killed"
    saved = sorted(
        int(p.parent.name.split("-")[1]) for p in checkpoints.glob("checkpoint-*/.lukener-complete")
    )
    assert saved, "no checkpoint was saved before the kill"
    assert not (output / "metrics.json").exists()

    resumed = subprocess.run(
        [*command, "--resume"], check=False, env=ENV, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    per_epoch = saved[0] if len(saved) == 1 else saved[1] - saved[0]
    assert steps_of(resumed.stderr + resumed.stdout) == 30 * per_epoch
    assert (output / "metrics.json").exists()


def test_resume_without_checkpoint_is_a_clear_error(
    invoke, tiny_luke, wnut_small, tmp_path
) -> None:
    result = invoke(*train_args(tiny_luke, wnut_small, tmp_path / "fresh", 1), "--resume")
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("--resume: no saved checkpoint to resume from")


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun is not installed")
def test_two_processes_under_torchrun_split_the_steps(tiny_luke, wnut_small, tmp_path) -> None:
    single = subprocess.run(
        [sys.executable, "-m", "lukener", *train_args(tiny_luke, wnut_small, tmp_path / "one", 2)],
        check=False, env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr[-2000:]
    double = subprocess.run(
        [
            "torchrun", "--nproc_per_node", "2", "--master_port", "29531", "-m", "lukener",
            *train_args(tiny_luke, wnut_small, tmp_path / "two", 2),
        ],
        check=False, env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert double.returncode == 0, double.stderr[-3000:]
    one, two = steps_of(single.stderr + single.stdout), steps_of(double.stderr + double.stdout)
    assert two < one <= 2 * two  # each process takes half of every epoch's batches
    assert (tmp_path / "two" / "model.safetensors").exists()
    # The validation set is split between the processes and gathered: the scores cover every
    # gold entity, as in the single process.
    one_counts = json.loads((tmp_path / "one" / "metrics.json").read_text())["counts"]
    two_counts = json.loads((tmp_path / "two" / "metrics.json").read_text())["counts"]
    assert two_counts["gold"] == one_counts["gold"] > 0
    # Only the main process reports.
    assert (double.stderr + double.stdout).count("steps in") == 1
