"""benchmarks/kernels.py: a training chunk's kernels, timed and traced to their source lines."""

import re

from support import benchmark_output


def test_the_kernels_of_a_chunk_are_timed_and_traced_to_memxbar_lines():
    out = benchmark_output("kernels.py", "--workload", "digits-ideal", "--rounds", "1")
    head = re.match(r"digits-ideal: (\d+) kernels and ([\d.]+) ms of kernel time per step", out)
    assert head and int(head[1]) > 10 and float(head[2]) > 0, out[:300]
    # The rule's matmul is a kernel of the step, and its source is the rule's line.
    assert re.search(r"dot\S* +f32\[\d+,\d+\] +algorithms/softhebb\.py:\d+ softhebb_delta", out)
    source_rows = re.findall(r"^ +([\d.]+) +([\d.]+)% +([\d.]+)  (.+)$", out, re.M)
    assert len(source_rows) >= 10
    shares = [float(share) for _, share, _, _ in source_rows]
    assert shares == sorted(shares, reverse=True) and 50 < sum(shares) <= 100.5
    assert any(src.startswith(("crossbar/", "runtime/")) for *_, src in source_rows)
