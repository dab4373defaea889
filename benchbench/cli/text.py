"""A run's result as the lines ``benchbench run-one`` prints, conditions of its timings
included; ``verify``'s table."""

from __future__ import annotations

from typing import Any


def describe_result(result: Any) -> str:
    """What run-one prints: the status, and what an ended run measured, one line each."""
    head = f"run {result.run_id}: {result.status}" + (f" ({result.error})" if result.error else "")
    if result.status != "ok" and not result.curve:
        return head
    ttt = (
        "never"
        if result.time_to_target_s is None
        else (f"{result.time_to_target_s:.2f} s ({result.time_to_target_steps} steps)")
    )
    loader = result.loader
    lines = [
        (
            "test accuracy",
            f"{result.test_accuracy:.4f}" if result.test_accuracy is not None else "-",
        ),
        ("best val accuracy", f"{result.best_val_accuracy:.4f}"),
        ("time to target", ttt),
        ("train / eval seconds", f"{result.train_seconds:.2f} / {result.eval_seconds:.2f}"),
        (
            "steps / epochs / samples",
            f"{result.steps} / {result.epochs:.2f} / {result.samples_seen}",
        ),
        ("samples/s", f"{result.samples_per_s:,.0f}" if result.samples_per_s else "-"),
        ("parameters", f"{result.params:,}"),
        (
            "data path",
            f"{loader['data_path']}, {loader['workers']} workers"
            + (", pinned" if loader["pin_memory"] else ""),
        ),
        (
            "loader / compute alone",
            " / ".join(
                "-" if v is None else f"{v:,.0f} samples/s"
                for v in (loader["loader_samples_per_s"], loader["compute_samples_per_s"])
            ),
        ),
        ("data wait", f"{loader['data_wait_fraction']:.1%}: {loader['recommendation']}"),
        ("machine", conditions(result.machine)),
    ]
    width = max(len(k) for k, _ in lines)
    return "\n".join([head, *(f"  {key:<{width}}  {value}" for key, value in lines)])


def conditions(machine: dict[str, Any]) -> str:
    """Cores, threads and what else ran: the conditions of a run's timings, in words."""
    if not machine:
        return "-"
    threads = machine["threads"]
    text = f"{threads} thread{'s' * (threads != 1)} on {machine['cores']} cores"
    others = machine.get("other_cores_busy")
    if others is not None:
        text += f"; other processes used {others:.2f} cores"
    if (machine.get("steal") or 0) >= 0.005:
        text += f", {machine['steal']:.0%} stolen"
    if machine.get("busy"):
        text += ": BUSY, timings are not comparable (run again on a quiet machine)"
    return text


def verify_table(rows: Any) -> str:
    """``verify``'s rows as a table: each run, its verdict, its accuracy before and after,
    its training seconds before and after (shown, not judged) and what differs."""
    from tabulate import tabulate

    def number(value: Any, spec: str) -> str:
        return "-" if value is None or value != value else format(value, spec)

    table = [
        [
            row["run_id"],
            row["run"],
            row["numerics"],
            row["verdict"],
            f"{number(row['test_accuracy'], '.4f')} / {number(row['rerun_test_accuracy'], '.4f')}",
            f"{number(row['train_seconds'], '.2f')} / {number(row['rerun_train_seconds'], '.2f')}",
            row["detail"] or "",
        ]
        for row in rows.to_dict("records")
    ]
    headers = ["run", "spec", "numerics", "verdict", "test acc (set / here)", "train s", "detail"]
    return tabulate(table, headers, tablefmt="simple", maxcolwidths=[None] * 6 + [60])
