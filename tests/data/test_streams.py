import pytest
import torch
from torch.utils.data import TensorDataset

from benchbench import Split
from benchbench.data.streams import DeviceStream, LoaderStream, make_stream, materialize

CPU = torch.device("cpu")


def take(stream, n):
    it = iter(stream)
    return [next(it) for _ in range(n)]


def test_device_stream_covers_each_epoch_and_reshuffles():
    x = torch.arange(10).float()
    stream = DeviceStream(x, torch.arange(10), 3, torch.Generator().manual_seed(0))
    assert stream.steps_per_epoch == 3
    epochs = take(stream, 6)
    first = torch.cat([b[0] for b in epochs[:3]])
    second = torch.cat([b[0] for b in epochs[3:]])
    assert len(set(first.tolist())) == 9 and len(set(second.tolist())) == 9  # one dropped
    assert first.tolist() != second.tolist()
    assert all(torch.equal(xb, yb.float()) for xb, yb in epochs)


def test_loader_order_depends_on_the_seed_not_the_workers():
    data = TensorDataset(torch.arange(40).float(), torch.arange(40))

    def order(workers, seed):
        stream = LoaderStream(data, 8, torch.Generator().manual_seed(seed), CPU, workers=workers)
        try:
            return [b[1].tolist() for b in take(stream, 10)]
        finally:
            stream.close()

    assert order(0, 1) == order(2, 1)
    assert order(0, 1) != order(0, 2)


def test_make_stream_paths():
    split = Split(torch.randn(20, 3), torch.arange(20) % 2)
    dataset = TensorDataset(split.x, split.y)
    kwargs = dict(batch_size=4, seed=0, device=CPU)
    assert make_stream(split, path="auto", **kwargs).path == "device"
    assert make_stream(dataset, path="auto", **kwargs).path == "disk"
    memory = make_stream(dataset, path="memory", **kwargs)
    assert isinstance(memory.stream, LoaderStream) and memory.stream.steps_per_epoch == 5
    assert isinstance(make_stream(dataset, path="device", **kwargs).stream, DeviceStream)
    with pytest.raises(ValueError, match="needs a task that reads from disk"):
        make_stream(split, path="disk", **kwargs)
    with pytest.raises(ValueError, match="data_path must be one of"):
        make_stream(split, path="ssd", **kwargs)


def test_materialize_keeps_order_and_values():
    x, y = torch.randn(1100, 2, 3), torch.arange(1100)
    split = materialize(TensorDataset(x, y))
    assert torch.equal(split.x, x) and torch.equal(split.y, y)
    assert materialize(split) is split
