"""The Ray executor's parts that need no cluster: refusals in one line, what each run asks
for. On a real two-node cluster: test_ray.py (end to end)."""

import pytest

from benchbench.executors.base import Placement


def test_a_cluster_nobody_listens_at_is_one_line_at_once(tmp_path):
    import socket

    from click.testing import CliRunner

    from benchbench.cli import cli

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    runner = CliRunner()
    out = ["--out", str(tmp_path)]
    cases = [
        (["--executor", "ray", "--address", f"127.0.0.1:{port}"], "cannot reach the Ray cluster"),
        (["--executor", "ray", "--address", "head-without-port"], "give the Ray head as HOST:PORT"),
        (
            ["--address", f"127.0.0.1:{port}"],
            "--address is an option of the ray executor: add --executor ray",
        ),
    ]
    for args, message in cases:
        result = runner.invoke(cli, ["run", "quick", *args, *out])
        assert result.exit_code == 2 and message in result.stderr, result.output
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "benchbench.db").exists()  # refused before anything was created


def test_without_ray_installed_the_executor_says_how_to_get_it(monkeypatch):
    import sys

    from benchbench_executors.ray import RayExecutor

    from benchbench.errors import BenchbenchError

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(BenchbenchError, match=r"pip install 'benchbench\[ray\]'"):
        RayExecutor(Placement()).use_device("cpu")


def test_ray_fits_as_many_runs_as_the_gpu_shares_allow(monkeypatch):
    """On a cluster of 3 GPUs, runs of half a GPU each are 6 in flight, whole ones 3; each
    task asks Ray for its share."""
    from benchbench_executors.ray import RayExecutor

    class Cluster:
        def cluster_resources(self):
            return {"CPU": 32.0, "GPU": 3.0}

        def nodes(self):
            return [{"NodeID": "a", "Alive": True, "Resources": {"CPU": 32.0, "GPU": 3.0}}]

    for share, fits in ((1.0, 3), (0.5, 6), (0.3, 10)):
        ray = RayExecutor(Placement(gpus_per_run=share))
        monkeypatch.setattr(ray, "_start", Cluster)
        assert ray.use_device("cuda") == "cuda"
        assert ray.gpus == share and ray._cluster().runs == fits
