"""minigrad.distributed, DistributedDataParallel, SyncBatchNorm, DistributedSampler, fit
under DDP.

One-process tests run here. The multi-process ones start real 2- and 3-process jobs with the
mpiexec of the installed MPI (the mpich wheel of ``minigrad-tensor[mpi]``), each bounded by a
timeout, and compare them with the same training done in this process with the global batch;
they skip, with the reason, only where MPI cannot start.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad
import minigrad.distributed as dist
from minigrad import nn
from minigrad.data import DistributedSampler
from minigrad.distributed.group import LocalGroup
from minigrad.nn.parallel import DistributedDataParallel

from ..conftest import CUDA
from . import mpi_worker as W

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 60


# ----------------------------------------------------------------------------- launching


def _mpiexec() -> str | None:
    beside = Path(sys.executable).parent / "mpiexec"  # the wheel's, in this Python's bin
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def _run(n: int, args: list[str], timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess:
    """``mpiexec -n n python ...`` in its own session, killed as a group on timeout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [_mpiexec(), "-n", str(n), sys.executable, *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(cmd)} did not finish within {timeout} s (a hang)\n{err[-2000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _mpi_unavailable() -> str | None:
    """Why MPI cannot start here, or None."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py is not installed (pip install 'minigrad-tensor[mpi]')"
    if _mpiexec() is None:
        return "no mpiexec found (pip install mpich)"
    try:
        probe = subprocess.run(
            [_mpiexec(), "-n", "2", sys.executable, "-c",
             "from mpi4py import MPI; assert MPI.COMM_WORLD.Get_size() == 2"],
            capture_output=True, text=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"mpiexec could not start 2 processes: {err}"
    if probe.returncode:
        return f"mpiexec could not start 2 processes: {probe.stderr.strip()[-500:]}"
    return None


@pytest.fixture(scope="module")
def mpi_runs(tmp_path_factory):
    """Runs the 2-process job, then the 3-process one (which resumes the 2-process fit)."""
    reason = _mpi_unavailable()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("mpi")
    for n, tasks in ((2, "collectives,equiv,accumulate,fit_first,nan_stop"),
                     (3, "collectives,equiv,fit_resume")):
        res = _run(n, ["-m", "tests.distributed.mpi_worker", tasks, str(out)])
        assert res.returncode == 0, f"{n}-process job failed:\n{res.stderr[-4000:]}"
    return out


def _load(out: Path, task: str, world: int) -> list:
    return [np.load(out / f"{task}_{world}_{r}.npz") for r in range(world)]


def _assert_close(got, want, what: str) -> None:
    """float32 round-off, amplified over a dozen steps: 1e-5 of the array's scale."""
    scale = float(np.abs(want).max()) or 1.0
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale, err_msg=what)


# ----------------------------------------------------------------------------- multi-process


@pytest.mark.parametrize("world", [2, 3])
def test_collectives(mpi_runs, world):
    for r, res in enumerate(_load(mpi_runs, "collectives", world)):
        base = np.arange(5, dtype=np.float32)
        values = [base * (k + 1) - k for k in range(world)]
        np.testing.assert_array_equal(res["SUM"], sum(values), err_msg=f"rank {r}")
        np.testing.assert_allclose(res["AVG"], sum(values) / world, rtol=1e-6)
        np.testing.assert_array_equal(res["MAX"], np.max(values, axis=0))
        np.testing.assert_array_equal(res["MIN"], np.min(values, axis=0))
        np.testing.assert_array_equal(res["broadcast"], np.full((2, 3), world - 1))
        a = np.arange(12, dtype=np.float32).reshape(3, 4)
        np.testing.assert_array_equal(res["SUM_layouts"], a * sum(range(1, world + 1)))
        assert bool(res["SUM_layouts_f"]) == (r % 2 == 0)  # the layout is kept
        minigrad.manual_seed(100)
        rank0 = nn.Linear(4, 3)
        np.testing.assert_array_equal(res["ddp_weight"], rank0.weight.array)
        np.testing.assert_array_equal(res["ddp_bias"], rank0.bias.array)


@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize("kind, opt", [r for r in W.RUNS if r[0] != "bnlocal"])
def test_ddp_matches_one_process_with_the_global_batch(mpi_runs, world, kind, opt):
    """N processes x batch B == 1 process x batch N*B, over 3 epochs, every rank identical
    (SGD with momentum and Adam; with SyncBatchNorm also the running statistics)."""
    ranks = _load(mpi_runs, "equiv", world)
    reference = W.train_manual(kind, opt, 1, 0, use_ddp=False)
    for name, want in reference.items():
        got = ranks[0][f"{kind}-{opt}:{name}"]
        for r in range(1, world):
            np.testing.assert_array_equal(ranks[r][f"{kind}-{opt}:{name}"], got,
                                          err_msg=f"rank {r} differs from rank 0: {name}")
        _assert_close(got, want, f"{world} processes, {kind}/{opt}: {name}")


def test_plain_batchnorm_keeps_per_process_statistics(mpi_runs):
    """Without SyncBatchNorm each process normalises its own shard: not the global batch."""
    got = _load(mpi_runs, "equiv", 2)[0]
    reference = W.train_manual("bnlocal", "sgd", 1, 0, use_ddp=False)
    diff = np.abs(got["bnlocal-sgd:1.running_mean"] - reference["1.running_mean"]).max()
    assert diff > 1e-4


def test_no_sync_accumulation_and_unused_parameters(mpi_runs):
    ranks = _load(mpi_runs, "accumulate", 2)
    for res in ranks:  # checked against one-process gradients inside the worker
        assert float(res["max_err"]) < 1e-6
        assert int(res["buckets"]) > 1
    # head_b was used on rank 0 only: both ranks hold the same (halved) gradient
    np.testing.assert_array_equal(ranks[0]["head_b_grad"], ranks[1]["head_b_grad"])
    assert np.abs(ranks[0]["head_b_grad"]).max() > 0


def test_fit_resume_with_another_number_of_processes(mpi_runs, tmp_path):
    """fit under DDP: 2 processes for epochs 1-2 (checkpoint by rank 0), then 3 processes
    (and 1 process) resume epochs 3-4; all equal one uninterrupted process, with identical
    logs on every rank."""
    full = W.run_fit(1, 0, "full", str(tmp_path / "unused.npz"), use_ddp=False)
    resumed = _load(mpi_runs, "fit_resume", 3)
    for key, want in full.items():
        for r in range(1, 3):
            np.testing.assert_array_equal(resumed[r][key], resumed[0][key], err_msg=key)
        _assert_close(resumed[0][key], want, f"3-process resume: {key}")
    first = _load(mpi_runs, "fit_first", 2)
    np.testing.assert_array_equal(first[0]["hist:val_loss"], first[1]["hist:val_loss"])
    _assert_close(first[0]["hist:loss"], full["hist:loss"][:2], "2-process epochs 1-2")
    one = W.run_fit(1, 0, "resume", str(mpi_runs / "fit.npz"), use_ddp=True,
                    group=LocalGroup())
    for key, want in full.items():
        _assert_close(one[key], want, f"1-process resume: {key}")


def test_a_nan_on_one_rank_stops_every_rank_at_the_same_batch(mpi_runs):
    # nan_policy='stop': the rank whose loss is nan stops; the others must stop with it (not
    # wait for its gradients forever), with the same parameters (those after batch 1)
    runs = _load(mpi_runs, "nan_stop", 2)
    assert [int(r["batches"]) for r in runs] == [2, 2]
    for key in (k for k in runs[0].files if k.startswith("param:")):
        np.testing.assert_array_equal(runs[1][key], runs[0][key], err_msg=key)


def test_a_rank_that_raises_ends_every_rank(tmp_path):
    reason = _mpi_unavailable()
    if reason:
        pytest.skip(reason)
    res = _run(2, ["-m", "tests.distributed.mpi_worker", "raise", str(tmp_path)])
    assert res.returncode != 0
    assert "boom from rank 1" in res.stderr
    assert "rank 1 of 2 raised ValueError" in res.stderr


# ----------------------------------------------------------------------------- one process


def test_sampler_shards_follow_torchs_algorithm():
    """Padding / dropping and the strided split, against the direct definition."""
    data = list(range(10))
    for world in (1, 3, 4, 11):
        for drop_last in (False, True):
            shards = [DistributedSampler(data, world, r, shuffle=False, drop_last=drop_last)
                      for r in range(world)]
            n = len(data)
            per = (n - world) // world + (1 if (n - world) % world else 0) \
                if drop_last and n % world else -(-n // world)
            order = (data * (per * world // n + 1))[:per * world]
            for r, s in enumerate(shards):
                assert len(s) == per
                assert list(s) == order[r::world]


def test_sampler_covers_every_sample_once_per_epoch_and_reshuffles():
    data = range(24)
    shards = [DistributedSampler(data, 3, r, seed=4) for r in range(3)]
    epochs = []
    for epoch in range(2):
        for s in shards:
            s.set_epoch(epoch)
        seen = np.concatenate([s.indices() for s in shards])
        assert sorted(seen.tolist()) == list(range(24))
        epochs.append(seen)
    assert not np.array_equal(epochs[0], epochs[1])
    again = DistributedSampler(data, 3, 0, seed=4)
    again.set_epoch(1)  # the order depends on seed + epoch only, not on the RNG state
    minigrad.manual_seed(123)
    np.testing.assert_array_equal(again.indices(), shards[0].indices())


def test_sampler_bad_input():
    with pytest.raises(ValueError, match="rank must be in"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be positive"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(ValueError, match="epoch"):
        DistributedSampler(range(4), 2, 0).set_epoch(-1)
    if not dist.is_initialized():
        with pytest.raises(RuntimeError, match="init_process_group"):
            DistributedSampler(range(4))


def test_api_errors_before_init():
    if dist.is_initialized():
        pytest.skip("a process group is already initialised in this process")
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(ValueError, match="backend"):
        dist.init_process_group("gloo")
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedDataParallel(nn.Linear(2, 2))


def test_one_process_ddp_is_the_plain_module():
    """In a world of one, DDP's gradients are the module's own (no averaging to undo)."""
    x = minigrad.tensor(np.random.default_rng(1).standard_normal((8, 4)).astype(np.float32))
    y = minigrad.tensor(np.arange(8) % 3)
    minigrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    ddp = DistributedDataParallel(model, bucket_cap_mb=64 / 2**20, process_group=LocalGroup())
    assert ddp.num_buckets > 1
    nn.CrossEntropyLoss()(ddp(x), y).backward()
    got = [p.grad.array.copy() for p in model.parameters()]
    model.zero_grad()
    nn.CrossEntropyLoss()(model(x), y).backward()
    for g, p in zip(got, model.parameters()):
        np.testing.assert_array_equal(g, p.grad.array)
    assert list(ddp.state_dict()) == [f"module.{k}" for k in model.state_dict()]


def test_all_reduce_rejects_bad_op():
    with pytest.raises(ValueError, match="op must be one of"):
        dist.group.check_op("prod")


class _EchoGroup(LocalGroup):
    """Claims two ranks but reduces nothing: SyncBatchNorm's own code path (its all-reduces in
    forward and backward) on this process's data alone, which must then be BatchNorm."""

    size = 2


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_sync_batchnorm_path_gradients_and_statistics(shape):
    from minigrad.autograd import gradcheck

    rng = np.random.default_rng(2)
    x = minigrad.tensor(rng.standard_normal(shape), dtype=np.float64, requires_grad=True)
    sync = nn.SyncBatchNorm(3, process_group=_EchoGroup()).double()
    plain = nn.BatchNorm1d(3).double()
    for m in (sync, plain):
        m.weight.array[...] = rng.uniform(0.5, 2, 3)
        m.bias.array[...] = rng.standard_normal(3)
    plain.load_state_dict(sync.state_dict())
    np.testing.assert_allclose(sync(x).array, plain(x).array, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sync.running_var.array, plain.running_var.array, rtol=1e-12)
    np.testing.assert_allclose(sync.running_mean.array, plain.running_mean.array, atol=1e-12)
    gradcheck(lambda t, w, b: sync(t), [x, sync.weight, sync.bias])
    plain.load_state_dict(sync.state_dict())
    sync.eval()  # evaluation uses the running statistics, as BatchNorm
    plain.eval()
    np.testing.assert_allclose(sync(x).array, plain(x).array, rtol=1e-12, atol=1e-12)


def test_convert_sync_batchnorm_keeps_parameters():
    minigrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU())
    before = {k: v.array.copy() for k, v in model.state_dict().items()}
    model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(model[1], nn.SyncBatchNorm)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.array, before[k])


def test_example_runs_under_mpiexec_and_alone(tmp_path):
    """examples/train_digits_ddp.py, shortened: 2 processes, then resumed as 1 process."""
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    reason = _mpi_unavailable()
    if reason:
        pytest.skip(reason)
    script = str(ROOT / "examples" / "train_digits_ddp.py")
    common = ["--epochs", "3", "--hidden", "32", "--no-progress", "--out-dir", str(tmp_path)]
    two = _run(2, [script, "--stop-after", "2", *common])
    assert two.returncode == 0, two.stderr[-3000:]
    assert "2 processes [mpi], global batch 64 (32 per process)" in two.stdout
    assert two.stdout.count("test accuracy") == 1  # printed by rank 0 only
    assert (tmp_path / "checkpoint.npz").exists()
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    one = subprocess.run([sys.executable, script, "--resume",
                          str(tmp_path / "checkpoint.npz"), *common], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=TIMEOUT_S)
    assert one.returncode == 0, one.stderr[-3000:]
    assert "epochs 1-3" in one.stdout  # the history resumed from the 2-process checkpoint
    acc = float(one.stdout.split("test accuracy ")[1].split()[0])
    assert acc > 0.8  # 3 epochs of this MLP on the digits: typically about 0.95


def test_without_mpi4py_a_plain_run_is_a_world_of_one(monkeypatch):
    if dist.is_initialized():
        pytest.skip("a process group is already initialised in this process")
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now raises ImportError
    for var in dist._LAUNCHER_VARS:
        monkeypatch.delenv(var, raising=False)
    try:
        dist.init_process_group("mpi")
        assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (0, 1, "local")
        t = minigrad.tensor([1.0, 2.0])
        dist.all_reduce(t, dist.ReduceOp.AVG)
        dist.broadcast(t, 0)
        np.testing.assert_array_equal(t.array, [1.0, 2.0])
        with pytest.raises(RuntimeError, match="already initialised"):
            dist.init_process_group("mpi")
    finally:
        dist.destroy_process_group()
    monkeypatch.setenv("PMI_RANK", "0")  # started by mpiexec, but no mpi4py: say so
    with pytest.raises(ImportError, match=r"minigrad-tensor\[mpi\]"):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


@pytest.mark.skipif(not CUDA, reason="CUDA device not available (needs CuPy and a GPU: "
                                     "minigrad-tensor[cuda12])")
def test_cuda_collectives_and_ddp_over_nccl_and_mpi(tmp_path):
    """One process per GPU (all of them, at most 2): NCCL and host-staged MPI on CuPy arrays."""
    reason = _mpi_unavailable()
    if reason:
        pytest.skip(reason)
    import cupy

    world = min(2, cupy.cuda.runtime.getDeviceCount())
    res = _run(world, ["-m", "tests.distributed.mpi_worker", "cuda", str(tmp_path)])
    assert res.returncode == 0, res.stderr[-4000:]
    for r in range(world):
        got = np.load(tmp_path / f"cuda_{world}_{r}.npz")
        for name in ("nccl", "mpi"):
            mean = np.arange(4, dtype=np.float32) + (world - 1) / 2
            np.testing.assert_allclose(got[f"{name}_avg"], mean, rtol=1e-6)
            np.testing.assert_array_equal(got[f"{name}_bcast"], np.full(3, world - 1))
            assert float(got[f"{name}_err"]) < 1e-6


def test_post_accumulate_grad_hooks_fire_as_soon_as_a_leaf_is_complete():
    """The engine runs a leaf's post-accumulate hooks once its last use is differentiated:
    here W2's before the graph below it is walked, W1's (used twice) once, with the total."""
    from minigrad.autograd import grad

    rng = np.random.default_rng(0)
    x = minigrad.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    w1 = minigrad.tensor(rng.standard_normal((3, 3)).astype(np.float32), requires_grad=True)
    w2 = minigrad.tensor(rng.standard_normal((3, 2)).astype(np.float32), requires_grad=True)
    events = []

    def loss_fn():
        h = (x @ w1).tanh() @ w1       # w1 used twice
        h.register_hook(lambda g: events.append("h") or None)
        return (h @ w2).sum()

    loss_fn().backward()
    want = {"w1": w1.grad.array.copy(), "w2": w2.grad.array.copy()}
    w1.grad = w2.grad = None
    seen = {}
    removers = [
        w.register_post_accumulate_grad_hook(
            lambda t, n=n: (events.append(n), seen.__setitem__(n, t.grad.array.copy())))
        for n, w in (("w1", w1), ("w2", w2))]
    events.clear()
    loss_fn().backward()
    assert events == ["w2", "h", "w1"]
    for n in ("w1", "w2"):
        np.testing.assert_array_equal(seen[n], want[n])
    np.testing.assert_array_equal(w1.grad.array, want["w1"])
    events.clear()
    grad(loss_fn(), [w1])  # autograd.grad accumulates nothing: no post-accumulate hooks
    assert events == ["h"]
    for remove in removers:
        remove()
    events.clear()
    loss_fn().backward()
    assert events == ["h"]
    with pytest.raises(RuntimeError, match="leaf"):
        (w1 * 2).register_post_accumulate_grad_hook(lambda t: None)


def test_ddp_leaves_no_hooks_behind():
    """The engine's post-accumulate hooks go when the wrapper does (no leak, no pre-pass)."""
    import gc

    from minigrad.autograd import engine

    before = len(engine._post_hooks)
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    ddp = DistributedDataParallel(model, process_group=LocalGroup())
    assert len(engine._post_hooks) == before + 4
    del ddp
    gc.collect()
    assert len(engine._post_hooks) == before
    ddp = DistributedDataParallel(model, process_group=LocalGroup())
    del model, ddp
    gc.collect()
    assert len(engine._post_hooks) == before
