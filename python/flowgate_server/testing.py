"""A drop-in for `prefect.testing.utilities.prefect_test_harness` that starts a Flowgate server
instead of Prefect's: on a free port the operating system picks, with a temporary home (its
SQLite database), the `prefect` client pointed at it while the harness is active, and the server
stopped and its home removed afterwards, however the block ends.

    from flowgate_server.testing import flowgate_test_harness

    def test_my_favorite_flow():
        with flowgate_test_harness():
            assert my_favorite_flow() == 42

With pytest, the `flowgate_harness` fixture does the same once per session (add
`pytest_plugins = ["flowgate_server.testing"]` to a `conftest.py`, or import the fixture).
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Iterator, Optional

from . import binary

__all__ = ["FlowgateServerError", "FlowgateTestServer", "flowgate_test_harness", "start_server"]

#: What `flowgate server start` prints once it is listening, before the API URL.
_LISTENING = "Flowgate API listening at "


class FlowgateServerError(RuntimeError):
    """The test server did not start; the message ends with what the server itself said."""


@dataclass
class FlowgateTestServer:
    """A running `flowgate server start` for tests."""

    api_url: str
    home: str
    process: subprocess.Popen
    #: Seconds from starting the process to its API answering.
    startup_seconds: float
    _output: list = field(default_factory=list, repr=False)

    def output(self) -> str:
        """Everything the server has written to stderr so far."""
        return "".join(self._output)

    def stop(self) -> None:
        """Stops the server (SIGTERM, then SIGKILL after 10 s) and removes its home."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.home, ignore_errors=True)


def start_server(timeout: float = 30.0, extra_args: tuple[str, ...] = ()) -> FlowgateTestServer:
    """Starts a Flowgate server on a free port with a temporary home and waits until its API
    answers. Raises `FlowgateServerError` with the server's own output when it exits or does
    not answer within `timeout` seconds (the process is then stopped)."""
    home = tempfile.mkdtemp(prefix="flowgate-test-")
    started = time.perf_counter()
    try:
        process = subprocess.Popen(
            [binary(), "server", "start", "--host", "127.0.0.1", "--port", "0", "--log-level", "warn", *extra_args],
            env={**_environ(), "FLOWGATE_HOME": home},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError as e:
        shutil.rmtree(home, ignore_errors=True)
        raise FlowgateServerError(f"could not run the flowgate binary: {e}") from e
    output: list[str] = []
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_drain, args=(process, output, lines), daemon=True).start()
    server = FlowgateTestServer(api_url="", home=home, process=process, startup_seconds=0.0, _output=output)
    deadline = started + timeout
    try:
        while not server.api_url:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.perf_counter()))
            except queue.Empty:
                raise FlowgateServerError(f"the flowgate server did not start within {timeout} s; it said:\n{server.output()}")
            if line is None:
                process.wait()
                raise FlowgateServerError(f"the flowgate server exited with status {process.returncode}; it said:\n{server.output()}")
            if line.startswith(_LISTENING):
                server.api_url = line[len(_LISTENING):].strip()
        _wait_healthy(server, deadline)
    except BaseException:
        server.stop()
        raise
    server.startup_seconds = time.perf_counter() - started
    return server


def _environ() -> dict:
    return dict(os.environ)


def _drain(process: subprocess.Popen, output: list, lines: queue.Queue) -> None:
    """Keeps reading the server's stderr (so it never blocks on a full pipe), handing each line
    on; `None` once it closes."""
    assert process.stderr is not None
    for line in process.stderr:
        output.append(line)
        lines.put(line)
    lines.put(None)


def _wait_healthy(server: FlowgateTestServer, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(f"{server.api_url}/health", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if server.process.poll() is not None or time.perf_counter() > deadline:
            raise FlowgateServerError(f"the flowgate server's API did not answer; it said:\n{server.output()}")
        time.sleep(0.002)


@contextlib.contextmanager
def flowgate_test_harness(server_startup_timeout: Optional[int] = 30) -> Iterator[FlowgateTestServer]:
    """Runs the block against a fresh Flowgate server: `PREFECT_API_URL` points at it while the
    block runs; the server is stopped and its database removed when the block ends. Yields the
    server (Prefect's harness yields nothing; ignoring the value keeps code unchanged)."""
    import prefect.context
    import prefect.settings

    server = start_server(timeout=float(server_startup_timeout or 30))
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(prefect.settings.temporary_settings(updates={prefect.settings.PREFECT_API_URL: server.api_url}))
            # Like Prefect's harness: code in a context copied before the harness started sees it too.
            global_context = getattr(prefect.context, "_temporary_global_settings_context", None)
            if global_context is not None:
                stack.enter_context(global_context(prefect.context.get_settings_context()))
            try:
                yield server
            finally:
                _drain_client_workers()
    finally:
        server.stop()


def _drain_client_workers() -> None:
    """Sends what the client still holds (log lines, events) before the server goes, so
    nothing is lost and nothing leaks into the next harness (as Prefect's harness does)."""
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        try:
            result = APILogWorker.instance().drain()
            if inspect.isawaitable(result):
                await result
        except RuntimeError:
            pass  # The log worker never started.
        result = EventsWorker.drain_all()
        if inspect.isawaitable(result):
            await result

    run_coro_as_sync(drain())


try:
    import pytest
except ImportError:  # pytest is optional: the fixture exists only where pytest does.
    pytest = None

if pytest is not None:

    @pytest.fixture(scope="session")
    def flowgate_harness() -> Iterator[FlowgateTestServer]:
        """A Flowgate server for the whole test session, the prefect client pointed at it."""
        with flowgate_test_harness() as server:
            yield server
