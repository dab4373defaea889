"""How much the benchbench harness adds to a plain PyTorch training loop.

The same model (the registry's ``cnn`` or ``mlp``), the same data (the task's train split, on the
device), the same batch size, optimizer and number of steps, trained

1. by a plain, hand-written PyTorch loop (randperm per epoch, cross-entropy, AdamW, cosine LR);
2. by :func:`benchbench.execution.execute.execute` (what ``benchbench run-one`` calls), eval
   points off the clock, budget checks, data-wait timing, soft-target loss, lifecycle hooks.

The two alternate, repeatedly; this 2-core machine is noisy (the same loop varies by 30%
between repeats), so both the fastest and the median repeat are reported. The ratio of
training seconds is the harness overhead (goal: under 1.05).

Run: ``python bench/harness_overhead.py [--task mnist1d --arch cnn]``.
"""

from __future__ import annotations

from benchbench.host import numerics

numerics.select(numerics.current())  # before torch loads: CPU runs check the mode they ran in

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from smoke import parse  # noqa: E402

from benchbench import Budget  # noqa: E402
from benchbench.execution.execute import execute  # noqa: E402
from benchbench.planning.resolve import build_components, resolve_spec  # noqa: E402
from benchbench.plugins import get_plugin_manager  # noqa: E402
from benchbench.tasks import default_data_dir  # noqa: E402


def plain_loop(model, x, y, steps: int, batch_size: int, lr: float, wd: float, seed: int) -> float:
    """Train ``model`` for ``steps`` steps the way a hand-written script would; seconds."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0)))
    )
    generator = torch.Generator().manual_seed(seed)
    per_epoch = len(x) // batch_size
    model.train()
    started = time.perf_counter()
    step = 0
    while step < steps:
        order = torch.randperm(len(x), generator=generator)
        for i in range(per_epoch):
            if step == steps:
                break
            index = order[i * batch_size : (i + 1) * batch_size]
            loss = F.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mnist1d")
    parser.add_argument("--arch", default="cnn")
    parser.add_argument("--epochs", type=float, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parse(parser, epochs=0.2, repeats=1)

    pm = get_plugin_manager()
    registry = pm.registry
    spec = resolve_spec(
        registry, task=args.task, arch=args.arch, budget=Budget(epochs=args.epochs), device="cpu"
    )
    hp = spec.loop_hparams()
    parts = build_components(registry, spec)
    splits = parts.task.load(default_data_dir())
    warm = execute(spec, pm)  # warm-up: data cache, allocator, first-call costs
    if warm.status != "ok":  # a run that failed measures nothing: say why, do not divide by 0
        raise SystemExit(f"the run did not end ok: {warm.status}: {warm.error}")

    harness, plain, wall = [], [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        result = execute(spec, pm)
        wall.append(time.perf_counter() - started)
        harness.append(result.train_seconds)
        torch.manual_seed(spec.seed)
        model = build_components(registry, spec).arch.build(
            parts.task.input_shape, parts.task.num_classes
        )
        plain.append(
            plain_loop(
                model,
                splits.train.x,
                splits.train.y,
                result.steps,
                int(hp["batch_size"]),
                hp["lr"],
                parts.regularizer.weight_decay(),  # 'none': no weight decay at all
                spec.seed,
            )
        )

    print(
        f"{args.task} / {args.arch}: {result.steps} steps of batch {hp['batch_size']}, "
        f"{torch.get_num_threads()} threads, {args.repeats} repeats (fastest | median)"
    )
    for label, times in (
        ("plain PyTorch loop", plain),
        ("benchbench training clock", harness),
        ("benchbench whole run", wall),
    ):
        fast, mid = min(times), statistics.median(times)
        ratios = f"ratio {fast / min(plain):.3f} | {mid / statistics.median(plain):.3f}"
        print(f"  {label:<26}{fast:7.3f} | {mid:7.3f} s   {ratios}")
    print(
        f"  (the whole run adds {len(result.curve)} eval points and the test pass, off the clock)"
    )


if __name__ == "__main__":
    main()
