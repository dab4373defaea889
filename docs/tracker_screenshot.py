"""The screenshot in docs/guide/tracking.md: the quick suite (one seed) logged to
TensorBoard, TensorBoard's scalars page rendered by headless Chromium.

Run: ``python docs/tracker_screenshot.py [--browser chromium]`` (needs
``benchbench[tensorboard]`` and a Chromium; everything stays on the loopback address). Writes
``docs/_static/tensorboard-quick.png``.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--browser", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--to", type=Path, default=HERE / "_static" / "tensorboard-quick.png")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    logs = work / "tb"
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [
            str(bin_dir / "benchbench"),
            "run",
            "quick",
            "--seeds",
            "1",
            "--out",
            str(work / "out"),
            "--log",
            f"tensorboard:{logs}",
        ],
        check=True,
    )
    port = free_port()
    board = subprocess.Popen(
        [
            str(bin_dir / "tensorboard"),
            "--logdir",
            str(logs),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        args.to.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                args.browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=1400,900",
                "--virtual-time-budget=20000",
                f"--screenshot={args.to}",
                f"{url}/#timeseries",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )
        print(f"wrote {args.to}")
    finally:
        board.terminate()
        board.wait(10)


if __name__ == "__main__":
    main()
