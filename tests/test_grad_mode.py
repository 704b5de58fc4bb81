"""Grad mode is per thread, as in torch: threads synchronised with events, never sleeps."""

import threading

import numpy as np

import minigrad as mg

TIMEOUT = 10  # seconds: only reached if a thread is stuck, which fails the test


def _run(target):
    """Start ``target`` in a thread; return (thread, errors list it appends to)."""
    errors = []

    def body():
        try:
            target()
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    t = threading.Thread(target=body)
    t.start()
    return t, errors


def _train_step(w, x):
    loss = ((x @ w) ** 2).sum()
    assert loss.requires_grad, "the step was not recorded"
    w.grad = None
    loss.backward()
    return w.grad.numpy()


def test_training_thread_records_while_another_thread_is_inside_no_grad():
    inside, release = threading.Event(), threading.Event()
    seen_inside = []

    def inference():
        with mg.no_grad():
            seen_inside.append(mg.is_grad_enabled())
            inside.set()
            assert release.wait(TIMEOUT)

    t, errors = _run(inference)
    try:
        assert inside.wait(TIMEOUT)
        w = mg.tensor([[1.0], [2.0]], requires_grad=True)
        x = mg.tensor([[3.0, 4.0]])
        for _ in range(20):  # the other thread is inside no_grad all along
            assert mg.is_grad_enabled()
            np.testing.assert_allclose(_train_step(w, x), [[66.0], [88.0]])
    finally:
        release.set()
        t.join(TIMEOUT)
    assert not errors, errors
    assert seen_inside == [False]
    assert mg.is_grad_enabled()


def test_new_threads_start_enabled_whatever_the_starting_thread_does():
    seen = []
    with mg.no_grad():
        t, errors = _run(lambda: seen.append(mg.is_grad_enabled()))
        t.join(TIMEOUT)
        assert not mg.is_grad_enabled()
    assert not errors and seen == [True]


def _overlapping_no_grad_trial() -> dict:
    """A enters no_grad, B enters, A exits, B exits: the interleaving that broke a process-wide
    mode. Returns each thread's mode inside and after its block."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    modes = {}

    def thread_a():
        with mg.no_grad():
            a_in.set()
            assert b_in.wait(TIMEOUT)
            modes["a inside"] = mg.is_grad_enabled()
        modes["a after"] = mg.is_grad_enabled()
        a_out.set()

    def thread_b():
        assert a_in.wait(TIMEOUT)
        with mg.no_grad():
            b_in.set()
            assert a_out.wait(TIMEOUT)
            modes["b inside"] = mg.is_grad_enabled()
        modes["b after"] = mg.is_grad_enabled()

    (ta, ea), (tb, eb) = _run(thread_a), _run(thread_b)
    ta.join(TIMEOUT)
    tb.join(TIMEOUT)
    assert not ea and not eb, ea + eb
    return modes


def test_overlapping_no_grad_in_two_threads_never_leaves_recording_off():
    for _ in range(50):
        modes = _overlapping_no_grad_trial()
        assert modes == {"a inside": False, "a after": True, "b inside": False, "b after": True}
        assert mg.is_grad_enabled()
        assert (mg.tensor([1.0], requires_grad=True) * 2).requires_grad


def test_backward_switches_off_recording_in_its_own_thread_only():
    in_backward, release = threading.Event(), threading.Event()
    mode_in_hook = []

    def hook(g):  # runs inside the engine, which records nothing in its own thread
        mode_in_hook.append(mg.is_grad_enabled())
        in_backward.set()
        assert release.wait(TIMEOUT)

    def backward_thread():
        w = mg.tensor([1.0, 2.0], requires_grad=True)
        y = w * 3
        y.register_hook(hook)
        y.sum().backward()
        np.testing.assert_allclose(w.grad.numpy(), [3.0, 3.0])

    t, errors = _run(backward_thread)
    try:
        assert in_backward.wait(TIMEOUT)
        assert mg.is_grad_enabled()  # the engine's switch did not reach this thread
        w = mg.tensor([[1.0], [2.0]], requires_grad=True)
        np.testing.assert_allclose(_train_step(w, mg.tensor([[3.0, 4.0]])), [[66.0], [88.0]])
    finally:
        release.set()
        t.join(TIMEOUT)
    assert not errors, errors
    assert mode_in_hook == [False]


def test_set_grad_enabled_and_enable_grad_are_per_thread():
    switched, release = threading.Event(), threading.Event()

    def switcher():
        mg.set_grad_enabled(False)  # a plain call, left switched off in this thread
        switched.set()
        assert release.wait(TIMEOUT)
        with mg.enable_grad():
            assert mg.is_grad_enabled()
        assert not mg.is_grad_enabled()

    t, errors = _run(switcher)
    try:
        assert switched.wait(TIMEOUT)
        assert mg.is_grad_enabled()
    finally:
        release.set()
        t.join(TIMEOUT)
    assert not errors, errors
    assert mg.is_grad_enabled()
