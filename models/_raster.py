"""Pixel rasters over a grid's cells and radial kernels applied to them (``sepp``).

Hand-written. The raster carries the background density and integrates each trigger over
each cell; kernels are exact pixel masses (Gaussian, separable) or sub-sampled 2-D weights
(exponential, applied by FFT).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, signal, special

#: The exponential kernel has heavier tails: its radius (in σ) is this much larger.
EXPONENTIAL_REACH = 2.5


class Raster:
    """Square pixels of ``cell_size / m`` over the cells' bounding box; ``mask`` marks
    pixels inside existing cells. Images are ``(rows, cols)`` with row 0 at the bottom.

    Squares sit at ``offset + k * cell_size`` (the cube's ``grid_offset_m``), so event
    coordinates land in the pixels of the cell the grid assigns them to; ``absorbed``
    (``ix, iy, host position`` arrays: boundary slivers merged into a neighbour) are
    inside the mask and summed into their host."""

    def __init__(self, ix: np.ndarray, iy: np.ndarray, cell_size: float, m: int, *,
                 offset: tuple[float, float] = (0.0, 0.0),
                 absorbed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
        self.m, self.pixel = int(m), cell_size / m
        self.ix, self.iy, self.cell_size, self.offset = ix, iy, cell_size, offset
        self.absorbed = absorbed
        ax, ay, self.hosts = absorbed if absorbed is not None else ([], [], [])
        all_ix, all_iy = np.r_[ix, ax].astype(np.int64), np.r_[iy, ay].astype(np.int64)
        self.ix0, self.iy0 = int(all_ix.min()), int(all_iy.min())
        self.n_cols = int(all_ix.max()) - self.ix0 + 1
        self.n_rows = int(all_iy.max()) - self.iy0 + 1
        self.cell_cols, self.cell_rows = ix - self.ix0, iy - self.iy0
        self.absorbed_cols = all_ix[ix.size:] - self.ix0
        self.absorbed_rows = all_iy[iy.size:] - self.iy0
        cells = np.zeros((self.n_rows, self.n_cols), dtype=bool)
        cells[all_iy - self.iy0, all_ix - self.ix0] = True
        self.mask = np.repeat(np.repeat(cells, self.m, axis=0), self.m, axis=1)
        self.shape = self.mask.shape
        self.x0 = self.ix0 * cell_size + offset[0]
        self.y0 = self.iy0 * cell_size + offset[1]

    def finer(self, m: int) -> Raster:
        """The same cells with ``m`` pixels per cell side."""
        return Raster(self.ix, self.iy, self.cell_size, m, offset=self.offset,
                      absorbed=self.absorbed)

    def flat_index(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        col = np.clip(np.floor((x - self.x0) / self.pixel), 0, self.shape[1] - 1)
        row = np.clip(np.floor((y - self.y0) / self.pixel), 0, self.shape[0] - 1)
        return (row * self.shape[1] + col).astype(np.int64)

    def event_index(self, x: np.ndarray, y: np.ndarray, cell: np.ndarray) -> np.ndarray:
        """Flat pixel of each event, always inside the region: the pixel its coordinates
        fall in when that pixel is in the mask, else the nearest pixel of the cell the
        grid assigned it to (``cell``: positions in the cube).

        The grid and the raster place points by different rules at the edges (a point on
        the area's top or right boundary goes to the cell below or left of it; cubes from
        before slivers were in the mask), and a pixel outside the mask has background
        density exactly 0: an event there with no earlier event near it (common with
        month-resolution times, where same-month events never pair) would have zero
        intensity, a log-likelihood of −∞ and a 0/0 background probability.
        """
        flat = self.flat_index(x, y)
        out = ~self.mask.ravel()[flat]
        if out.any():
            col = np.floor((x[out] - self.x0) / self.pixel)
            row = np.floor((y[out] - self.y0) / self.pixel)
            c0, r0 = self.cell_cols[cell[out]] * self.m, self.cell_rows[cell[out]] * self.m
            col = np.clip(col, c0, c0 + self.m - 1)
            row = np.clip(row, r0, r0 + self.m - 1)
            flat[out] = (row * self.shape[1] + col).astype(np.int64)
        return flat

    def image(self, flat: np.ndarray, weights: np.ndarray) -> np.ndarray:
        size = self.shape[0] * self.shape[1]
        return np.bincount(flat, weights=weights, minlength=size).reshape(self.shape)

    def image_linear(self, x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Weights shared among the four nearest pixel centres (bilinear binning: the
        centre of mass is kept, so the binning error is second order in the pixel)."""
        u = np.clip((x - self.x0) / self.pixel - 0.5, 0, self.shape[1] - 1)
        v = np.clip((y - self.y0) / self.pixel - 0.5, 0, self.shape[0] - 1)
        c0 = np.minimum(np.floor(u).astype(np.int64), self.shape[1] - 2)
        r0 = np.minimum(np.floor(v).astype(np.int64), self.shape[0] - 2)
        fu, fv = u - c0, v - r0
        if self.shape[1] == 1:
            c0, fu = np.zeros_like(c0), np.zeros_like(fu)
        if self.shape[0] == 1:
            r0, fv = np.zeros_like(r0), np.zeros_like(fv)
        image = np.zeros(self.shape)
        for dr, wr in ((0, 1 - fv), (1, fv)):
            for dc, wc in ((0, 1 - fu), (1, fu)):
                rows = np.minimum(r0 + dr, self.shape[0] - 1)
                cols = np.minimum(c0 + dc, self.shape[1] - 1)
                image += np.bincount(rows * self.shape[1] + cols, weights=weights * wr * wc,
                                     minlength=image.size).reshape(self.shape)
        return image

    def cell_sums(self, image: np.ndarray) -> np.ndarray:
        blocks = image.reshape(self.n_rows, self.m, self.n_cols, self.m).sum(axis=(1, 3))
        sums = blocks[self.cell_rows, self.cell_cols]
        if self.absorbed is not None:
            sums = sums + np.bincount(self.hosts, blocks[self.absorbed_rows, self.absorbed_cols],
                                      minlength=sums.size)
        return sums


class Kernel:
    """A radial kernel's mass per pixel (for a point at a pixel centre), applied to images
    by correlation: separable exact pixel integrals for the Gaussian, sub-sampled 2-D
    weights and FFT for the exponential. Mass falling off the image is lost."""

    def __init__(self, kind: str, scale: float, pixel: float) -> None:
        if not (np.isfinite(scale) and scale > 0 and np.isfinite(pixel) and pixel > 0):
            # a NaN here means a fit went wrong upstream: say so rather than fail in int()
            raise ValueError(f"kernel scale and pixel must be positive and finite, got "
                             f"scale={scale}, pixel={pixel}")
        self.kind, self.scale, self.pixel = kind, float(scale), float(pixel)
        if kind == "gaussian":
            k = int(np.ceil(5.0 * scale / pixel))
            o = np.arange(-k, k + 1)
            self.weights = special.ndtr((o + 0.5) * pixel / scale) - special.ndtr(
                (o - 0.5) * pixel / scale)
        else:
            k = int(np.ceil(4.0 * EXPONENTIAL_REACH * scale / pixel))
            sub = 5
            u = (np.arange(-k * sub, (k + 1) * sub) + 0.5) / sub - 0.5
            gx, gy = np.meshgrid(u * pixel, u * pixel)
            dens = np.exp(-np.hypot(gx, gy) / scale) / (2 * np.pi * scale**2)
            n = 2 * k + 1
            self.weights = dens.reshape(n, sub, n, sub).sum(axis=(1, 3)) * (pixel / sub) ** 2

    def apply(self, image: np.ndarray) -> np.ndarray:
        if self.kind == "gaussian":
            out = ndimage.correlate1d(image, self.weights, axis=0, mode="constant")
            return ndimage.correlate1d(out, self.weights, axis=1, mode="constant")
        return signal.fftconvolve(image, self.weights, mode="same")
