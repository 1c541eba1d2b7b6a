#!/usr/bin/env python3
"""Writes a synthetic fleet of environment files for benchmarks.

Usage: gen_fleet.py OUT_DIR [ENVS] [HOSTS] [CONTAINERS]
Defaults: 1000 environments x 20 hosts x 50 containers (about 1 million rows,
75 MB). Half the environments use the legacy layout, half the CSV layout; about
3 % of containers are in a problem state. Output is the same for the same
arguments (seeded), so runs compare like with like.
"""
import csv
import os
import random
import sys

STATUSES = [
    ("Up 3 weeks", "running"),
    ("Up 41 minutes (healthy)", "running"),
    ("Up About an hour", "running"),
    ("Up 12 days (healthy)", "running"),
    ("Up 5 seconds (health: starting)", "running"),
]
PROBLEMS = [
    ("Exited (137) 2 hours ago", "exited"),
    ("Exited (1) 14 minutes ago", "exited"),
    ("Restarting (1) 5 seconds ago", "restarting"),
    ("Up 2 hours (unhealthy)", "running"),
    ("Created", "created"),
    ("Up 6 days (Paused)", "paused"),
]
ROLES = ["app", "api", "perry", "es", "rundeck", "jenkins-agent"]


def main():
    out = sys.argv[1]
    envs, hosts, containers = (int(a) for a in (sys.argv[2:5] + ["1000", "20", "50"][len(sys.argv[2:5]):]))
    rng = random.Random(42)
    os.makedirs(out, exist_ok=True)
    for e in range(envs):
        env = f"env-{e:04d}"
        legacy = e % 2 == 0
        path = os.path.join(out, env + ".txt")
        # One version per service and environment, as deployments do; 1 % of
        # hosts drift from it (a half-finished deploy).
        versions = [f"1.{c % 7}.{rng.randrange(40)}_{rng.randrange(900)}-RC" for c in range(containers)]
        with open(path, "w", newline="") as f:
            writer = None if legacy else csv.writer(f, lineterminator="\n")
            if writer:
                writer.writerow(["host", "name", "image", "state", "status"])
            for h in range(hosts):
                host = f"{ROLES[h % len(ROLES)]}-{h // len(ROLES) + 1}.{env}.example.io"
                if legacy:
                    f.write(host + "\n")
                for c in range(containers):
                    name = f"svc{c:02d}_{'app' if c % 2 else 'api'}"
                    version = versions[c] if rng.random() >= 0.01 else f"1.{c % 7}.99_1-RC"
                    image = f"cwds/{name}:{version}"
                    status, state = rng.choice(PROBLEMS) if rng.random() < 0.03 else rng.choice(STATUSES)
                    if legacy:
                        f.write(f"{name},{status},{image}\n")
                    else:
                        writer.writerow([host, name, image, state, status])


if __name__ == "__main__":
    main()
