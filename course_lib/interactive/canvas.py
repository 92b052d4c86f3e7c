"""The canvas every explorer draws on: ipympl's, redrawing only what an update moves.

``LayeredCanvas`` is matplotlib "blitting" on ipympl's canvas: the artists an update moves are drawn
on a kept picture of everything else. ipympl is imported without switching the notebook's other
figures to widgets (``_import_ipympl_keeping_the_backend``).
"""

import struct
import sys
import threading
import zlib
from base64 import b64encode
from collections.abc import Callable, Hashable
from contextlib import contextmanager

import numpy as np
from ipywidgets import DOMWidget
from matplotlib.backends.backend_agg import FigureCanvasAgg


def _import_ipympl_keeping_the_backend():
    """ipympl's Canvas and FigureManager, imported without ipympl's side effect.

    When matplotlib is already imported, ``import ipympl`` calls
    ``matplotlib.use("module://ipympl.backend_nbagg")``, which would turn every later pyplot
    figure of the notebook into a widget. Its package ``__init__`` tests ``"matplotlib" in
    sys.modules``, so matplotlib is hidden from it for that one import.
    """
    if "ipympl" not in sys.modules:
        hidden = sys.modules.pop("matplotlib")
        try:
            import ipympl  # noqa: F401
        finally:
            sys.modules["matplotlib"] = hidden
    from ipympl.backend_nbagg import Canvas, FigureManager

    return Canvas, FigureManager


Canvas, FigureManager = _import_ipympl_keeping_the_backend()


def png_bytes(pixels: np.ndarray) -> bytes:
    """A PNG of an (height, width, 4) RGBA array, made for speed: RGB when every pixel is opaque, no
    row filters, zlib's fastest level. A frame of an explorer (800 × 350) takes about 3.5 ms here,
    against 7–7.5 ms with Pillow, which tries every row filter on every row; it comes out 10–20 %
    smaller, RGB having three bytes a pixel where Pillow writes four.
    """
    height, width, _ = pixels.shape
    opaque = bool((pixels[..., 3] == 255).all())
    channels = 3 if opaque else 4
    rows = np.zeros((height, 1 + width * channels), np.uint8)  # each row: filter type 0 (none), its bytes
    rows[:, 1:] = pixels[..., :channels].reshape(height, -1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2 if opaque else 6, 0, 0, 0)  # 8 bits; RGB or RGBA

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 1))
            + chunk(b"IEND", b""))


class LayeredCanvas(Canvas):
    """ipympl's canvas, redrawing only the artists an update moves (matplotlib's "blitting").

    Drawing a figure costs tens of milliseconds, most of it in what an update leaves alone: axes,
    ticks, labels, contours. So the artists an update does move (paths, curves, status lines) are
    registered in ``foreground`` and marked animated, which leaves them out of matplotlib's
    normal draw. The first draw renders the rest, the background, and keeps its pixels; each
    later draw pastes those pixels back and draws the foreground on top. Any change to a
    background artist (an axis limit, a visible contour) makes the figure stale, and the
    figure's stale callback drops the kept pixels: the next draw renders everything again.
    The foreground is drawn last, so it covers whatever background artist it crosses.

    A reader drags a slider back and forth: the same pictures come round again. With a
    ``picture_key`` (a function naming what the foreground shows, such as the explorer's control
    values), each picture drawn on the current background is kept, and a picture shown before is
    sent again without drawing or encoding it. A new background forgets them all.
    """

    SAVED_PICTURE_DELAY_MS = 200
    """How long after the last frame the kernel sends it as the picture a saved notebook keeps."""

    def __init__(self, figure):
        super().__init__(figure)
        self.foreground = []
        self._background = None  # (renderer, pixels) of the last full draw
        self._drawing_foreground = False
        figure.stale_callback = self._drop_background
        self._draw_due = None  # inside drawing_once(): whether draw_idle was called
        self._last_png = None
        self.picture_key: Callable[[], Hashable] | None = None
        self._pictures = {}  # picture_key() → PNG, drawn on the kept background
        self._frame = None  # the PNG of the last draw, until it is sent
        self._drawing_ahead = None  # inside drawing_ahead(): [whether the background changed]
        self.lock = threading.RLock()  # held while the figure changes or is drawn: one thread at a time
        self.catching_up: Callable[[], None] | None = None  # run before a draw: the figure back at the controls
        self._saved_picture_timer = self.new_timer(interval=self.SAVED_PICTURE_DELAY_MS)
        self._saved_picture_timer.single_shot = True
        self._saved_picture_timer.add_callback(self._send_saved_picture)

    def _drop_background(self, figure, stale) -> None:
        if self._drawing_ahead is not None:  # noted, and undone before the background is used again
            self._drawing_ahead[0] = True
        elif not self._drawing_foreground:  # drawing a legend re-places its parts: no change to keep
            self._background = None
            self._pictures.clear()

    def render(self) -> None:
        """Draw the figure on the Agg renderer: kept background + foreground, or everything."""
        renderer = self.get_renderer()
        if not self.background_is_kept():
            self._pictures.clear()
            FigureCanvasAgg.draw(self)  # everything but the foreground
            self._background = (renderer, self.copy_from_bbox(self.figure.bbox))
        else:
            self.restore_region(self._background[1])
        self._drawing_foreground = True
        try:
            for artist in sorted(self.foreground, key=lambda artist: artist.get_zorder()):
                self.figure.draw_artist(artist)
        finally:
            self._drawing_foreground = False

    @contextmanager
    def drawing_ahead(self):
        """Within, the figure may show a setting the reader has not chosen yet: nothing is drawn or
        sent, and a change to the background is only noted (``changed[0]``), not acted on; the
        caller undoes it before the block ends. ``keep_picture`` draws the foreground meanwhile."""
        changed = [False]
        self._drawing_ahead, self._draw_due = changed, False
        try:
            yield changed
        finally:
            self._drawing_ahead, self._draw_due = None, None

    def has_picture(self, key: Hashable) -> bool:
        """Whether the picture ``key`` is kept, drawn on the current background."""
        return self.background_is_kept() and key in self._pictures

    def keep_picture(self, key: Hashable, whole: bool = False) -> None:
        """Draw the foreground as it is on the kept background, and keep the picture as ``key``.
        ``whole``: the background changed too (inside ``drawing_ahead``): draw everything, and keep
        the background and pictures of the figure as it was."""
        if whole:
            kept, pictures = self._background, self._pictures
            self._background, self._pictures = None, {}
            try:
                self.render()
            finally:
                self._background, self._pictures = kept, pictures
        else:
            self.render()
        self._keep(key, png_bytes(np.asarray(self.get_renderer().buffer_rgba())))

    def send_picture(self, key: Hashable) -> bool:
        """Send the kept picture ``key`` to every view, as a draw would; False when it is not kept."""
        if not self.has_picture(key):
            return False
        self._png_is_old, self._frame = True, self._pictures[key]
        self.manager.refresh_all()
        return True

    @contextmanager
    def drawing_once(self, draw: bool = True):
        """Within, ``draw_idle`` only notes that a draw is due; at the end, one draw, right away.
        With ``draw=False`` the browser shows the picture already: nothing is sent, but a changed
        background is rendered again and kept, so that pictures drawn ahead have a background to be
        drawn on. (The picture is not kept: on the thread that draws ahead, the reader may have
        moved a control meanwhile, and ``picture_key`` would name the new setting.)

        ipympl's ``draw_idle`` asks the browser to ask back for a draw: a round trip through the
        browser that waits, in the kernel, behind the next slider value already sent. An explorer
        updates within this block, so the kernel renders and sends the new picture as soon as the
        artists have moved. Before a browser has shown the canvas (a notebook run without one)
        the draw is left to ipympl's way, which waits for a browser.
        """
        self._draw_due = False
        try:
            yield
        finally:
            due, self._draw_due = self._draw_due, None
            if due and self.syncing_data_url:  # no browser has shown the canvas yet
                super().draw_idle()
            elif due and draw:
                self.draw()
            elif due and not self.background_is_kept():
                self.render()

    def draw_idle(self) -> None:
        if self._drawing_ahead is not None:
            return
        if self._draw_due is None:
            super().draw_idle()
        else:
            self._draw_due = True

    def background_is_kept(self) -> bool:
        """Whether the pixels under the foreground are kept (not before a browser's first draw,
        nor after the figure changed size or resolution): pictures are drawn on them."""
        return self._background is not None and self._background[0] is self.get_renderer()

    def draw(self) -> None:
        """What the browser's "draw" request runs: the picture (kept, or rendered), then send it."""
        with self.lock:
            if self.catching_up is not None:
                self.catching_up()
            self._png_is_old = True
            try:
                key = self.picture_key() if self.picture_key is not None else None
                self._frame = self._pictures.get(key) if self.background_is_kept() else None
                if self._frame is None:
                    self.render()
                    self._frame = png_bytes(np.asarray(self.get_renderer().buffer_rgba()))
                    if key is not None:
                        self._keep(key, self._frame)
            finally:
                self.manager.refresh_all()

    PICTURES_KEPT = 64
    """At most this many pictures kept per canvas (about 55 kB each), the oldest forgotten first."""

    def _keep(self, key: Hashable, png: bytes) -> None:
        self._pictures.pop(key, None)
        self._pictures[key] = png
        while len(self._pictures) > self.PICTURES_KEPT:
            del self._pictures[next(iter(self._pictures))]

    def get_diff_image(self) -> bytes | None:
        """The whole picture as a PNG, every time (ipympl would send only the changed pixels).

        Every open view of the notebook (two browser tabs, a slideshow) asks for each new frame and
        gets every frame sent. A view that drops a frame of changed pixels would keep a mix of old
        and new pictures; a whole picture replaces whatever it missed. A fast PNG (``png_bytes``)
        keeps a whole frame (about 55 kB) quicker to make than ipympl's default change-only frame.
        """
        if not self._png_is_old:
            return None
        self._png_is_old = False
        self.set_image_mode("full")
        frame, self._frame = self._frame, None
        return frame if frame is not None else png_bytes(np.asarray(self.get_renderer().buffer_rgba()))

    def send_binary(self, data: bytes) -> None:
        """Send a frame to every view; once the frames stop, send it again as the saved picture.

        JupyterLab saves each canvas's ``_data_url`` in the notebook, and a reopened notebook shows
        it until it runs again. ipympl's views set it from their canvas as a frame arrives, before
        they have painted that frame: the saved picture would be one frame behind. So the kernel
        sends the last frame as ``_data_url`` once none has followed for SAVED_PICTURE_DELAY_MS
        (not with every frame: a drag would send each picture twice). ipympl's own send_binary
        would also re-encode its change-only buffer, which this canvas never fills.
        """
        self.send({"data": '{"type": "binary"}'}, buffers=[data])
        self._last_png = data
        self._saved_picture_timer.start()  # restarts the wait

    def _send_saved_picture(self) -> None:
        self._data_url = "data:image/png;base64," + b64encode(self._last_png).decode("ascii")
        if not self.syncing_data_url:  # once a view is up, ipympl's send_state leaves _data_url out
            DOMWidget.send_state(self, "_data_url")
