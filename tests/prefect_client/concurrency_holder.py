"""Takes one slot of the limit `held` on a short lease and holds it until killed.

Prints `holding <lease seconds>` once the slot is taken; the test then kills this process
with SIGKILL, so the lease is never released and only stops being renewed.
"""
import sys
import time

from prefect.concurrency.sync import concurrency

LEASE_SECONDS = 3

with concurrency("held", occupy=1, lease_duration=LEASE_SECONDS, strict=True):
    print(f"holding {LEASE_SECONDS}", flush=True)
    time.sleep(3600)
sys.exit("the slot was released, which only a kill should prevent")
