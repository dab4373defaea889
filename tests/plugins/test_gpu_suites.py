"""The GPU suites, run where CI runs: on the CPU, on small fake CIFAR-10 files in the real
format, with their budgets cut to two steps and one seed (the labeled subsets to what the
fakes hold). Every run of every track must end ok. (In cifar10-gpu, resnet-small with
augment is one run of both the architectures and the regularizer track.)"""

import re
from pathlib import Path

import pytest

import benchbench as bb

SUITES = Path(__file__).parents[2] / "plugins" / "benchbench_suites"


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("name", "runs"), [("cifar10-gpu", 4 + 11 + 3 * 5 - 1), ("cifar10-speed", 3)]
)
def test_the_gpu_suites_run_every_track_on_fake_cifar_files(name, runs, tmp_path, data_dir):
    text = (SUITES / f"{name}.toml").read_text()
    text = re.sub(r"budget = \{[^}]*\}", "budget = { steps = 2 }", text)
    text = re.sub(r"^seeds = \d+", "seeds = 1", text, flags=re.MULTILINE)
    text = text.replace('"max-autotune"', '"default"')  # autotuning on a CPU: minutes, no news
    for protocol, fake in (("4", "2"), ("25", "3"), ("400", "4")):  # the fakes: 10 per class
        text = text.replace(f'labels_per_class" = {protocol} ', f'labels_per_class" = {fake} ')
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    outcome = bb.run(
        str(path), out=tmp_path / "out", device="cpu", data_dir=data_dir, progress=False
    )
    results = bb.results(storage=outcome.store_url)
    failed = results[results.status != "ok"]
    assert failed.empty, failed[["task", "arch", "regularizer", "ssl", "error"]].to_string()
    assert len(results) == runs
    assert set(results.hparams.map(lambda h: h["precision"])) == {"bf16"}
