"""Which installed packages differ from the lock: printed by `.ci/run --latest`, so that a failure
there can be read against the release that came in."""

import re
import sys
from importlib import metadata


def main(lock: str) -> None:
    pins = {}
    for line in open(lock, encoding="utf-8"):
        found = re.match(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if found:
            pins[re.sub(r"[-_.]+", "-", found.group(1)).lower()] = found.group(2)
    for dist in sorted(metadata.distributions(), key=lambda d: d.metadata["Name"].lower()):
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        locked = pins.get(name)
        if name not in ("agentik", "pip", "setuptools") and locked != dist.version:
            print(f"not as locked: {name} {dist.version} (lock: {locked or 'absent'})")


if __name__ == "__main__":
    main(sys.argv[1])
