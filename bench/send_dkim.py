"""`bench/send.py --dkim`: the same issue sent signed and unsigned, alternately, against the one-process limit.

Every reader's message needs its own signature (List-Unsubscribe carries the reader's token), and an RSA
signature holds the GIL while OpenSSL computes it, so one process can send signed mail at most at
1 / (1/unsigned_rate + t_sig). This measures t_sig (2,000 RSA-2048 signatures through `cryptography`) in the
same run as the sends, and reports the signed rate as a share of that limit (dkim_efficiency).

On a shared machine the rates move with the load; the CPU time the sending process spends per message moves
less, so the same comparison is printed in CPU time too (cpu_efficiency: unsigned CPU time per message plus
the loop's t_sig, over the signed CPU time per message), with the CPU time of a signature inside the send
beside the loop's (a signature between SQLite, SMTP and Python work runs on colder caches than in a loop).
"""

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

SIGNATURES = 2000


def write_key(path: Path) -> None:
    """A fresh RSA-2048 key, PEM, as the operator's DKIM_PRIVATE_KEY_FILE."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def time_signature(path: Path, count: int = SIGNATURES) -> tuple[float, float]:
    """Seconds per RSA-2048 PKCS#1 v1.5 SHA-256 signature over header-sized data, through `cryptography`:
    elapsed, and CPU time of this thread."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(path.read_bytes(), password=None)
    data = os.urandom(900)  # about the canonical headers of one issue message
    started, cpu_started = time.perf_counter(), time.thread_time()
    for _ in range(count):
        key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return (time.perf_counter() - started) / count, (time.thread_time() - cpu_started) / count


class SignatureClock:
    """CPU time of the signatures made while a send runs (in the bench's child process): every 16th signature is
    timed, so that the clock reads cost the signed run almost nothing (a function call a message)."""

    EVERY = 16

    def __init__(self):
        from newsletter.mail.dkim_signing import DkimKey

        self.made, self.timed, self.cpu = 0, 0, 0.0
        making = DkimKey.signing_function

        def clocked_signing_function(key):
            sign = making(key)

            def clocked(data):
                self.made += 1
                if self.made % self.EVERY:
                    return sign(data)
                started = time.thread_time()
                signature = sign(data)
                self.cpu += time.thread_time() - started
                self.timed += 1
                return signature
            return clocked

        DkimKey.signing_function = clocked_signing_function

    def figures(self) -> dict:
        return {"signatures": self.made, "sig_cpu_us_in_send": self.cpu / max(1, self.timed) * 1e6}


def compare(n: int, repeats: int, app_env, run_child) -> dict:
    """Unsigned and signed sends of the same seeded issue, alternately, `repeats` times each; medians."""
    work = Path(tempfile.mkdtemp(prefix="bench-dkim-"))
    seeded, database, key = work / "seeded.db", work / "bench.db", work / "dkim.pem"
    write_key(key)
    plain = app_env(f"sqlite:///{database}", str(work))
    signed = dict(plain, DKIM_PRIVATE_KEY_FILE=str(key), DKIM_SELECTOR="bench", DKIM_DOMAIN="example.org")
    run_child(plain, "seed", n)
    shutil.copyfile(database, seeded)
    runs: dict[str, list[dict]] = {"unsigned": [], "signed": []}
    signature_times = []
    for _ in range(repeats):
        for name, env in (("unsigned", plain), ("signed", signed)):
            for leftover in work.glob("bench.db*"):
                leftover.unlink()
            shutil.copyfile(seeded, database)
            runs[name].append(run_child(env, "ours", n))
        signature_times.append(time_signature(key))
    shutil.rmtree(work, ignore_errors=True)
    return summary(n, runs, statistics.median(t for t, _ in signature_times),
                   statistics.median(cpu for _, cpu in signature_times))


def summary(n: int, all_runs: dict, t_sig: float, t_sig_cpu: float) -> dict:
    runs = {name: [run["msgs_per_s"] for run in done] for name, done in all_runs.items()}
    unsigned, signed = statistics.median(runs["unsigned"]), statistics.median(runs["signed"])
    limit = 1 / (1 / unsigned + t_sig)
    result = dict(dkim_n=n, unsigned_msgs_per_s=round(unsigned, 1), dkim_msgs_per_s=round(signed, 1),
                  dkim_ratio=round(signed / unsigned, 3), t_sig_ms=round(t_sig * 1000, 3),
                  dkim_limit_msgs_per_s=round(limit, 1), dkim_efficiency=round(signed / limit, 3),
                  all_unsigned_msgs_per_s=[round(r) for r in runs["unsigned"]],
                  all_dkim_msgs_per_s=[round(r) for r in runs["signed"]])
    cpu_unsigned = statistics.median(run["cpu_us_per_msg"] for run in all_runs["unsigned"])
    cpu_signed = statistics.median(run["cpu_us_per_msg"] for run in all_runs["signed"])
    in_send = statistics.median(run["sig_cpu_us_in_send"] for run in all_runs["signed"])
    result.update(cpu_us_per_msg_unsigned=round(cpu_unsigned, 1), cpu_us_per_msg_signed=round(cpu_signed, 1),
                  t_sig_cpu_us=round(t_sig_cpu * 1e6, 1), sig_cpu_us_in_send=round(in_send, 1),
                  cpu_efficiency=round((cpu_unsigned + t_sig_cpu * 1e6) / cpu_signed, 3),
                  all_cpu_us_per_msg_unsigned=[round(run["cpu_us_per_msg"]) for run in all_runs["unsigned"]],
                  all_cpu_us_per_msg_signed=[round(run["cpu_us_per_msg"]) for run in all_runs["signed"]])
    print(f"n={n:>7}  unsigned {unsigned:>7.1f} msg/s   DKIM-signed {signed:>7.1f} msg/s   ratio {signed / unsigned:.2f}"
          f"   t_sig {t_sig * 1000:.3f} ms (RSA-2048, {SIGNATURES} signatures)")
    print(f"  one-process limit 1/(1/unsigned + t_sig) = {limit:.1f} msg/s; signed reaches "
          f"{signed / limit:.2f} of it (target >= 0.8)   (medians: unsigned {result['all_unsigned_msgs_per_s']}, "
          f"signed {result['all_dkim_msgs_per_s']})")
    print(f"  CPU time of the sending process per message: unsigned {cpu_unsigned:.0f} us, signed {cpu_signed:.0f} us; "
          f"a signature {t_sig_cpu * 1e6:.0f} us in the loop, {in_send:.0f} us inside the send; "
          f"cpu_efficiency (unsigned + loop signature) / signed = {result['cpu_efficiency']:.2f}")
    return result
