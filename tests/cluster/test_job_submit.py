"""``ray job submit -- fraudarena train --address auto`` against a ``ray start --head`` cluster.

The operator path of docs/training.md: the job's driver connects to the running cluster, places its
rollout workers there, writes a checkpoint, and its per-iteration progress lines are what
``ray job logs`` (and the dashboard's Jobs page) show. Slow: a second Ray cluster plus a job driver.
"""

from __future__ import annotations

import json
import time

import pytest
from ray.job_submission import JobStatus, JobSubmissionClient
from ray_head import ray_head

pytestmark = [pytest.mark.slow, pytest.mark.ray]

TINY = {"matches_per_worker": 4, "rollout_steps": 60, "bc_iterations": 1, "hidden": 16, "minibatch_size": 128,
        "update_epochs": 1, "bc_epochs": 1, "checkpoint_every": 1, "snapshot_every": 1, "task_ids": ["task_1"],
        "archive_rate": 0.0}


def _job_client(address: str, timeout: float = 120) -> JobSubmissionClient:
    deadline = time.monotonic() + timeout
    while True:
        try:
            client = JobSubmissionClient(address)
            client.list_jobs()
            return client
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_ray_job_submit_train(tmp_path):
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    with ray_head() as head:
        client = _job_client(head.dashboard)  # the job server comes up a little after `ray start` returns
        job_id = f"fa-train-{int(time.time())}"
        entry = ["fraudarena", "train", "--address", "auto", "--workers", "1", "--iterations", "2",
                 "--config", str(cfg), "--run-name", "job", "--runs-dir", str(tmp_path)]
        deadline = time.monotonic() + 120
        while True:  # right after `ray start` the job agent may not be up yet ("try again later")
            submit = head.ray("job", "submit", f"--address={head.dashboard}", f"--submission-id={job_id}",
                              "--no-wait", "--", *entry, timeout=120)
            if submit.returncode == 0 or "try again later" not in submit.stderr or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert submit.returncode == 0, submit.stderr[-2000:]
        deadline = time.monotonic() + 420
        status = client.get_job_status(job_id)
        while not status.is_terminal() and time.monotonic() < deadline:
            time.sleep(2)
            status = client.get_job_status(job_id)
        logs = head.ray("job", "logs", f"--address={head.dashboard}", job_id).stdout
        assert status == JobStatus.SUCCEEDED, f"job ended {status}; logs:\n{logs[-3000:]}"
    progress = [line for line in logs.splitlines() if line.startswith("iter ")]
    assert len(progress) == 2, logs[-3000:]
    assert "PPO" in progress[-1] and "sps" in progress[-1]
    ckpt = tmp_path / "job" / "checkpoints" / "latest"
    assert (ckpt / "investigator.pt").exists() and (ckpt / "fraudster.pt").exists()
    assert len((tmp_path / "job" / "metrics.jsonl").read_text().splitlines()) == 2
