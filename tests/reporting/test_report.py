"""`benchbench report`: real reports from a real (tiny) suite, escaped, in a real browser."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchbench.cli import cli

EVIL = "<script>alert(1)</script>"
SUITE = f"""
seeds = 2
budget = {{ steps = 6, eval_every = 2 }}

[[tracks]]
name = "regs"
kind = "regularizer"
candidates = ["none", "label-smoothing", {{ name = "label-smoothing", label = "{EVIL}", hparams = {{ "label-smoothing.alpha" = 0.3 }} }}]
tasks = ["blobs", "digits"]
fixed = {{ arch = "mlp" }}

[[tracks]]
name = "archs"
kind = "arch"
candidates = ["mlp", "cnn"]
tasks = ["digits"]
"""


def invoke(*args):
    return CliRunner().invoke(cli, ["-p", "bb_test_plugin", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    (folder / "mine.toml").write_text(SUITE)
    ran = invoke("run", str(folder / "mine.toml"), "--out", str(folder / "out"), "--device", "cpu")
    assert ran.exit_code == 0, ran.output
    return folder


def test_html_report_has_every_section_figures_inline_and_escapes(results):
    to = results / "mine.html"
    made = invoke("report", "mine", "--out", str(results / "out"), "--to", str(to))
    assert made.exit_code == 0, made.output
    page = to.read_text()
    titles = re.findall(r"<h2>(.*?)</h2>", page)
    assert titles == [
        "mine / archs", "mine / regs", "mine / regs: across tasks", "Provenance",
    ]  # fmt: skip
    # forest, curves in seconds and steps, pareto (archs varies the architecture), loader;
    # regs: the same without pareto, then the CD diagram and the profiles across its 2 tasks
    assert page.count("<figure>") == 5 + 4 + 2 and page.count("<svg") == 11
    assert not re.search(r"(src|href)=\"https?:|url\((?!#)|@import", page)  # nothing to fetch
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # in tables and in the SVG text
    assert "Friedman" in page and "not separable" in page
    assert "benchbench 0.1.0" in page and "torch" in page  # the provenance stamp


def test_markdown_report_writes_png_files_beside_it(results):
    to = results / "md" / "mine.md"
    made = invoke("report", "--out", str(results / "out"), "--format", "markdown", "--to", str(to))
    assert made.exit_code == 0, made.output
    text = to.read_text()
    pictures = re.findall(r"!\[[^\]]*\]\((mine_files/figure-\d+\.png)\)", text)
    assert len(pictures) == 11
    assert all((to.parent / p).stat().st_size > 5000 for p in pictures)
    assert "<script" not in text and "&lt;script&gt;" in text
    assert "| rank | candidate |" in text


def test_compare_and_against(results, tmp_path):
    out = str(results / "out")
    made = invoke("report", "--out", out, "--compare", "label-smoothing", "none", "--track",
                  "regs", "--to", str(tmp_path / "c.html"))  # fmt: skip
    assert made.exit_code == 0, made.output
    page = (tmp_path / "c.html").read_text()
    rows = re.findall(r"<tr><td>(blobs|digits)</td><td>2</td>", page)
    assert rows == ["blobs", "digits"]  # both tasks, two paired seeds each
    assert page.count("A better") + page.count("B better") + page.count("not separable") >= 2
    exported = tmp_path / "mine.jsonl"
    assert invoke("export", "--to", str(exported), "--out", out).exit_code == 0
    made = invoke(
        "report", "--out", out, "--against", str(exported), "--to", str(tmp_path / "a.html")
    )
    assert made.exit_code == 0, made.output
    page = (tmp_path / "a.html").read_text()
    # the same result set on both sides: every difference is zero and none beyond noise
    rows = re.findall(r"<td>\+0\.00 ± [\d.]+</td><td>no</td><td>1\.00x</td>", page)
    assert len(rows) == 8 and ">yes<" not in page  # 2 archs + 3 regs x 2 tasks
    bad = invoke("report", "--out", out, "--compare", "label-smoothing", "nothing-like-it")
    assert bad.exit_code == 0  # no shared task: the report says so rather than failing
    missing = invoke("report", "other", "--out", out)
    assert missing.exit_code == 2 and "no suite 'other'" in missing.output


@pytest.mark.e2e  # a flow across several commands, each with its worker processes: with the end-to-end ones
def test_a_tuned_suite_shows_its_tuning_curves_and_columns(results):
    suite = results / "tiny.toml"
    suite.write_text(
        "seeds = 2\nbudget = { steps = 6, eval_every = 2 }\n[tuning]\ntrials = 2\n"
        '[[tracks]]\nname = "regs"\nkind = "regularizer"\ncandidates = ["none", "mixup"]\n'
        'tasks = ["blobs"]\nfixed = { arch = "mlp" }\n'
    )
    out = str(results / "tuned")
    assert invoke("tune", str(suite), "--out", out).exit_code == 0
    assert invoke("run", str(suite), "--tuned", "--out", out).exit_code == 0
    to = results / "tuned.html"
    assert invoke("report", "tiny-tuned", "--out", out, "--to", str(to)).exit_code == 0
    page = to.read_text()
    assert "best validation accuracy found so far against trial number" in page
    assert page.count("<figure>") == 4 + 1  # forest, curves x2, loader; the tuning curves
    assert "<th>tuning trials (pruned), s</th><th>val spread pp</th>" in page
    assert re.search(r"<td>2 \(0\), \d+</td>", page)  # two trials, none pruned


CHECK = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(String(e.message || e.target.src)), true);
window.addEventListener("load", () => {
  const sizes = [...document.querySelectorAll("figure svg")].map(s => {
    const box = s.getBoundingClientRect();
    return [box.width, box.height];
  });
  document.body.setAttribute("data-check", JSON.stringify({sizes, errors: window.__errors}));
});
</script>"""


@pytest.mark.e2e
def test_the_report_renders_in_a_real_browser(results, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium here (.ci/chromium installs Debian's)")
    to = results / "browser.html"
    assert invoke("report", "--out", str(results / "out"), "--to", str(to)).exit_code == 0
    checked = tmp_path / "checked.html"
    checked.write_text(to.read_text().replace("<head>", "<head>" + CHECK, 1))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run(
        [browser, *flags, "--virtual-time-budget=5000", "--dump-dom", checked.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.search(r'data-check="([^"]*)"', dom.stdout)
    assert found, dom.stderr[-2000:]
    check = json.loads(found.group(1).replace("&quot;", '"'))
    assert len(check["sizes"]) == 11 and all(w > 100 and h > 100 for w, h in check["sizes"])
    assert check["errors"] == []
    assert "Uncaught" not in dom.stderr and ":CONSOLE" not in dom.stderr
    assert "$\\" not in dom.stdout and "mathdefault" not in dom.stdout  # raw mathtext ticks
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, *flags, "--hide-scrollbars", "--window-size=1400,3000", f"--screenshot={shot}",
         to.as_uri()], capture_output=True, timeout=120,
    )  # fmt: skip
    assert shot.stat().st_size > 50_000  # a page with figures, not a blank one


def test_log_axes_label_their_ticks_as_plain_numbers_not_raw_mathtext(results, tmp_path):
    """The accuracy-against-latency and -size figures: names stay literal, so the axes must
    not produce mathtext (``$\\mathdefault{10^{-1}}$`` was printed as is)."""
    to = tmp_path / "ticks.html"
    assert invoke("report", "--out", str(results / "out"), "--to", str(to)).exit_code == 0
    page = to.read_text()
    assert "mathdefault" not in page and "$\\" not in page
    assert page.count("<svg") >= 5


def test_a_gpu_tracks_tables_show_peak_memory_beside_size_and_latency():
    import sys

    import pandas as pd

    from benchbench.ranking import rank
    from benchbench.reporting import track_sections
    from benchbench.reporting.data import TrackReport

    sys.path.insert(0, str(Path(__file__).parents[1] / "ranking"))  # its rows helper
    from test_leaderboard import rows

    data = rows("none", [0.7, 0.8, 0.9], baseline=True)
    for row in data:
        row.update(device="cuda", peak_memory_mb=250.0, model_bytes=2e6, latency_batch1_ms=1.5)
    board = rank.build(pd.DataFrame(data))
    report = TrackReport("s", "t", ["digits"], board, pd.DataFrame(), {}, False)
    table = track_sections(report)[0].tables[0]
    shown = dict(zip(table.header, table.rows[0], strict=True))
    assert shown["peak MB"] == "250" and shown["size MB"] == "2.00"
    cpu = TrackReport(
        "s",
        "t",
        ["digits"],
        rank.build(pd.DataFrame(rows("none", [0.7]))),
        pd.DataFrame(),
        {},
        False,
    )
    assert "peak MB" not in track_sections(cpu)[0].tables[0].header
