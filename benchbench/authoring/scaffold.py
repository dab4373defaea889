"""``benchbench plugin new``: a ready-to-publish plugin package with one working component or
executor.

The package has a ``pyproject.toml`` declaring the ``benchbench`` entry point, the component
in ``src/<module>/__init__.py`` (a real method of its kind, not a placeholder; an executor
that places every run in a process of its own, its cluster one method away), tests that run
:mod:`benchbench.testing`'s conformance checks and check the component learns (an executor:
on the kit's fake cluster), and a README on installing, testing and publishing it. Files
come from Jinja2 templates under ``benchbench/authoring/templates/plugin``.
"""

from __future__ import annotations

import builtins
import keyword
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from ..arguments import check, checked, choice
from ..errors import BenchbenchError
from ..paths import PathLike
from ..phrasing import option

KIND_WORDS = {
    "task": "task",
    "arch": "architecture",
    "regularizer": "regularizer",
    "ssl": "semi-supervised method",
    "finetune": "fine-tune strategy",
    "optimizer": "optimizer",
    "executor": "executor",
}

_SUMMARIES = {
    "task": "scikit-learn's breast-cancer diagnostic data, 30 features, 2 classes",
    "arch": "MLP with layer norm and GELU on the flattened input",
    "regularizer": "Gaussian noise added to every training input",
    "ssl": "entropy minimisation of predictions on unlabeled data",
    "finetune": "BitFit: only the encoder's biases and the head learn",
    "optimizer": "Signum: each weight steps by the sign of its gradient's momentum",
    "executor": "every run a job on a cluster: here a process of its own per job",
}

_RUNS = {
    "task": (
        '"task", "{name}", steps=60',
        "0.8",
        "60 steps of the probe network beat the majority class",
    ),
    "arch": ('"arch", "{name}", steps=60', "0.5", "60 steps on the probe task beat chance (0.25)"),
    "regularizer": (
        '"regularizer", "{name}", steps=60',
        "0.5",
        "60 steps on the probe task beat chance (0.25)",
    ),
    "ssl": ('"ssl", "{name}", steps=60', "0.5", "60 steps on the probe task beat chance (0.25)"),
    "finetune": (
        '"finetune", "{name}", steps=60',
        "0.3",
        "60 steps on the probe task beat chance (0.25)",
    ),
    "optimizer": (
        '"optimizer", "{name}", steps=60',
        "0.5",
        "60 steps on the probe task beat chance (0.25)",
    ),
}

_USE = {
    "task": "benchbench run-one --task {name} --arch mlp",
    "arch": "benchbench run-one --task digits --arch {name}",
    "regularizer": "benchbench run-one --task digits --arch mlp --regularizer {name}",
    "ssl": "benchbench run-one --task digits-semi --arch mlp --ssl {name}",
    "finetune": "benchbench run-one --task digits-transfer --arch mlp --finetune {name}",
    "optimizer": "benchbench run-one --task digits --arch mlp --optimizer {name}",
    "executor": "benchbench run quick --executor {name} --jobs 2",
}

_EXTRA = {
    "regularizer": '''

def test_noise_comes_from_the_generator(benchbench_pm):
    """The same generator seed gives the same noise; the input itself is left unchanged."""
    import torch

    regularizer = benchbench_pm.registry.build("regularizer", "{name}")
    x, targets = torch.zeros(4, 3), torch.full((4, 2), 0.5)
    a, _ = regularizer.transform(x, targets, torch.Generator().manual_seed(0))
    b, _ = regularizer.transform(x, targets, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and not torch.equal(a, x)
    assert torch.equal(x, torch.zeros(4, 3))
''',
    "optimizer": '''

def test_it_steps_by_the_sign_and_keeps_its_momentum_in_the_state_dict(benchbench_pm):
    """One step from zero momentum by hand: each weight moves by the learning rate against
    its gradient's sign (none where the gradient is 0); the momentum is in the state."""
    import torch

    optimizer = benchbench_pm.registry.build("optimizer", "{name}")
    w = torch.zeros(3, requires_grad=True)
    built = optimizer.make([{{"params": [w], "lr": 0.1}}], 0.0)
    w.grad = torch.tensor([1.0, -2.0, 0.0])
    built.step()
    assert torch.allclose(w.detach(), torch.tensor([-0.1, 0.1, 0.0]))
    momentum = built.state_dict()["state"][0]["momentum"]
    assert torch.allclose(momentum, 0.1 * torch.tensor([1.0, -2.0, 0.0]))
''',
    "task": '''

def test_the_split_is_stratified(benchbench_pm):
    """569 examples split 60/20/20 with both classes in every part."""
    task = benchbench_pm.registry.build("task", "{name}")
    splits = task.load(None)
    assert [len(s) for s in (splits.train, splits.val, splits.test)] == [341, 114, 114]
    assert all(set(s.y.tolist()) == {{0, 1}} for s in (splits.train, splits.val, splits.test))
''',
}


def module_name(name: str) -> str:
    """The Python package of a plugin named ``name``: ``benchbench_<name>``."""
    return "benchbench_" + name.replace("-", "_")


@checked()
def new_plugin(name: str, *, kind: str, to: PathLike = ".") -> Path:
    """Write a ready-to-publish package for a component (or executor) ``name`` of ``kind``
    (``task``, ``arch``, ``regularizer``, ``ssl``, ``finetune``, ``optimizer`` or
    ``executor``) into
    ``to``: pyproject with the entry point, one working component, tests using
    ``benchbench.testing``, a README. The package's folder."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    if len(name) > MAX_NAME or not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name):
        shown = name if len(name) <= MAX_NAME else name[:MAX_NAME] + "..."
        raise BenchbenchError(
            f"plugin name {shown!r} must be kebab-case: lower-case letters and digits joined "
            f"by '-', starting with a letter, at most {MAX_NAME} characters (it becomes the "
            "component's name)"
        )
    check("kind", kind, choice(KIND_WORDS))
    _refuse_taken(name, kind)
    dist, module = f"benchbench-{name}", module_name(name)
    folder = Path(to) / dist
    if folder.exists():
        raise BenchbenchError(
            f"{folder} already exists; choose another name or {option('to')} folder"
        )
    call, above, doc = _RUNS.get(kind, ("", "", ""))
    values = {
        "name": name,
        "kind": kind,
        "kind_word": KIND_WORDS[kind],
        "kind_list": f"{kind}s" if kind != "ssl" else "ssl",
        "hook": "benchbench_register_executors"
        if kind == "executor"
        else "benchbench_register_components",
        "dist": dist,
        "module": module,
        "cls": class_name(name, kind),
        "summary": _SUMMARIES[kind],
        "benchbench_version": _release(),
        "run_args": call.format(name=name),
        "above": above,
        "learns_doc": doc,
        "extra_test": _EXTRA.get(kind, "").format(name=name),
        "use_command": _USE[kind].format(name=name),
    }
    env = Environment(
        loader=PackageLoader("benchbench.authoring", "templates/plugin"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    files = {
        "pyproject.toml": "pyproject.toml.j2",
        "README.md": "README.md.j2",
        f"src/{module}/__init__.py": "plugin.py.j2",
        "tests/test_plugin.py": "test_plugin.py.j2",
    }
    try:
        for path, template in files.items():
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(env.get_template(template).render(values))
    except OSError as exc:
        raise BenchbenchError(f"cannot write the plugin into {folder}: {exc.strerror}") from exc
    return folder


MAX_NAME = 60
"""The longest component name a plugin may take (it names a folder, a package, a class)."""


def class_name(name: str, kind: str) -> str:
    """The component's class: ``label-noise`` -> ``LabelNoise``; a name that is a Python
    keyword as a class (``none`` -> ``None``) gets its kind: ``NoneRegularizer``."""
    camel = "".join(part.capitalize() for part in name.split("-"))
    if keyword.iskeyword(camel) or camel in dir(builtins):
        camel += KIND_WORDS[kind].replace("-", " ").title().replace(" ", "")
    return camel


def _refuse_taken(name: str, kind: str) -> None:
    """A component of this kind with this name is already installed (a built-in, another
    plugin): the new plugin's would clash with it on every machine that has both."""
    from ..inventory.listing import catalog_rows

    for row in catalog_rows(kind):
        if row["name"] == name:
            origin = row.get("distribution") or row.get("plugin")
            raise BenchbenchError(
                f"{kind} {name!r} already exists (from {origin}); choose another name"
            )


def _release() -> str:
    """The benchbench release the plugin needs: this one, without a local or dev suffix."""
    try:
        return re.match(r"\d+(\.\d+)*", version("benchbench")).group(0)  # type: ignore[union-attr]
    except (PackageNotFoundError, AttributeError):
        return "0.1"
