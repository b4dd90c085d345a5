"""The driver's watch over Beam's in-process job service (assay.engine.beam_failures): a
worker's control connection that closes with requests pending fails them (a lost worker), one
the runner closes itself, or that is starting, does not. Beam's own ControlConnection, fed by a
stream that ends when the test says so."""

from __future__ import annotations

import threading

import pytest
from apache_beam.portability.api import beam_fn_api_pb2
from apache_beam.runners.portability.fn_api_runner.worker_handlers import ControlConnection

from assay.engine.beam_failures import _WorkerWatch


def _stream(end: threading.Event):
    """A worker's responses: none, until the stream ends."""
    end.wait()
    return
    yield


def _connection():
    """A started connection with one request the runner waits on, and the event that ends its
    worker's stream."""
    end = threading.Event()
    conn = ControlConnection()
    future = conn.push(beam_fn_api_pb2.InstructionRequest())
    conn.set_input(_stream(end))
    return conn, future, end


def test_a_connection_that_closes_with_requests_pending_fails_them():
    conn, future, end = _connection()
    watch = _WorkerWatch()
    assert not watch.check()  # its read thread runs: seen, nothing lost
    end.set()  # the worker's side closes (a killed worker)
    conn._read_thread.join(5)
    assert watch.check() and watch.lost
    with pytest.raises(RuntimeError, match="worker process died"):
        future.get(timeout=5)


def test_a_connection_the_runner_closes_is_not_a_lost_worker():
    conn, future, end = _connection()
    watch = _WorkerWatch()
    assert not watch.check()
    closing = threading.Thread(target=conn.close)  # the runner's close, as after a failure
    closing.start()
    end.set()
    closing.join(5)
    assert not conn._read_thread.is_alive() and conn._futures_by_id
    assert not watch.check() and not watch.settle(0.3)
    assert not future._exception  # left for the runner


def test_a_connection_is_not_judged_while_beam_starts_or_closes_one():
    """Beam holds ControlConnection's lock while a read thread starts (when it is listed by
    threading.enumerate() but not yet alive) and while the runner closes a connection: the
    watch looks again at its next poll."""
    conn, future, end = _connection()
    watch = _WorkerWatch()
    assert not watch.check()
    end.set()
    conn._read_thread.join(5)
    with ControlConnection._lock:
        assert not watch.check()
    assert watch.check()
