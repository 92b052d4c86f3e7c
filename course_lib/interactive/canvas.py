"""The canvas every explorer draws on: ipympl's, redrawing only what an update moves.

``LayeredCanvas`` is matplotlib "blitting" on ipympl's canvas: the artists an update moves are drawn
on a kept picture of everything else. ipympl is imported without switching the notebook's other
figures to widgets (``_import_ipympl_keeping_the_backend``).
"""

import sys
from base64 import b64encode
from contextlib import contextmanager
from io import BytesIO

import numpy as np
from ipywidgets import DOMWidget
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image


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
        self._saved_picture_timer = self.new_timer(interval=self.SAVED_PICTURE_DELAY_MS)
        self._saved_picture_timer.single_shot = True
        self._saved_picture_timer.add_callback(self._send_saved_picture)

    def _drop_background(self, figure, stale) -> None:
        if not self._drawing_foreground:  # drawing a legend re-places its parts: no change to keep
            self._background = None

    def render(self) -> None:
        """Draw the figure on the Agg renderer: kept background + foreground, or everything."""
        renderer = self.get_renderer()
        if self._background is None or self._background[0] is not renderer:
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
    def drawing_once(self):
        """Within, ``draw_idle`` only notes that a draw is due; at the end, one draw, right away.

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
            elif due:
                self.draw()

    def draw_idle(self) -> None:
        if self._draw_due is None:
            super().draw_idle()
        else:
            self._draw_due = True

    def draw(self) -> None:
        """What the browser's "draw" request runs: render, then send the picture."""
        self._png_is_old = True
        try:
            self.render()
        finally:
            self.manager.refresh_all()

    def get_diff_image(self) -> bytes | None:
        """The whole picture as a PNG, every time (ipympl would send only the changed pixels).

        Every open view of the notebook (two browser tabs, a slideshow) asks for each new frame and
        gets every frame sent. A view that drops a frame of changed pixels would keep a mix of old
        and new pictures; a whole picture replaces whatever it missed. Fast PNG compression keeps a
        whole frame (about 65 kB) quicker to make than ipympl's default change-only frame.
        """
        if not self._png_is_old:
            return None
        self._png_is_old = False
        self.set_image_mode("full")
        pixels = np.asarray(self.get_renderer().buffer_rgba())
        with BytesIO() as png:
            Image.fromarray(pixels).save(png, format="png", compress_level=1)
            return png.getvalue()

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
