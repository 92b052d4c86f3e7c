"""The frames an explorer's canvas sends (course_lib.interactive.canvas.LayeredCanvas): a whole
picture each time, none when nothing is new, the kernel's pixels exactly; and, once the frames
stop, the last one as the picture a saved notebook keeps. Shown on the momentum explorer of
notebook 02, with no browser: the messages the canvas would send are recorded instead."""

import asyncio
import base64
import io
import statistics
import threading
import time

import numpy as np
import pytest
from matplotlib.backends.backend_webagg_core import FigureCanvasWebAggCore
from PIL import Image

from course_lib.interactive.canvas import LayeredCanvas, png_bytes
from course_lib.lessons import momentum

LR_STEPS = (0.036, 0.04, 0.045, 0.05, 0.056, 0.063)


@pytest.fixture
def explorer():
    return momentum.MomentumExplorer(lr=0.036, beta=0.7, condition=50, nesterov=False)


@pytest.fixture
def sent(explorer, monkeypatch):
    """The messages the canvas sends to the browser, as (content, buffers)."""
    messages = []
    monkeypatch.setattr(explorer.canvas.comm, "send",
                        lambda data=None, metadata=None, buffers=None: messages.append((data, buffers)))
    return messages


def agg_pixels(canvas) -> np.ndarray:
    return np.asarray(canvas.get_renderer().buffer_rgba()).copy()


def decoded(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def frame(canvas) -> bytes | None:
    """What ipympl's "draw" does up to the frame: render, then ask for the picture to send."""
    canvas._png_is_old = True
    canvas.render()
    return canvas.get_diff_image()


def test_every_frame_is_the_whole_picture_exactly_and_there_is_none_when_nothing_is_new(explorer):
    canvas = explorer.canvas
    for lr in LR_STEPS[:3]:
        explorer.controls["lr"].value = lr
        png = frame(canvas)
        assert canvas._current_image_mode == "full"  # the browser clears before it paints
        np.testing.assert_array_equal(decoded(png), agg_pixels(canvas))
        assert canvas.get_diff_image() is None  # asked again with nothing drawn since


def frames_and_saved_pictures(sent) -> tuple[list[bytes], list[str]]:
    """The PNG frames sent, and the pictures sent as ``_data_url`` (among other messages)."""
    frames = [buffers[0] for content, buffers in sent
              if content.get("method") == "custom" and content["content"] == {"data": '{"type": "binary"}'}]
    saved = [content["state"]["_data_url"] for content, _ in sent
             if content.get("method") == "update" and "_data_url" in content["state"]]
    return frames, saved


def test_a_frame_the_browser_asks_for_goes_to_it_and_a_moment_later_is_the_saved_picture(explorer, sent):
    canvas = explorer.canvas
    canvas.draw()  # also with no browser yet (ipympl's own send_binary failed here: an empty image)
    [png], [] = frames_and_saved_pictures(sent)
    np.testing.assert_array_equal(decoded(png), agg_pixels(canvas))
    timer = canvas._saved_picture_timer
    assert timer.single_shot and timer.interval == LayeredCanvas.SAVED_PICTURE_DELAY_MS

    canvas._send_saved_picture()  # what the timer runs
    [_], [url] = frames_and_saved_pictures(sent)
    assert url.startswith("data:image/png;base64,")
    np.testing.assert_array_equal(decoded(base64.b64decode(url.split(",", 1)[1])), agg_pixels(canvas))


@pytest.mark.parametrize("browser", ["no browser yet", "a browser shows the canvas"])
def test_the_saved_picture_waits_for_the_frames_to_stop(explorer, sent, browser):
    """Frames closer together than the delay restart the wait: one saved picture, the last frame
    (sent by ipympl's own send_state before a browser has shown the canvas, by the canvas after)."""
    canvas = explorer.canvas
    if browser != "no browser yet":
        canvas._handle_message(canvas, {"type": "initialized"}, [])  # what ipympl's view sends first
        assert not canvas.syncing_data_url
    delay_s = LayeredCanvas.SAVED_PICTURE_DELAY_MS / 1000

    async def frames_then_a_pause():
        for number in range(5):
            canvas.send_binary(f"frame {number}".encode())
            await asyncio.sleep(delay_s / 10)
        await asyncio.sleep(delay_s * 3)

    # in a thread of its own: an event loop may be running in this one (the browser tests' playwright)
    thread = threading.Thread(target=asyncio.run, args=(frames_then_a_pause(),))
    thread.start()
    thread.join()
    frames, saved = frames_and_saved_pictures(sent)
    assert len(frames) == 5
    assert saved == ["data:image/png;base64," + base64.b64encode(b"frame 4").decode("ascii")]


def test_time_and_size_of_a_frame_against_ipympls_change_only_frame(explorer):
    """Not a bound (the machine's load varies): the figures are printed, for the README and reviews."""
    canvas = explorer.canvas
    ours, ipympls = [], []
    for lr in LR_STEPS * 3:
        explorer.controls["lr"].value = lr
        canvas.render()
        for get, times in ((LayeredCanvas.get_diff_image, ours),
                           (FigureCanvasWebAggCore.get_diff_image, ipympls)):
            canvas._png_is_old = True
            started = time.perf_counter()
            png = get(canvas)
            times.append((time.perf_counter() - started, len(png)))
    for name, times in (("whole frame (course)", ours), ("change-only frame (ipympl)", ipympls)):
        print(f"{name}: median {statistics.median(t for t, _ in times) * 1e3:.1f} ms, "
              f"median {statistics.median(n for _, n in times) / 1e3:.0f} kB")


@pytest.mark.parametrize("alpha", ["opaque", "transparent"])
def test_png_bytes_decodes_to_the_pixels_exactly(alpha):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(7, 5, 4), dtype=np.uint8)
    if alpha == "opaque":
        pixels[..., 3] = 255
    png = png_bytes(pixels)
    image = Image.open(io.BytesIO(png))
    assert image.mode == ("RGB" if alpha == "opaque" else "RGBA")  # three channels where the fourth says nothing
    np.testing.assert_array_equal(decoded(png), pixels)


def count_renders(canvas, monkeypatch) -> list:
    renders = []
    render = canvas.render
    monkeypatch.setattr(canvas, "render", lambda: renders.append(1) or render())
    return renders


@pytest.fixture
def shown(explorer, sent):
    """The explorer once a browser shows it (each update then sends its frame at once)."""
    explorer.canvas._handle_message(explorer.canvas, {"type": "initialized"}, [])
    return explorer


def last_frame(sent) -> bytes:
    return frames_and_saved_pictures(sent)[0][-1]


def fresh_frame(canvas, sent) -> bytes:
    """The picture the canvas draws now with nothing kept."""
    canvas._background = None
    canvas._pictures.clear()
    canvas.draw()
    return last_frame(sent)


def test_a_picture_shown_before_is_sent_again_without_drawing_it(shown, sent, monkeypatch):
    canvas = shown.canvas
    renders = count_renders(canvas, monkeypatch)
    first = {}
    for lr in LR_STEPS[:3]:
        shown.set(lr=lr)
        first[lr] = last_frame(sent)
    assert len(renders) == 3
    for lr in LR_STEPS[1::-1]:  # back the way it came
        shown.set(lr=lr)
        assert last_frame(sent) == first[lr]
    assert len(renders) == 3  # nothing drawn again
    assert fresh_frame(canvas, sent) == first[LR_STEPS[0]]  # the kept picture is the one drawing gives


def test_a_new_background_forgets_the_kept_pictures(shown, sent, monkeypatch):
    canvas = shown.canvas
    shown.set(lr=LR_STEPS[0])
    shown.set(lr=LR_STEPS[1])
    assert len(canvas._pictures) == 2
    shown.axes[1].set_ylabel("another label")  # what new axis limits do: a background artist changes
    assert canvas._background is None and not canvas._pictures
    renders = count_renders(canvas, monkeypatch)
    shown.set(lr=LR_STEPS[0])  # a setting seen on the old background: drawn again
    assert len(renders) == 1
    assert last_frame(sent) == fresh_frame(canvas, sent)


def test_without_a_picture_key_every_draw_renders(shown, sent, monkeypatch):
    canvas = shown.canvas
    canvas.picture_key = None
    renders = count_renders(canvas, monkeypatch)
    for lr in (LR_STEPS[0], LR_STEPS[1], LR_STEPS[0]):
        shown.set(lr=lr)
    assert len(renders) == 3 and not canvas._pictures
