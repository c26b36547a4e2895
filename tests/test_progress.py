"""EpochProgress: a tqdm bar on a terminal, one plain line per epoch elsewhere."""

import io
import os
import re
import subprocess
import sys
import time

import pytest

from tapereg.runtime.progress import EpochProgress


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def final_frame(text: str) -> str:
    """The bar as last drawn: what follows the last carriage return."""
    assert text.endswith("\n"), "the bar's line was not ended"
    return text.rstrip("\n").rsplit("\r", 1)[-1].rstrip()


def test_not_a_terminal_writes_one_line_per_epoch():
    stream = io.StringIO()
    with EpochProgress(5, stream=stream, n_rows=100) as progress:
        for epoch, loss in enumerate([4.0, 2.5, 1.0 / 3, 1e-9, 0.0]):
            progress(epoch, loss)
    assert stream.getvalue().splitlines() == [
        "epoch 0: loss 4",
        "epoch 1: loss 2.5",
        "epoch 2: loss 0.333333",
        "epoch 3: loss 1e-09",
        "epoch 4: loss 0",
    ]


def test_an_epoch_reported_twice_is_written_once():
    stream = io.StringIO()
    with EpochProgress(3, stream=stream) as progress:
        for epoch in (0, 1, 1, 0, 2):
            progress(epoch, 1.0)
    assert stream.getvalue().splitlines() == [
        "epoch 0: loss 1",
        "epoch 1: loss 1",
        "epoch 2: loss 1",
    ]


def test_nothing_is_written_without_epochs():
    for stream in (io.StringIO(), FakeTerminal()):
        with EpochProgress(100, stream=stream):
            pass
        assert stream.getvalue() == ""


def test_a_terminal_gets_a_bar_with_loss_rates_and_eta():
    stream = FakeTerminal()
    with EpochProgress(10, stream=stream, n_rows=1000) as progress:
        for epoch in range(10):
            time.sleep(0.002)
            progress(epoch, 1.0 / (epoch + 3))
    text = stream.getvalue()
    assert "epoch 0: loss" not in text
    last = final_frame(text)
    assert last.startswith("fit: 100%|")
    assert "| 10/10 loss=0.0833333 [" in last  # 1/12 to 6 significant digits
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d, ", last)  # elapsed < ETA
    assert re.search(r"\d\.\d\d(epoch/s|s/epoch), [\d.]+[kMGTP]? rows/s]$", last)
    # Every frame is one redraw of the same line.
    assert text.count("\n") == 1


def test_rows_per_second_only_with_n_rows():
    stream = FakeTerminal()
    with EpochProgress(3, stream=stream) as progress:
        for epoch in range(3):
            progress(epoch, 0.5)
    assert "rows/s" not in stream.getvalue()
    last = final_frame(stream.getvalue())
    assert re.search(r"\| 3/3 loss=0.5 \[.*(epoch/s|s/epoch)\]$", last)


def test_an_early_stop_closes_the_bar_at_the_epochs_run():
    stream = FakeTerminal()
    with EpochProgress(100, stream=stream, n_rows=50) as progress:
        for epoch in range(7):
            progress(epoch, 2.0**-epoch)
    last = final_frame(stream.getvalue())
    assert last.startswith("fit: 100%|")
    assert "| 7/7 loss=0.015625 [" in last


def test_an_exception_closes_the_bar_where_it_stopped():
    stream = FakeTerminal()
    with (
        pytest.raises(KeyboardInterrupt),
        EpochProgress(100, stream=stream) as progress,
    ):
        for epoch in range(15):
            progress(epoch, 1.0)
        raise KeyboardInterrupt
    last = final_frame(stream.getvalue())
    assert last.startswith("fit:  15%|")
    assert "| 15/100 loss=1 [" in last


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [0, 120])
def test_a_real_terminal_gets_the_bar_even_if_it_reports_no_size(columns):
    # A pty nobody sized (containers, some CI runners) reports 0x0; tqdm alone would
    # draw nothing there.
    master, slave = os.openpty()
    if columns:
        import fcntl
        import struct
        import termios

        size = struct.pack("HHHH", 24, columns, 0, 0)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
    try:
        with (
            open(slave, "w", encoding="utf-8") as terminal,
            EpochProgress(10, stream=terminal, n_rows=10) as progress,
        ):
            for epoch in range(10):
                progress(epoch, 0.125)
        os.set_blocking(master, False)  # all was written: read what is there
        received = b""
        while True:  # until nothing is left (EAGAIN, or EIO once the slave is gone)
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            received += chunk
    finally:
        os.close(master)
    text = received.decode("utf-8").replace("\r\n", "\n")
    last = final_frame(text)
    assert last.startswith("fit: 100%|")
    assert "| 10/10 loss=0.125 [" in last
    assert "█" in last
    if columns:
        assert len(last) <= columns


def test_unknown_total_counts_epochs():
    stream = FakeTerminal()
    with EpochProgress(None, stream=stream) as progress:
        for epoch in range(4):
            progress(epoch, 0.25)
    last = final_frame(stream.getvalue())
    assert last.startswith("fit: 4epoch loss=0.25 [")


def test_the_stream_defaults_to_stderr_at_construction(capsys):
    with EpochProgress(2) as progress:
        progress(0, 3.0)
        progress(1, 2.0)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "epoch 0: loss 3\nepoch 1: loss 2\n"


def test_a_closed_or_odd_stream_is_not_a_terminal():
    closed = io.StringIO()
    closed.close()
    assert not EpochProgress(1, stream=closed).tty
    assert not EpochProgress(1, stream=object()).tty
    assert EpochProgress(1, stream=FakeTerminal()).tty


@pytest.mark.parametrize("module", ["tapereg.cli", "tapereg.runtime.progress"])
def test_tqdm_is_imported_only_when_a_bar_is_drawn(module):
    result = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; print('tqdm' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "False"
