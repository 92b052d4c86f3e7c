"""Felt latency of every explorer in real Chromium: at most 60 ms median and 200 ms worst from a
reader's input to new pixels on the explorer's canvas.

``bench_explorers`` times the kernel's share of an update; a reader feels more: the browser sends
the new control value to the kernel, the kernel recomputes, renders and sends a PNG, and the
browser decodes it and paints it on the canvas. This benchmark measures all of it, in the page.

How: a JupyterLab server (``tests/notebooks/browser_helpers.LabServer``) and headless Chromium at
1440×900. Each notebook with an explorer is opened and Run All; ``READING_S`` later (a reader reads
the cell first) every enabled control of every explorer is used as a reader would, one input at a
time: a slider moved step by step with the arrow keys and back, then 5 steps at once (PageUp /
PageDown) and back, then dragged with the mouse step by step and back (``DRAG_MIN_PX`` a step at
least); a dropdown through each of its options back to the first; a checkbox on and off. Before
an input the canvas must have been still for ``QUIET_MS``; the page then keeps a copy of the canvas
pixels, notes the time of the input event (``keydown``, ``input``, ``change`` or ``pointerdown``,
and ``pointermove`` in a drag, whichever comes first: ``event.timeStamp``) and on every animation
frame compares the canvas with the copy. The first frame whose pixels differ ends the
measurement: input event → the frame that paints the new picture. An input whose picture does not change within
``GIVE_UP_MS`` is reported, and misses the target.

A picture may come in two: the recipe's explorer shows a setting not trained yet at once, without
its loss, and the rest when its run is done (``Explorer.result_or_later``; the explorer's widget
has the CSS class ``Explorer.WORKING_CLASS`` meanwhile). The first new pixels count for the target;
the time until the whole picture is reported beside it, and the next input waits for it.

``--quick`` (``make bench QUICK=1``) moves and drags each slider 2 steps, the full run 4 steps, twice over
(fewer where the end of the slider is nearer).

    .venv/bin/python -m benchmarks latency          # or: make bench BENCH=latency
    .venv/bin/python -m benchmarks.bench_latency --quick 02 08    # some notebooks only
"""

import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Result
from course_lib.interactive.explorer import Explorer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "notebooks"))
from browser_helpers import (  # noqa: E402  (the browser tests' helpers, not a copy)
    INSTALL_HINT,
    LabServer,
    expected_explorers,
    explorer_outputs,
    find_chromium,
    launch_chromium,
    local_only,
    notebook_paths,
    open_notebook,
    run_all,
)

MAX_MEDIAN_S = 0.060
MAX_WORST_S = 0.200
VIEWPORT = {"width": 1440, "height": 900}
QUIET_MS = 200
GIVE_UP_MS = 5000
DRAG_MIN_PX = 4
"""A drag moves the mouse by one slider step at a time, at least this many pixels (a slider with a
thousand steps moves by several steps a pixel)."""
READING_S = 2.0
"""Wait after Run All before the first input, as a reader reads an explorer's cell before using it
(the explorers compute ahead meanwhile, ``course_lib.interactive.drag_cache.DragCache``)."""

JS_CONTROLS = """(output) => {
    // the explorer's controls in page order; each is tagged so that Python can find it again
    const found = [...output.querySelectorAll(
        '.widget-slider .noUi-handle, .widget-dropdown select, .widget-checkbox input')];
    return found.map((node, index) => {
        node.setAttribute('data-bench-control', index);
        const box = node.closest('.widget-inline-hbox');
        const label = [node.closest('label'), box && box.querySelector('.widget-label')]
            .find(l => l && l.textContent.replace(/[\u200b\s]/g, ''));
        const kind = node.tagName === 'SELECT' ? 'dropdown' : node.tagName === 'INPUT' ? 'checkbox' : 'slider';
        const disabled = kind === 'slider' ? !!node.closest('.noUi-target[disabled]') : node.disabled;
        return {index, kind, disabled, name: label ? label.textContent.trim() : `control ${index}`};
    });
}"""

JS_WATCH_FRAMES = """() => {
    // note when each picture from the kernel arrives (a comm message with a binary buffer)
    window.__frames = [];
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    kernel.anyMessage.connect((_, args) => {
        if (args.direction === 'recv' && args.msg.header.msg_type === 'comm_msg' && (args.msg.buffers || []).length)
            window.__frames.push(performance.now());
    });
}"""

JS_SLIDER = """(handle) => {
    // which way the slider is moved (up from the lower half of its range, down from the upper
    // half), how many steps there are to that end, where a drag starts (the handle's centre) and
    // how far one step of it is
    const slider = handle.closest('.noUi-target').noUiSlider;
    const {min, max} = slider.options.range;
    const step = slider.options.step || 1;
    const track = handle.closest('.noUi-base').getBoundingClientRect();
    const box = handle.getBoundingClientRect();
    const value = Number(slider.get());
    const up = value - min <= max - value;
    return {up, room: Math.round((up ? max - value : value - min) / step),
            x: box.left + box.width / 2, y: box.top + box.height / 2, step: track.width * step / (max - min)};
}"""

JS_ARM = """([output, quietMs, giveUpMs, workingClass, events]) => {
    // wait until the canvas is whole and still, keep its pixels, then time the next input to new
    // pixels, and to the whole picture
    const canvas = output.querySelector('.jupyter-matplotlib canvas');
    const context = canvas.getContext('2d');
    const read = () => new Uint32Array(context.getImageData(0, 0, canvas.width, canvas.height).data.buffer);
    const differs = (a, b) => { if (a.length !== b.length) return true;
                                for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return true; return false; };
    const frame = () => new Promise(requestAnimationFrame);
    const working = () => output.querySelector('.' + workingClass) !== null;
    const settle = async (before, since, until) => {  // the time of the last change before quietMs still
        while ((performance.now() - since < quietMs || working()) && performance.now() < until) {
            await frame();
            const now = read();
            if (differs(now, before)) { before = now; since = performance.now(); }
        }
        return [before, since];
    };
    return new Promise(armed => { (async () => {
        let [before] = await settle(read(), performance.now(), performance.now() + 60000);
        let input = null;
        const onInput = event => { if (input === null) input = event.timeStamp; };
        events.forEach(name => document.addEventListener(name, onInput, true));
        window.__latency = (async () => {
            const start = performance.now();
            try {
                while (performance.now() - start < giveUpMs + 1000) {
                    await frame();
                    if (input !== null && differs(read(), before)) {
                        const painted = performance.now();
                        const frame = (window.__frames || []).find(t => t >= input) ?? null;
                        const whole = working() ? (await settle(read(), painted, input + giveUpMs))[1] : painted;
                        return {input, painted, whole: working() ? null : whole, frame};
                    }
                    if (input !== null && performance.now() - input > giveUpMs) break;
                }
                return {input, painted: null};
            } finally {
                events.forEach(name => document.removeEventListener(name, onInput, true));
            }
        })();
        armed(true);
    })(); });
}"""


PAGE_STEPS = 5
"""How far noUiSlider moves a slider on PageUp / PageDown."""


def slider_moves(handle, steps: int) -> list[str]:
    """Keys that move a slider ``steps`` steps (as many as there are to its end) and back, then
    PAGE_STEPS at once (PageUp / PageDown) and back where there is room: up from the lower half of
    its range, down from the upper half."""
    at = handle.evaluate(JS_SLIDER)
    steps = min(steps, at["room"])
    forward, back = ("ArrowRight", "ArrowLeft") if at["up"] else ("ArrowLeft", "ArrowRight")
    jump, jump_back = ("PageUp", "PageDown") if at["up"] else ("PageDown", "PageUp")
    return [forward] * steps + [back] * steps + [jump, jump_back] * (at["room"] >= PAGE_STEPS)


INPUT_EVENTS = ["keydown", "input", "change", "pointerdown"]
"""The events that start a wait: the first of them after the page is armed (``pointermove`` too while
a slider is dragged)."""


def timed(page, output, act, parts: list, events=tuple(INPUT_EVENTS)) -> float | None:
    """Seconds from the input ``act()`` makes to new pixels on the canvas, None if none came; adds
    (input → the picture's arrival from the kernel, arrival → painted, input → new pixels, input →
    the whole picture) to ``parts`` (None: not seen; the whole picture within GIVE_UP_MS)."""
    page.evaluate(JS_ARM, [output.element_handle(), QUIET_MS, GIVE_UP_MS, Explorer.WORKING_CLASS, list(events)])
    act()
    got = page.evaluate("() => window.__latency")
    if got["input"] is None or got["painted"] is None:
        return None
    since_input = {name: None if got[name] is None else (got[name] - got["input"]) / 1e3
                   for name in ("frame", "painted", "whole")}
    arrive, painted, whole = since_input.values()
    parts.append((arrive, None if arrive is None else painted - arrive, painted, whole))
    return painted


def dragged(page, output, handle, steps: int, parts: list) -> list:
    """A slider dragged with the mouse ``steps`` steps (as many as there are to its end), one step
    at a time (``DRAG_MIN_PX`` at least), and back (up from the lower half of its range, down from
    the upper half): the wait of each step, from the mouse move."""
    at = handle.evaluate(JS_SLIDER)
    steps = min(steps, at["room"])
    step = max(at["step"], DRAG_MIN_PX) * (1 if at["up"] else -1)
    page.mouse.move(round(at["x"]), at["y"])
    page.mouse.down()
    try:
        return [timed(page, output, lambda k=k: page.mouse.move(round(at["x"] + k * step), at["y"]), parts,
                      events=INPUT_EVENTS + ["pointermove"])
                for k in [*range(1, steps + 1), *range(steps - 1, -1, -1)]]
    finally:
        page.mouse.up()


def measure_explorer(page, output, steps: int, parts: list) -> dict[str, list]:
    """Every enabled control of the explorer used in turn; {control name: latencies (None: no new pixels)}."""
    output.scroll_into_view_if_needed()
    got = {}
    for control in output.evaluate(JS_CONTROLS):
        if control["disabled"]:
            continue
        node = output.locator(f'[data-bench-control="{control["index"]}"]')
        name = f"{control['name']} ({control['kind']})"
        if control["kind"] == "slider":
            node.focus()
            got[name] = [timed(page, output, lambda key=key: node.press(key), parts)
                         for key in slider_moves(node, steps)]
            got[name.replace("(slider)", "(drag)")] = dragged(page, output, node, steps, parts)
        elif control["kind"] == "dropdown":
            options = node.locator("option").evaluate_all("os => os.map(o => o.value)")
            start = options.index(node.input_value())
            order = [options[(start + k) % len(options)] for k in range(1, len(options) + 1)]
            got[name] = [timed(page, output, lambda value=value: node.select_option(value), parts) for value in order]
        else:
            got[name] = [timed(page, output, node.click, parts) for _ in range(2)]
    return got


def run_notebook(browser, server, notebook: Path, passes: int, steps: int) -> list[tuple]:
    """Open and Run All ``notebook``; (explorer text, latencies per control, their parts) for each
    of its explorers."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(60_000)
    local_only(page, [])
    try:
        open_notebook(page, server, notebook.name, f"bench-{notebook.stem}")
        run_all(page)
        names = expected_explorers(notebook)
        outputs = explorer_outputs(page)
        page.wait_for_function(
            "n => document.querySelectorAll('.jp-OutputArea-output .jupyter-matplotlib canvas').length >= 2 * n",
            arg=len(names), timeout=30_000)
        page.wait_for_timeout(READING_S * 1000)
        page.evaluate(JS_WATCH_FRAMES)
        found = []
        for index, name in enumerate(names):
            latencies, parts = {}, []
            for _ in range(passes):
                for control, times in measure_explorer(page, outputs.nth(index), steps, parts).items():
                    latencies.setdefault(control, []).extend(times)
            found.append((name, latencies, parts))
        page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        return found
    finally:
        context.close()


def in_two(parts: list) -> str:
    """What a note says of the pictures that came in two (the whole one once a result was known)."""
    wholes = [whole for _, _, painted, whole in parts if whole is None or whole > painted]
    if None in wholes:
        return f"; {wholes.count(None)} pictures NOT WHOLE within {GIVE_UP_MS} ms"
    return (f"; {len(wholes)} pictures came in two, whole after median/worst {statistics.median(wholes) * 1e3:.0f}/"
            f"{max(wholes) * 1e3:.0f} ms" if wholes else "")


def summary(name: str, latencies: dict, parts: list) -> Result:
    """One explorer's row: median and worst over all its inputs; per control, the two parts of the
    wait (until the picture arrives from the kernel, then until it is painted) and the pictures that
    came in two in the note."""
    seen = {control: [t for t in times if t is not None] for control, times in latencies.items()}
    times = [t for ts in seen.values() for t in ts]
    missing = {control: ts.count(None) for control, ts in latencies.items() if None in ts}
    median, worst = (statistics.median(times), max(times)) if times else (float("inf"), float("inf"))
    per_control = ", ".join(f"{control} {statistics.median(ts) * 1e3:.0f}/{max(ts) * 1e3:.0f}"
                            for control, ts in seen.items() if ts)
    arrive, paint = (statistics.median([part[i] for part in parts if part[i] is not None] or [math.nan]) * 1e3
                     for i in (0, 1))
    note = (f"{len(times)} inputs; median/worst ms per control: {per_control}; median ms until the picture "
            f"arrives {arrive:.0f}, then until painted {paint:.0f}" + in_two(parts)
            + (f"; NO NEW PIXELS within {GIVE_UP_MS} ms: {missing}" if missing else ""))
    return Result(f"felt latency {name.split(':')[0]}", f"median {median * 1e3:.0f} ms, worst {worst * 1e3:.0f} ms",
                  f"<= {MAX_MEDIAN_S * 1e3:.0f} ms median, <= {MAX_WORST_S * 1e3:.0f} ms worst",
                  median <= MAX_MEDIAN_S and worst <= MAX_WORST_S and not missing, note=note)


def run(quick: bool, notebooks=None) -> list[Result]:
    chromium = find_chromium()
    if chromium is None:
        print(f"latency: skipped, {INSTALL_HINT}", flush=True)
        return []
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("latency: skipped, playwright is missing (`make venv` installs it)", flush=True)
        return []
    passes, steps = (1, 2) if quick else (2, 4)
    notebooks = notebooks or [path for path in notebook_paths() if expected_explorers(path)]
    results = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        server = LabServer(Path(tmp)).start()
        browser = launch_chromium(playwright, chromium)
        try:
            for notebook in notebooks:
                started = time.perf_counter()
                for name, latencies, parts in run_notebook(browser, server, notebook, passes, steps):
                    results.append(summary(name, latencies, parts))
                    print(f"  {notebook.stem}: {results[-1].figure} ({time.perf_counter() - started:.0f} s, "
                          f"load {os.getloadavg()[0]:.2f})", flush=True)
        finally:
            browser.close()
            server.stop()
    return results


if __name__ == "__main__":  # python -m benchmarks.bench_latency [NN ...]: some notebooks only
    from benchmarks.run import table

    chosen = [path for path in notebook_paths() if any(path.name.startswith(n) for n in sys.argv[1:])]
    print(table(run(quick="--quick" in sys.argv, notebooks=chosen or None)))
