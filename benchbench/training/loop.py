"""The one training loop every run goes through.

A run has up to two phases on one budget clock: self-supervised pretraining (when its ssl
method pretrains) and training (the regularizer, the joint unlabeled loss, the finetune
strategy's parameter groups and schedule), or a closed-form fit instead of training. Both
phases step the same way (``_Loop._steps``): the next batch (timed as data wait), the
learning rate of the schedule, the loss, the optimizer step, the clock, the divergence
check; the clock ends a phase when its limit is reached. Eval points, time-to-target and
the result are recorded apart (:mod:`.recording`).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F

from ..budget import BudgetClock
from ..components import (
    SSL,
    Architecture,
    Finetune,
    Model,
    Regularizer,
    RunContext,
    default_loss,
    set_trainable,
)
from ..data.streams import DeviceStream, batches, make_stream, materialize
from ..errors import BenchbenchWarning
from ..optimizers import Optimizer
from ..plugins.observers import notify
from ..spec import RunResult, RunSpec
from ..tasks import Splits, Task
from .divergence import Divergence
from .metrics import EVAL_BATCH
from .profiling import DataWait, LoaderProfile, measure_loader
from .recording import Recorder
from .sample import sampler
from .settings import (
    LOOP_DEFAULTS,
    apply_backends,
    autocast,
    derived_seed,
    lr_factor,
)
from .stepping import closure, named_groups, warmed
from .views import evaluated


@dataclass
class RunComponents:
    """The built components of one run."""

    task: Task
    arch: Architecture
    regularizer: Regularizer
    ssl: SSL
    finetune: Finetune
    optimizer: Optimizer


def _channels_last(_module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A forward pre-hook: a batch of images enters the encoder in channels-last format,
    whatever the regularizer's augmentation did to its layout (as a hand-written loop
    converts after augmenting)."""
    x, *rest = args
    if isinstance(x, torch.Tensor) and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return (x, *rest)


def _pretraining_inputs(splits: Splits) -> torch.Tensor:
    """What self-supervised pretraining sees: every training input, without its label (the
    labeled inputs and the unlabeled split)."""
    parts = [splits.train.x] if splits.unlabeled is None else [splits.train.x, splits.unlabeled]
    return torch.cat(parts)


class _Loop:
    """One run's state: model, streams, clock and recorder; :meth:`run` trains it."""

    def __init__(
        self,
        spec: RunSpec,
        parts: RunComponents,
        splits: Splits,
        device: torch.device,
        hook: Any,
        on_eval: Callable[[dict[str, Any]], None] | None,
        initial_encoder: Mapping[str, torch.Tensor] | None = None,
        score_test: bool = True,
    ) -> None:
        self.spec, self.parts, self.device, self.hook = spec, parts, device, hook
        # a spec from before a setting existed trains with its default: as the loop did then
        self.hp = hp = {**LOOP_DEFAULTS, **spec.loop_hparams()}
        self.backends = apply_backends(hp, device)
        task = parts.task
        self.model = parts.arch.build(task.input_shape, task.num_classes).to(device).train()
        if initial_encoder is not None and parts.finetune.uses_pretrained:
            self.model.encoder.load_state_dict(initial_encoder)
        if hp["channels_last"]:
            self.model = self.model.to(memory_format=torch.channels_last)
            self.model.encoder.register_forward_pre_hook(_channels_last)
        # what is evaluated and deployed: the model, or its test-time views
        self.evaluated = evaluated(self.model, int(hp["tta"]), task.flips)
        if hp["compile"] != "none":  # in place: components keep calling the same module
            # every run compiles afresh (its time counted, as AlgoPerf counts it): guards on
            # earlier runs' modules would otherwise pile up to dynamo's recompile limit, past
            # which it silently runs eager
            torch._dynamo.reset()
            self.model.compile(mode=None if hp["compile"] == "default" else hp["compile"])
        self.autocast = lambda: autocast(hp, device)
        self.scaler = torch.amp.GradScaler(device.type) if hp["precision"] == "fp16" else None
        self.compile_seconds: float | None = None
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        self.decode = splits.decode
        self.generator = torch.Generator(device=device).manual_seed(derived_seed(spec.seed, 1))
        draw = sampler(splits.train, splits.decode, self.generator, device)
        self.context = RunContext(self.model, task, self.generator, device, draw)
        if initial_encoder is None or not parts.finetune.uses_pretrained:  # a fresh network
            parts.arch.prepare(self.model, self.context)
        parts.ssl.prepare(self.context)
        self.sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        started = time.perf_counter()
        self.data = make_stream(
            splits.train,
            path=hp["data_path"],
            batch_size=int(hp["batch_size"]),
            seed=derived_seed(spec.seed, 0),
            device=device,
            workers=int(hp["workers"]),
            pin_memory=hp["pin_memory"],
            prefetch_factor=int(hp["prefetch_factor"]),
            decode=self.decode,
        )
        if self.data.stream.batch_size < int(hp["batch_size"]):
            warnings.warn(
                f"batch_size {int(hp['batch_size'])} is larger than the task's "
                f"{self.data.stream.batch_size} training examples: every step uses all of them",
                BenchbenchWarning,
                stacklevel=2,
            )
        self.splits = splits
        self.unlabeled = (
            self._unlabeled_stream(splits.unlabeled, 2) if parts.ssl.uses_unlabeled else None
        )
        self.pretraining = (
            self._unlabeled_stream(_pretraining_inputs(splits), 3)
            if parts.ssl.uses_pretraining
            else None
        )
        val = materialize(splits.val, int(hp["workers"]))
        self.test = materialize(splits.test, int(hp["workers"])) if score_test else None
        self.prepare_seconds = time.perf_counter() - started
        self.clock = BudgetClock(spec.budget, self.data.stream.steps_per_epoch, self.sync)
        self.recorder = Recorder(
            spec, task.target_accuracy, val, device, hook, on_eval, self.decode
        )
        self.data_wait = DataWait(device)
        self.pretrain = {"steps": 0, "seconds": 0.0, "loss": None}
        self.divergence: str | None = None
        self.blamed: str | None = None
        self.last_loss: torch.Tensor | None = None

    def _unlabeled_stream(self, x_u: torch.Tensor | None, purpose: int) -> DeviceStream:
        """Unlabeled batches (with dummy labels) of ``ratio`` x the labeled batch size, on
        the device, in an order of their own (``purpose`` keeps it apart from the others)."""
        ssl, task, device = self.parts.ssl, self.parts.task, self.device
        if x_u is None:
            raise ValueError(
                f"ssl {ssl.name!r} trains on unlabeled data, but task {task.name!r} "
                "has none (use a semi-supervised task)"
            )
        x_u = x_u.to(device)  # 8-bit pixels stay 8-bit: decoded per batch
        return DeviceStream(
            x_u,
            torch.zeros(len(x_u), dtype=torch.long, device=device),
            ssl.unlabeled_batch_size(int(self.hp["batch_size"])),
            torch.Generator(device=device).manual_seed(derived_seed(self.spec.seed, purpose)),
            self.decode,
        )

    def run(self) -> RunResult:
        try:
            return self._run()
        finally:
            self.data.stream.close()

    def _run(self) -> RunResult:
        if self.hook is not None:
            notify(self.hook.benchbench_run_started, spec=self.spec, model=self.model)
        status = "ok"
        if self.pretraining is not None:
            status = self._pretrain()
        batches_ = iter(self.data.stream)
        if status == "ok":
            status = self._fit() if self.parts.finetune.fits else self._train(batches_)
        self.clock.pause()
        return self._result(status, batches_)

    def _steps(
        self,
        optimizer: torch.optim.Optimizer,
        batches_: Iterator[Any],
        progress: Callable[[], float],
        factor: Callable[[float], float],
        loss_of: Callable[[Any, float], tuple[torch.Tensor, int]],
        finished: Callable[[], bool],
        check_now: Callable[[], bool],
        at_check: Callable[[], None] = lambda: None,
    ) -> tuple[str | None, torch.Tensor | None]:
        """The step both phases take until ``finished()``: the next batch (timed as data
        wait); each parameter group's learning rate at ``factor(progress())``; the loss
        ``loss_of(batch, progress)`` and how many samples it saw; the optimizer step; the
        clock. After each step ``check_now()`` says whether to look for divergence now (it
        may also step the components' schedules), and ``at_check()`` runs when it did.
        Returns why the loss diverged (or None) and the last loss."""
        clock, loss = self.clock, None
        base_lrs = [group["lr"] for group in optimizer.param_groups]
        two_pass = self.parts.optimizer.takes_closure()
        diverged = Divergence(self.device)
        clock.start()
        while not finished():
            batch = self.data_wait(lambda: next(batches_))
            now = progress()
            for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = base * factor(now)
            self.parts.optimizer.on_step(now)
            first = self.hp["compile"] != "none" and self.compile_seconds is None
            started = time.perf_counter() if first else 0.0
            drawn = self.generator.get_state() if two_pass else None
            with self.autocast():
                loss, samples = loss_of(batch, now)
            if self.device.type == "cpu" and not self.blamed and not loss.isfinite():
                self._blame_weights()
            optimizer.zero_grad(set_to_none=True)
            if two_pass:
                loss.backward()
                again = partial(loss_of, batch, now)
                optimizer.step(
                    closure(optimizer, again, self.model, self.generator, drawn, self.autocast)
                )
            elif self.scaler is None:
                loss.backward()
                optimizer.step()
            else:  # fp16: the loss scaled up so small gradients survive, steps with inf skipped
                self.scaler.scale(loss).backward()
                self.scaler.step(optimizer)
                self.scaler.update()
            if first:  # the first call compiles: its time, apart (it stays on the clock)
                self.sync()
                self.compile_seconds = time.perf_counter() - started
            clock.tick(samples)
            check = check_now()
            reason = diverged(loss, check=check)
            if reason:
                return reason, loss
            if check:
                self.last_loss = loss
                at_check()
        return None, loss

    def _blame_weights(self) -> None:
        """The first non-finite loss (on the CPU, where every loss is looked at): when the
        weights it was computed with are non-finite, the optimizer's last step made them so
        from a finite loss, and the run's divergence is the optimizer's."""
        if not all(bool(p.isfinite().all()) for p in self.model.parameters()):
            self.blamed = f"optimizer {self.parts.optimizer.name}"

    def _pretrain(self) -> str:
        """The self-supervised phase: the first ``share`` of the budget trains the encoder and
        the method's modules on unlabeled batches, one learning-rate schedule per stage."""
        ssl, clock, hp, model = self.parts.ssl, self.clock, self.hp, self.model
        modules = ssl.pretrain_modules().to(self.device).train()
        params = [*model.encoder.parameters(), *modules.parameters()]
        groups = named_groups(
            [{"params": params, "lr": hp["lr"]}], ("", model), ("pretrain.", modules)
        )
        optimizer = self.parts.optimizer.make(groups, 0.0)
        end, stages = ssl.pretrain_share(), max(1, ssl.pretrain_stages())

        def stage_factor(progress: float) -> float:
            stage_progress = progress * stages - min(int(progress * stages), stages - 1)
            return lr_factor(stage_progress, hp["schedule"], hp["warmup"], hp["cooldown"])

        def loss_of(batch: Any, progress: float) -> tuple[torch.Tensor, int]:
            x = batch[0]
            return ssl.pretrain_loss(model, x, progress, self.generator), len(x)

        reason, loss = self._steps(
            optimizer,
            iter(self.pretraining),  # type: ignore[arg-type]
            lambda: clock.progress() / end,
            stage_factor,
            loss_of,
            finished=lambda: clock.progress() >= end,
            check_now=lambda: clock.progress() >= end or clock.steps % 25 == 0,
        )
        if reason:
            self.divergence = f"pretraining: {reason}"
            return "diverged"
        clock.pause()
        self.parts.optimizer.use_weights(evaluated=True)
        last = None if loss is None else loss.item()
        self.pretrain = {"steps": clock.steps, "seconds": clock.seconds, "loss": last}
        model.zero_grad(set_to_none=True)
        return "ok"

    def _train(self, batches_: Iterator[Any]) -> str:
        """The supervised phase (after pretraining, if any): regularizer, joint unlabeled
        loss, and the finetune component's parameter groups and schedule; an eval point every
        ``eval_every`` epochs and at the end."""
        parts, clock, hp, model = self.parts, self.clock, self.hp, self.model
        parts.regularizer.prepare(self.context)
        groups = named_groups(parts.finetune.param_groups(model, hp["lr"]), ("", model))
        optimizer = parts.optimizer.make(groups, parts.regularizer.weight_decay())
        num_classes = parts.task.num_classes
        eval_interval = max(1, round(self.spec.budget.eval_every * clock.steps_per_epoch))
        start_progress, start_step = clock.progress(), clock.steps
        unlabeled = iter(self.unlabeled) if self.unlabeled is not None else None

        def joint() -> Iterator[tuple[Any, Any, Any]]:
            for x, y in batches_:
                yield x, y, next(unlabeled)[0] if unlabeled is not None else None

        def phase_progress() -> float:
            return (clock.progress() - start_progress) / max(1e-12, 1.0 - start_progress)

        hard_labels = default_loss(parts.regularizer)

        def loss_of(batch: Any, progress: float) -> tuple[torch.Tensor, int]:
            x, y, x_u = batch
            one_hot = F.one_hot(y, num_classes).to(x.dtype)
            version = one_hot._version
            x, targets = parts.regularizer.transform(x, one_hot, self.generator)
            logits, targets = parts.regularizer.forward(model, x, targets, self.generator)
            if hard_labels and targets is one_hot and one_hot._version == version:
                # targets left one-hot: soft cross-entropy's gradient, in fewer kernels
                loss = F.cross_entropy(logits, y)
            else:
                loss = parts.regularizer.loss(logits, targets)
            if x_u is not None:
                loss = loss + parts.ssl.unlabeled_loss(model, x_u, progress, self.generator)
            return loss, len(y)

        def check_now() -> bool:
            progress = phase_progress()
            parts.finetune.on_step(model, progress)
            parts.regularizer.on_step(model, progress)
            return (clock.steps - start_step) % eval_interval == 0 or clock.exhausted()

        def eval_point() -> None:
            clock.pause()
            parts.optimizer.use_weights(evaluated=True)
            with self.autocast():
                self.recorder.eval_point(self.evaluated, clock, self._progress_facts())
            if not clock.exhausted():
                parts.optimizer.use_weights(evaluated=False)
                clock.start()

        source = joint()
        if hp["compile_warmup"] and hp["compile"] != "none" and self.compile_seconds is None:
            args = (model, loss_of, self.generator, self.autocast, self.sync)
            source, self.compile_seconds = warmed(source, *args)
        reason, _ = self._steps(
            optimizer,
            source,
            phase_progress,
            lambda progress: lr_factor(progress, hp["schedule"], hp["warmup"], hp["cooldown"]),
            loss_of,
            finished=clock.exhausted,
            check_now=check_now,
            at_check=eval_point,
        )
        parts.optimizer.use_weights(evaluated=True)  # what is scored, and what is returned
        if reason:
            self.divergence = reason
            if self.blamed:
                self.divergence += (
                    "; the optimizer's step after a finite loss left the weights non-finite"
                )
            return "diverged"
        return "ok"

    def _fit(self) -> str:
        """A closed-form fine-tuning phase: the finetune component fits a linear head on the
        frozen encoder's features of the labeled training split; no gradient step. The fit
        runs on the clock (it is the method's training time) and is followed by one eval
        point."""
        parts, clock = self.parts, self.clock
        set_trainable(self.model.encoder, False)
        clock.start()
        train = materialize(self.splits.train, int(self.hp["workers"]))
        x, y = train.x.to(self.device), train.y
        with torch.no_grad(), self.autocast():
            features = torch.cat(
                [self.model.features(self.decode(xb)) for xb in batches(x, EVAL_BATCH)]
            ).float()
        weight, bias = parts.finetune.fit(features.cpu().numpy(), y.numpy(), parts.task.num_classes)
        head = torch.nn.Linear(weight.shape[1], weight.shape[0]).to(self.device)
        with torch.no_grad():
            head.weight.copy_(torch.as_tensor(weight))
            head.bias.copy_(torch.as_tensor(bias))
        self.model.head = head
        clock.pause()
        with self.autocast():
            self.recorder.eval_point(self.evaluated, clock)
        return "ok"

    def _result(self, status: str, batches_: Any) -> RunResult:
        clock, data, recorder = self.clock, self.data, self.recorder
        ok = status == "ok" and self.test is not None
        scores = recorder.score(self.evaluated, self.test) if ok else {}  # type: ignore[arg-type]
        prefetched = data.workers * int(self.hp["prefetch_factor"])
        loader = LoaderProfile.from_times(
            self.data_wait.settle(),
            clock.seconds,
            clock.samples,
            loader_samples_per_s=measure_loader(batches_, skip=prefetched, sync=self.sync),
            data_path=data.path,
            workers=data.workers,
            pin_memory=data.pin_memory,
            prepare_seconds=self.prepare_seconds,
            device=self.device.type,
            wait_clock=self.data_wait.clock,
        )
        return recorder.result(
            status,
            self.evaluated,
            clock,
            self.sync,
            **scores,
            loader=loader.to_dict(),
            pretrain_steps=self.pretrain["steps"],
            pretrain_seconds=self.pretrain["seconds"],
            pretrain_loss=self.pretrain["loss"],
            chance_accuracy=1.0 / self.parts.task.num_classes,
            error=self.divergence,
            error_component=self.blamed,
            machine=self._compute_facts(),
        )

    def _progress_facts(self) -> dict[str, Any]:
        """What observers see at an eval point beside the curve's fields (the clock is
        paused, so the device is synchronised): the last training loss, samples per
        training second, and the share of training time spent waiting for data."""
        seconds = self.clock.seconds
        loss = self.last_loss
        return {
            "train_loss": None if loss is None else float(loss.detach().float().item()),
            "samples_per_s": self.clock.samples / seconds if seconds > 0 else None,
            "data_wait_fraction": min(1.0, self.data_wait.settle() / seconds)
            if seconds > 0
            else None,
        }

    def _compute_facts(self) -> dict[str, Any]:
        """What the loop's settings did on this device, for the result's conditions: the
        compile time of the first step, the CUDA backend flags in force, and the peak device
        memory (allocated by tensors; reserved by the caching allocator)."""
        facts: dict[str, Any] = {**self.backends}
        if self.evaluated is not self.model:  # latency and eval seconds include the views
            facts["evaluated_views"] = self.evaluated.views
        if self.compile_seconds is not None:
            facts["compile_seconds"] = self.compile_seconds
        if self.device.type == "cuda":
            facts["peak_memory_allocated_mb"] = torch.cuda.max_memory_allocated(self.device) / 1e6
            facts["peak_memory_reserved_mb"] = torch.cuda.max_memory_reserved(self.device) / 1e6
        return facts


def train_model(
    spec: RunSpec,
    parts: RunComponents,
    splits: Splits,
    device: torch.device,
    hook: Any = None,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
    initial_encoder: Mapping[str, torch.Tensor] | None = None,
    score_test: bool = True,
) -> tuple[RunResult, Model]:
    """Train ``parts`` on ``splits`` within ``spec.budget``, measure everything, and return
    the result with the trained model.

    The global RNG must be seeded by the caller (it initialises the model); ``hook`` is the
    plugin manager's hook relay for the lifecycle hooks, ``on_eval`` sees each eval point
    (tuning reports there and may raise to prune), and ``initial_encoder`` (a source model's
    encoder weights) replaces the fresh encoder unless the finetune strategy starts fresh.
    With ``score_test=False`` (tuning) the test split is never read.
    """
    loop = _Loop(spec, parts, splits, device, hook, on_eval, initial_encoder, score_test)
    return loop.run(), loop.model
