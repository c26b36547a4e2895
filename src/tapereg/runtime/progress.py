"""Per-epoch progress for the command line: a tqdm bar on a terminal, lines elsewhere.

``EpochProgress`` is an ``epoch_callback(epoch, loss)`` for
:meth:`LinearRegressor.fit` and a context manager that finishes its output::

    with EpochProgress(max_epochs, n_rows=n) as progress:
        estimator.fit(X, y, epoch_callback=progress)

On a terminal it draws one tqdm bar: epochs done of the maximum, epochs/s (and rows/s
when ``n_rows`` is given), elapsed time, the ETA and the current loss. Anywhere else
(a file, a pipe, a CI log) it writes ``epoch {k}: loss {L:.6g}`` lines, at most one per
epoch. tqdm is imported only when a bar is drawn, and nothing at all is written until
the first epoch is reported.
"""

from __future__ import annotations

import sys

__all__ = ["EpochProgress"]

# The loss comes before the timings: tqdm trims a line too long for the terminal from
# the right, and the bar itself shrinks first.
_BAR_FORMAT = (
    "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{loss} "
    "[{elapsed}<{remaining}, {rate_fmt}{rows_rate}]"
)
_COUNTER_FORMAT = "{desc}: {n_fmt}{unit}{loss} [{elapsed}, {rate_fmt}{rows_rate}]"


class EpochProgress:
    """Report each epoch's loss: a progress bar on a terminal, plain lines otherwise.

    Parameters
    ----------
    total_epochs : int or None
        The most epochs the fit can run (its ``max_iter``); None if unknown.
    stream : text stream, optional
        Where to write (default: ``sys.stderr`` at construction). A bar is drawn
        when ``stream.isatty()`` is true.
    n_rows : int, optional
        Rows one epoch passes over; with it the bar also shows rows/s.

    Call the instance as ``progress(epoch, loss)`` with epochs counted from 0 (the
    estimator's ``epoch_callback`` contract); an epoch reported again, or out of
    order, is ignored. Leaving the ``with`` block closes the bar: after an early stop
    (tolerance reached) its total becomes the epochs actually run, and after an
    exception it stays at the epoch reached, on a line of its own.
    """

    def __init__(self, total_epochs, *, stream=None, n_rows=None):
        self.total_epochs = total_epochs
        self.stream = sys.stderr if stream is None else stream
        self.n_rows = n_rows
        self.tty = _is_terminal(self.stream)
        self.epochs_done = 0
        self.loss = None
        self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        self.close(finished=exc_type is None)
        return False

    def __call__(self, epoch, loss):
        if epoch < self.epochs_done:
            return
        self.epochs_done = epoch + 1
        self.loss = loss
        if not self.tty:
            print(f"epoch {epoch}: loss {loss:.6g}", file=self.stream)
            return
        if self._bar is None:
            # The clock starts at the first report, so the rate and the ETA leave out
            # the first epoch, which also pays for tracing and compiling the loop.
            self._bar = self._open_bar(initial=self.epochs_done)
        else:
            # tqdm redraws at most every 0.1 s; the loss is formatted only then.
            self._bar.update(self.epochs_done - self._bar.n)

    def close(self, *, finished=True):
        """Draw the bar's final state and end its line (nothing if none was drawn).

        With ``finished`` (no exception) a fit that stopped before
        ``total_epochs`` shows its own epoch count as the total, 100% done.
        """
        bar, self._bar = self._bar, None
        if bar is None:
            return
        if finished and bar.total is not None and bar.n < bar.total:
            bar.total = bar.n
        bar.close()

    def _open_bar(self, initial):
        from tqdm import tqdm

        progress = self

        class _EpochBar(tqdm):
            # Updates arrive in bursts, one per compiled chunk, in one thread; the
            # fixed miniters=1 makes a monitor thread useless.
            monitor_interval = 0

            def _forget_a_zero_size(self):
                # A terminal that reports no size (a pty nobody sized, as in some
                # containers and CI runners) reads as -1 columns and -1 rows, and
                # tqdm would then draw nothing at all: draw an untrimmed line.
                if self.ncols is not None and self.ncols < 1:
                    self.ncols = None
                if self.nrows is not None and self.nrows < 1:
                    self.nrows = None

            def display(self, msg=None, pos=None):
                self._forget_a_zero_size()
                return super().display(msg, pos)

            @property
            def format_dict(self):
                values = super().format_dict
                self._forget_a_zero_size()
                values["ncols"], values["nrows"] = self.ncols, self.nrows
                rate = values["rate"]
                if rate is None and values["elapsed"]:
                    rate = (values["n"] - values["initial"]) / values["elapsed"]
                values["rows_rate"] = (
                    f", {tqdm.format_sizeof(rate * progress.n_rows)} rows/s"
                    if progress.n_rows and rate
                    else ""
                )
                values["loss"] = (
                    "" if progress.loss is None else f" loss={progress.loss:.6g}"
                )
                return values

        return _EpochBar(
            total=self.total_epochs,
            initial=initial,
            desc="fit",
            unit="epoch",
            file=self.stream,
            bar_format=_COUNTER_FORMAT if self.total_epochs is None else _BAR_FORMAT,
            miniters=1,
            dynamic_ncols=True,
        )


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
