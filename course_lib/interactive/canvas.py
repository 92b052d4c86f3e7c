"""The canvas every explorer draws on: ipympl's, redrawing only what an update moves.

``LayeredCanvas`` is matplotlib "blitting" on ipympl's canvas: the artists an update moves are drawn
on a kept picture of everything else. ipympl is imported without switching the notebook's other
figures to widgets (``_import_ipympl_keeping_the_backend``).
"""

import sys
from io import BytesIO

import numpy as np
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

    def __init__(self, figure):
        super().__init__(figure)
        self.foreground = []
        self._background = None  # (renderer, pixels) of the last full draw
        self._drawing_foreground = False
        figure.stale_callback = self._drop_background

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
