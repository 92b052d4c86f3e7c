"""Computing ahead of the reader: ``DragCache`` keeps the results of an explorer's computation for
the setting shown and computes, in a thread, those of the settings a reader reaches next.
"""

import atexit
import sys
import threading
import time
import weakref
from contextlib import contextmanager
from itertools import chain

import ipywidgets
import numpy as np

AFTER_A_MOVE_S = 0.05
"""Threads that work ahead of the reader start this long after a move, once the new picture is on
its way: a thread that computes holds Python's lock for 5 ms at a time, and the kernel's threads
that send the picture would wait for it."""
GENTLE_PAUSE_S = 0.002
"""How long a thread that computes ahead what nobody waits for yet rests every 256 Python calls
(counted over the threads that compute ahead; ``OneAtATime``): a training run keeps one of two cores busy, and the messages of each move wait
for it. The recipe's explorer computes ahead at about 40 % of its speed then; in five runs of the
latency benchmark its median wait was 51–52 ms, against 54 and 58 ms in two runs without."""
SWITCH_INTERVAL_S = 0.001
"""How often Python lets another thread run once threads work ahead (every 5 ms by default): the
kernel's threads that receive a move and send its picture get their turn sooner. With it the
weight-decay explorer's worst inputs in two runs of the latency benchmark were 106 and 86 ms, against
200 and 94 ms without (medians 68 and 59, against 66 and 68)."""


def start_working_ahead(target, name: str) -> threading.Thread:
    """A daemon thread that works ahead of the reader."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    thread = threading.Thread(target=target, daemon=True, name=name)
    thread.start()
    return thread


class DragCache:
    """Results of a batched computation for the setting shown and for the settings a reader
    reaches next, so that moving a control redraws without recomputing.

    ``compute(settings)`` takes a list of settings (dicts of control values that differ only in
    the ``sliders``) and returns one result per setting, all computed at once: for the small
    problems of the explorers one batched run costs about what a single run costs. ``get(setting)``
    returns the result of ``setting``; when it is not known yet, it computes ``setting`` together
    with its neighbours, each slider of ``sliders`` moved up to ``reach`` of its steps either way.

    Some batches take a few hundred milliseconds, too long to wait for after a click. So once a
    browser shows the explorer, and after each move of a control, a thread of the cache computes
    ahead what the reader may ask for next (``_ahead``): each slider further out (up to ``far``
    steps, by default ``FAR``: a jump with PageUp), then every other choice of each checkbox and
    dropdown. A drag of a slider with many positions skips some at each step: an explorer whose
    batch costs the same for many more settings computes further out. It works
    only while the kernel has no control event to handle: it pauses at its next function call
    when a control moves (``reader_waiting``), and starts again from the new setting once the
    picture is sent. When the reader asks for a setting the thread is computing, the kernel lets
    it finish instead of starting over. A result is the same whichever thread computes it.

    ``get(setting, wait=False)`` answers None at once for a setting not known yet: the thread then
    drops what it computes (``Abandoned``) and computes that setting first, for an explorer that
    shows what it can meanwhile (``Explorer.result_or_later``).
    """

    FAR = 5
    GENTLE = False
    """Whether the thread rests (``GENTLE_PAUSE_S``) while it computes what nobody waits for yet."""
    _reader_idle = threading.Event()  # cleared while a control event is handled
    _reader_idle.set()
    _asked: list = []  # the caches asked for a setting while a control event was handled
    _waiting = 0  # control events being handled (reader_waiting blocks)
    _finishing = 0  # readers waiting for a thread to finish its batch (the threads run meanwhile)
    _quiet_until = 0.0  # time.monotonic() until which the threads stay paused (``quiet_after_a_move``)
    _waiting_lock = threading.Lock()
    _all = weakref.WeakSet()

    def __init__(self, controls: dict, sliders: tuple[str, ...], compute, reach: int = 2, size: int = 512,
                 far: int = FAR):
        self.controls, self.sliders, self.compute, self.reach, self.size = controls, sliders, compute, reach, size
        self.far = far
        self._results = {}
        self._lock = threading.Lock()  # guards _results while two threads store in it
        self._last = None  # the setting last asked for: the thread computes ahead from it
        self._computing = (set(), None)  # keys of the thread's batch, an Event set when it is done
        self._abandon = False  # the reader waits for another setting: the thread drops its batch
        self._awaited = None  # the key of the setting the reader asked for without waiting
        self._gentle = False  # whether the thread's batch is one nobody waits for yet (GENTLE)
        self._wake = threading.Event()
        self._thread = None
        DragCache._all.add(self)

    class NotReady(Exception):
        """Raised by ``get`` while peeking, for a setting whose result is not known yet."""

    class Abandoned(BaseException):
        """Raised in the cache's thread, at its next call of the course's code, when the reader asks
        without waiting for a setting other than those it computes. Not an Exception: code that
        catches those lets it through."""

    _peeking = threading.local()

    @classmethod
    @contextmanager
    def peeking(cls):
        """Within, ``get`` (on this thread) returns only results known already, and raises NotReady
        for the others: a picture drawn ahead computes nothing, nor moves what the caches compute ahead."""
        cls._peeking.on = True
        try:
            yield
        finally:
            cls._peeking.on = False

    def get(self, setting: dict, wait: bool = True):
        """The result of ``setting``. ``wait=False``: None when it is not known yet, and the cache's
        thread computes it first of all (``Explorer.result_or_later``)."""
        if getattr(DragCache._peeking, "on", False):
            result = self._results.get(self._key(setting))
            if result is None:
                raise DragCache.NotReady(setting)
            return result
        self._last = setting
        if not DragCache._reader_idle.is_set():
            DragCache._asked.append(self)
        key = self._key(setting)
        if not wait:
            if key not in self._results:
                self._awaited = key
                keys, _ = self._computing
                self._abandon = bool(keys) and key not in keys  # the reader's first, at once
                if key in keys:  # the thread computes it now: at full speed
                    self._gentle = False
                if DragCache._reader_idle.is_set():
                    self.compute_ahead()
            return self._results.get(key)
        keys, done = self._computing
        if key in keys and key not in self._results:
            self._gentle = False
            self._let_the_thread_finish(done)
        result = self._results.get(key)
        if result is None:
            result = self._store(self._missing([setting, *self._neighbours(setting)]))[0]
        return result

    def known(self, setting: dict) -> bool:
        """Whether the result of ``setting`` is known (computed, not forgotten)."""
        return self._key(setting) in self._results

    def _missing(self, settings: list) -> list:
        """``settings`` less those already known and those repeated."""
        keys = {}
        for setting in settings:
            keys.setdefault(self._key(setting), setting)
        return [setting for key, setting in keys.items() if key not in self._results]

    def _store(self, batch: list) -> list:
        """Compute ``batch``, keep and return the results."""
        results = self.compute(batch) if batch else []
        keys = [self._key(each) for each in batch]
        with self._lock:
            self._results.update(zip(keys, results))
            while len(self._results) > self.size:  # forget the oldest
                del self._results[next(iter(self._results))]
        return results

    @classmethod
    @contextmanager
    def reader_waiting(cls):
        """Handle a control event (or draw a picture ahead of one): computing ahead pauses, then
        restarts from the settings asked for. Blocks may nest, and run on several threads."""
        with cls._waiting_lock:
            cls._waiting += 1
            if not cls._finishing:
                cls._reader_idle.clear()
        try:
            yield
        finally:
            with cls._waiting_lock:
                cls._waiting -= 1
                last = cls._waiting == 0
                if last:
                    asked, cls._asked[:] = list(cls._asked), []
                    cls._reader_idle.set()
            if last:
                for cache in asked:
                    cache.compute_ahead()

    @classmethod
    def quiet_after_a_move(cls) -> None:
        """Keep the threads paused for AFTER_A_MOVE_S more (at their next call of the course's
        code): the picture of the move is on its way, and the kernel's threads that send it would
        wait for a thread that computes."""
        cls._quiet_until = time.monotonic() + AFTER_A_MOVE_S

    @classmethod
    def compute_ahead_for(cls, controls: dict) -> None:
        """Start computing ahead in the caches of an explorer (its ``controls``)."""
        for cache in list(cls._all):
            if cache.controls is controls and cache._last is not None:
                cache.compute_ahead()

    @staticmethod
    def _let_the_thread_finish(done: threading.Event) -> None:
        """Wait for a thread's batch, letting the threads run meanwhile (several may wait at once)."""
        DragCache._quiet_until = 0.0
        with DragCache._waiting_lock:
            DragCache._finishing += 1
            DragCache._reader_idle.set()
        try:
            done.wait()
        finally:
            with DragCache._waiting_lock:
                DragCache._finishing -= 1
                if DragCache._finishing == 0 and DragCache._waiting:
                    DragCache._reader_idle.clear()

    def compute_ahead(self) -> None:
        """Compute what may come after the last setting asked for, in the cache's thread (once the
        picture of the move is on its way)."""
        DragCache.quiet_after_a_move()
        self._wake.set()
        if self._thread is None:
            self._thread = start_working_ahead(self._compute_ahead, "DragCache ahead")

    def _compute_ahead(self) -> None:
        _this_thread.cache, _this_thread.computing = self, False
        sys.settrace(_pause_for_the_reader)  # this thread only
        while True:
            self._wake.wait()
            self._wake.clear()
            setting = self._last
            for batch in chain([[setting]], self._ahead(setting)):  # itself first, if asked for without waiting
                if self._last is not setting:  # the reader moved on: start from there
                    break
                batch = self._missing(batch)
                done = threading.Event()
                keys = {self._key(each) for each in batch}
                self._computing, self._abandon = (keys, done), False
                self._gentle = self.GENTLE and self._awaited not in keys
                _this_thread.computing = True
                try:
                    if self._last is not setting:  # asked for meanwhile, before _computing was set
                        break
                    self._store(batch)
                except DragCache.Abandoned:
                    break
                except Exception:  # the reader's own request will raise it where it is seen
                    break
                finally:
                    _this_thread.computing = False
                    self._computing = (set(), None)
                    done.set()
                    sys.settrace(_pause_for_the_reader)  # Python unsets it when it raises

    def _ahead(self, setting: dict):
        """Batches of what the reader may ask for next, the likeliest first: the sliders moved up to
        ``far`` steps (during a drag only a few of these are new), then each other choice of each
        checkbox and dropdown, with its neighbours (the next choices of a dropdown first)."""
        yield [far for name in self.sliders for far in self._moves(setting, name, range(self.reach + 1, self.far + 1))]
        for name, control in self.controls.items():
            if name not in setting or not isinstance(control, (ipywidgets.Checkbox, ipywidgets.Dropdown)):
                continue
            values = [True, False] if isinstance(control, ipywidgets.Checkbox) else _choices(control)
            start = values.index(setting[name]) if setting[name] in values else -1
            for value in values[start + 1:] + values[:max(start, 0)]:
                yield [setting | {name: value}, *self._neighbours(setting | {name: value})]

    def _neighbours(self, setting: dict):
        for name in self.sliders:
            yield from self._moves(setting, name, range(1, self.reach + 1))

    def _moves(self, setting: dict, name: str, distances):
        """``setting`` with slider ``name`` moved by each of ``distances`` steps, either way, in its range."""
        return (setting | {name: value} for value in slider_moves(self.controls[name], setting[name], distances))

    @staticmethod
    def _key(setting: dict) -> tuple:
        """Values to 10 significant digits: a slider's position computed here and in the browser
        may differ in the last bits, so a setting that close to a computed one shares its result."""
        return tuple((name, float(f"{value:.10g}") if isinstance(value, float) else value)
                     for name, value in sorted(setting.items()))


class OneAtATime(DragCache):
    """A ``DragCache`` whose thread computes ahead one setting at a time, nearest first: each slider
    one step either way, every other choice of the checkbox and the dropdown, then the sliders
    further out. For computations that batching does not speed up (a training run, a long
    recursion): a reader who moves a control waits for at most the one setting in progress, not
    for a batch of twenty. It goes on for dozens of settings, gently (``GENTLE``): the setting a
    reader waits for at full speed, the others resting now and then."""

    GENTLE = True

    def _ahead(self, setting: dict):
        others = list(super()._ahead(setting))[1:]  # [another choice, its slider neighbours], …
        yield from ([near] for name in self.sliders for near in self._moves(setting, name, [self.reach + 1]))
        yield from ([batch[0]] for batch in others)
        for distance in range(self.reach + 2, self.far + 1):
            yield from ([far] for name in self.sliders for far in self._moves(setting, name, [distance]))
        yield from ([each] for batch in others for each in batch[1:])


def slider_moves(control, value, distances) -> list:
    """The values of ``control`` (a slider at ``value``) each of ``distances`` steps away, either way,
    in its range, in increasing order."""
    if isinstance(control, ipywidgets.SelectionSlider):
        values = _choices(control)
        index = min(range(len(values)), key=lambda i: abs(values[i] - value))
        return [values[k] for k in sorted(index + sign * distance for distance in distances for sign in (-1, 1))
                if 0 <= k < len(values)]
    log = isinstance(control, ipywidgets.FloatLogSlider)
    position = np.log(value) / np.log(control.base) if log else value
    index = round((position - control.min) / control.step)  # where the slider snaps to
    moves = []
    for k in sorted(index + sign * distance for distance in distances for sign in (-1, 1)):
        moved = control.min + k * control.step
        if control.min <= moved <= control.max + 1e-9 * control.step:
            moved = control.base**moved if log else moved
            moves.append(int(round(moved)) if isinstance(control, ipywidgets.IntSlider) else float(moved))
    return moves


def _pause_for_the_reader(frame, event, arg) -> None:
    """The trace function of the threads that compute ahead, run at each call of a Python
    function: at a call of the course's own code (which holds no lock another thread may need)
    wait while the kernel handles a control event, and drop the batch the reader no longer wants
    (``Abandoned``); every few hundred calls let the kernel's other threads (the messages from the
    browser) take their turn, resting a little where nobody waits for the batch (``GENTLE``). So
    the reader never waits for them."""
    if frame.f_globals.get("__name__", "").startswith("course_lib."):
        if not DragCache._reader_idle.is_set():
            DragCache._reader_idle.wait()
        if _this_thread.computing and _this_thread.cache._abandon:
            raise DragCache.Abandoned
        quiet = DragCache._quiet_until - time.monotonic()
        if quiet > 0:  # a picture is on its way
            time.sleep(quiet)
    _calls[0] += 1
    if _calls[0] % 256 == 0:
        time.sleep(GENTLE_PAUSE_S if _this_thread.cache._gentle else 0)


_calls = [0]
_this_thread = threading.local()  # a thread that computes ahead: .cache, the cache it works for;
# .computing, whether it computes a batch (which it may drop)


@atexit.register
def _pause_before_exit() -> None:
    """At exit, pause the threads that compute ahead at their next call of the course's code: a
    thread still inside a torch operation while Python exits makes torch abort the process."""
    DragCache._reader_idle.clear()
    time.sleep(0.1 if DragCache._all else 0)


def _choices(control) -> list:
    return [option[1] if isinstance(option, tuple) else option for option in control.options]
