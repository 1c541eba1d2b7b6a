#!/usr/bin/env python3
"""Writes a synthetic fleet of environment files for benchmarks.

Usage: gen_fleet.py OUT_DIR [ENVS] [HOSTS] [CONTAINERS] [SHAPE]
Defaults: 1000 environments x 20 hosts x 50 containers (about 1 million rows).
Output is the same for the same arguments (seeded), so runs compare like with
like. The shapes are fixed once committed: a change that flatters envdash is
not an improvement.

Shapes:
  base     half the environments in the legacy layout, half CSV; one version
           per service and environment (1 % of hosts drift); about 3 % of
           containers in a problem state. About 75 MB.
  varied   all legacy layout; every container's image tag different (as when
           every host is deployed from its own build); about 5 % problems.
  mixed    CSV with quoted fields (ports, commands with commas and quotes),
           health suffixes, Podman's status strings (`Up 11 seconds ago`,
           `(starting)`, `Paused`), every state Docker has, about 4 % problems.
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

# The mixed shape: Docker's and Podman's ways of saying the same things.
MIXED_FINE = [
    ("Up 3 weeks", "running"),
    ("Up 41 minutes (healthy)", "running"),
    ("Up About an hour", "running"),
    ("Up 11 seconds ago", "running"),  # Podman
    ("Up 2 hours ago (healthy)", "running"),  # Podman
    ("Up 3 minutes (starting)", "running"),  # Podman's health: starting
    ("Up 5 seconds (health: starting)", "running"),
    ("Up Less than a second", "running"),
]
MIXED_PROBLEMS = [
    ("Exited (0) 3 days ago", "exited"),  # a job that finished: a problem unless allowed
    ("Exited (137) 2 hours ago", "exited"),
    ("Exited (3) Less than a second ago", "exited"),  # Podman
    ("Exited (143) 4 weeks ago", "exited"),
    ("Restarting (1) 5 seconds ago", "restarting"),
    ("Up 2 hours (unhealthy)", "running"),
    ("Up 6 days (Paused)", "paused"),
    ("Paused", "paused"),  # Podman
    ("Created", "created"),
    ("Dead", "dead"),
    ("Removal In Progress", "removing"),
]
PORTS = ["", "0.0.0.0:443->443/tcp, :::443->443/tcp", "8080/tcp", "0.0.0.0:9200->9200/tcp, 9300/tcp"]
COMMANDS = [
    '"/docker-entrypoint.sh nginx -g \'daemon off;\'"',
    'java -jar app.jar --spring.profiles.active=prod,aws',
    'sh -c "echo \\"ready, set\\"; exec server"',
    '',
]


def base(out, envs, hosts, containers):
    rng = random.Random(42)
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


def varied(out, envs, hosts, containers):
    rng = random.Random(4242)
    for e in range(envs):
        env = f"env-{e:04d}"
        with open(os.path.join(out, env + ".txt"), "w", newline="") as f:
            for h in range(hosts):
                host = f"{ROLES[h % len(ROLES)]}-{h // len(ROLES) + 1}.{env}.example.io"
                f.write(host + "\n")
                for c in range(containers):
                    name = f"svc{c:02d}_{'app' if c % 2 else 'api'}"
                    # Its own build on every host: a tag no other container has.
                    image = f"cwds/{name}:{rng.randrange(10**6)}.{e}.{h}-{rng.randrange(16**8):08x}"
                    status, _ = rng.choice(PROBLEMS) if rng.random() < 0.05 else rng.choice(STATUSES)
                    f.write(f"{name},{status},{image}\n")


def mixed(out, envs, hosts, containers):
    rng = random.Random(4343)
    for e in range(envs):
        env = f"env-{e:04d}"
        versions = [f"2.{c % 5}.{rng.randrange(60)}" for c in range(containers)]
        with open(os.path.join(out, env + ".txt"), "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["host", "name", "image", "state", "status", "ports", "command"])
            for h in range(hosts):
                host = f"{ROLES[h % len(ROLES)]}-{h // len(ROLES) + 1}.{env}.example.io"
                for c in range(containers):
                    name = f"svc{c:02d}_{'app' if c % 2 else 'api'}"
                    version = versions[c] if rng.random() >= 0.02 else f"2.{c % 5}.99-hotfix"
                    image = f"registry.example.io:5000/cwds/{name}:{version}"
                    status, state = rng.choice(MIXED_PROBLEMS) if rng.random() < 0.04 else rng.choice(MIXED_FINE)
                    writer.writerow([host, name, image, state, status, rng.choice(PORTS), rng.choice(COMMANDS)])


SHAPES = {"base": base, "varied": varied, "mixed": mixed}


def main():
    out = sys.argv[1]
    args = sys.argv[2:5] + ["1000", "20", "50"][len(sys.argv[2:5]):]
    envs, hosts, containers = (int(a) for a in args)
    shape = sys.argv[5] if len(sys.argv) > 5 else "base"
    os.makedirs(out, exist_ok=True)
    SHAPES[shape](out, envs, hosts, containers)


if __name__ == "__main__":
    main()
