"""The phases of a stamped `make test` log (tests/bench/clean-clone.sh).

Each line of the log is `<seconds since start> <output line>`. A phase
starts at the first line that matches one of MARKERS (a command make
echoes, or a line cargo prints when a test binary starts) and lasts until
the next phase starts; the table lists each phase's seconds, and for a test
binary the tests it ran.
"""

import re
import sys

# (pattern at the start of an output line, phase name); the first match wins.
MARKERS = [
    (r"make test: tools and build, side by side", "tools and build, side by side"),
    (r"make test: the tests, side by side", "the tests, side by side (test-rust ∥ test-hubs, then the checks)"),
    (r"make test: the tests", "(between the phases)"),
    (r"python3 -m venv \.venv-checkov", "tools: checkov venv"),
    (r"python3 -m venv \.venv-lambda", "tools: cargo-lambda venv"),
    (r"python3 -m venv \.venv-jupyterhub5", "tools: JupyterHub 5 venv"),
    (r"python3 -m venv \.venv-jupyterhub", "tools: JupyterHub 1.5 venv"),
    (r"python3 -m venv \.venv", "tools: emulator venv"),
    (r"npm ci", "tools: npm"),
    (r"cargo fmt", "fmt-check"),
    (r"cargo clippy", "clippy"),
    (r"cargo build --workspace --all-targets", "build (and clippy)"),
    (r"tests/emulator/with-emulator sh -c '.*cargo test", "test build"),
    # One phase per test binary, named by its executable (hash dropped).
    (r"\s*Running .*\(target/debug/deps/(\S+?)-[0-9a-f]{16}\)", None),
    (r"\s*Doc-tests (\S+)", None),
    (r"test_\w+ \(__main__\.TemplateDeploysIntoTheEmulator", "stack smoke test (deploy_emulator.py)"),
    # The demo: its make line, or (when it runs in the same shell as the
    # smoke test and compiles first) the smoke test's last line.
    (r"tests/emulator/with-emulator sh -c '.*demo", "demo"),
    (r"OK$", "demo (with its cargo run build)"),
    (r"npx --no-install asl-validator|.*asl-validator", "check-asl"),
    (r"shellcheck ", "check-shell"),
    (r".*-m unittest discover", "check-infra: template and IAM simulation"),
    (r".*cfn-lint ", "check-infra: cfn-lint"),
    (r".*checkov ", "check-infra: checkov"),
    (r"make test: all checks passed", "end"),
]


def main(path):
    phases = []  # [name, start, tests]
    inside = []  # (test binary, seconds) of a side-by-side phase
    binary = "?"
    last = 0.0
    with open(path, encoding="utf-8", errors="replace") as log:
        for raw in log:
            stamp, _, line = raw.rstrip("\n").lstrip().partition(" ")
            try:
                seconds = float(stamp)
            except ValueError:
                continue
            line = line.lstrip()
            last = seconds
            for pattern, name in MARKERS:
                m = re.match(pattern, line)
                if not m:
                    continue
                if name == "demo (with its cargo run build)" and (
                    not phases or not phases[-1][0].startswith("stack smoke test")
                ):
                    continue
                if (
                    phases
                    and phases[-1][0].startswith("tools and build")
                    and not name.startswith(("(between", "the tests"))
                ) or (phases and phases[-1][0].startswith("the tests") and name != "end"):
                    # Side by side, their output comes when each is done:
                    # the phase lasts until the tests start.
                    break
                if name is None:
                    name = ("doc tests: " if "Doc-tests" in line else "test binary: ") + m.group(1)
                if not phases or phases[-1][0] != name:
                    phases.append([name, seconds, 0])
                break
            b = re.match(r"\s*Running .*\(target/debug/deps/(\S+?)-[0-9a-f]{16}\)", line)
            if b:
                binary = b.group(1)
            f = re.match(r"test result: \w+\. \d+ passed.* finished in ([\d.]+)s", line)
            if f and phases and phases[-1][0].startswith("the tests") and float(f.group(1)) >= 1:
                inside.append((binary, float(f.group(1))))
            t = re.match(r"test result: \w+\. (\d+) passed", line)
            if t and phases:
                phases[-1][2] += int(t.group(1))
    print("| phase | seconds | tests passed |")
    print("|---|---:|---:|")
    if phases and phases[0][1] > 0:
        print(f"| start (before the first phase) | {phases[0][1]:.0f} | |")
    total_tests = 0
    for i, (name, start, tests) in enumerate(phases):
        if name == "end":
            continue
        end = phases[i + 1][1] if i + 1 < len(phases) else last
        total_tests += tests
        shown = tests if tests or "test" in name else ""
        print(f"| {name} | {end - start:.0f} | {shown} |")
    print(f"| **total** | **{last:.0f}** | **{total_tests}** |")
    if inside:
        print("\nInside the side-by-side phase, test binaries of a second or more (cargo's own figure):\n")
        print("| test binary | seconds |")
        print("|---|---:|")
        for name, seconds in inside:
            print(f"| {name} | {seconds:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1])
