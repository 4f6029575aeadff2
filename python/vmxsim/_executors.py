"""Where a sweep's points run: in this process, in a pool of worker processes, or on Dask.

Each executor calls on_done(index, outcome) as points finish, in completion order; the sweep
puts rows back in grid order.

SystemC must never be forked: a forked child would inherit the parent's simulation kernel (its
global context and coroutine stacks), possibly from the middle of a run. So the process pool
uses the "spawn" start method: every worker is a fresh interpreter that imports vmxsim itself.
A script that calls sweep() therefore needs the usual `if __name__ == "__main__":` guard.
"""
import concurrent.futures as cf
import logging
import multiprocessing
import os
import uuid

from . import _worker


def process_context():
    """The multiprocessing context of the process pool (a fresh interpreter per worker)."""
    return multiprocessing.get_context("spawn")


def run_serial(specs, on_done):
    """Every point in this process, one after the other (for debugging; no isolation)."""
    for i, spec in enumerate(specs):
        on_done(i, _worker.run_point(spec))


def run_processes(specs, jobs, on_done, reuse_workers=False):
    """Up to `jobs` worker processes. By default each point gets a new worker process
    (max_tasks_per_child=1): nothing a run leaves behind in a process can reach the next point,
    at about 0.1 s of interpreter start-up per point. reuse_workers=True keeps the workers
    (each run still gets a fresh SystemC context), for sweeps of many tiny points."""
    from concurrent.futures.process import BrokenProcessPool

    finished = set()
    pool = cf.ProcessPoolExecutor(max_workers=max(1, min(jobs, len(specs))),
                                  mp_context=process_context(),
                                  max_tasks_per_child=None if reuse_workers else 1)
    try:
        futures = {pool.submit(_worker.run_point, spec): i for i, spec in enumerate(specs)}
        for f in cf.as_completed(futures):
            try:
                outcome = f.result()
            except BrokenProcessPool as e:
                from ._sweep import SweepError
                missing = sorted(set(range(len(specs))) - finished)
                raise SweepError("a worker process died (simulator crash?) before points %s "
                                 "finished" % missing) from e
            finished.add(futures[f])
            on_done(futures[f], outcome)
    except BaseException:
        # KeyboardInterrupt or an error: drop the queued points, let running ones end.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def package_dir():
    """The directory that holds the vmxsim package (what PYTHONPATH must name)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_dask_task(path):
    """The function Dask runs for each point. It is a closure, so cloudpickle ships it by value:
    a worker can unpickle it without importing vmxsim, and it puts `path` (the vmxsim package's
    directory) on sys.path before importing. Workers started without PYTHONPATH work as long as
    the same build exists at that path on their machine."""
    def run_point_on_worker(spec):
        import sys
        if path and path not in sys.path:
            sys.path.insert(0, path)
        from vmxsim import _worker as worker
        return worker.run_point(spec)
    return run_point_on_worker


def run_dask(specs, jobs, on_done, address=None, worker_path=None):
    """On a Dask cluster: a LocalCluster of `jobs` single-threaded worker processes on loopback
    when address is None, else the scheduler at `address` (its workers decide the parallelism;
    start them with --nthreads 1, one simulation per process at a time)."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as e:
        raise ImportError("vmxsim.sweep(executor='dask') needs dask.distributed "
                          "(Debian: apt-get install python3-distributed)") from e
    cluster = None
    if address is None:
        cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None,
                               silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        client = Client(address)
    try:
        task = make_dask_task(worker_path or package_dir())
        sweep_id = uuid.uuid4().hex[:8]
        futures = [client.submit(task, spec, key="vmxsim-point-%s-%d" % (sweep_id, i), pure=False)
                   for i, spec in enumerate(specs)]
        index = {f.key: i for i, f in enumerate(futures)}
        for f in as_completed(futures):
            on_done(index[f.key], f.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
