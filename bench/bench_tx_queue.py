"""Transaction queue throughput: N signed requests from C concurrent clients, accepted to mined,
against the raw rate of the same calls sent directly as pre-signed eth_sendRawTransaction.

    .venv/bin/python -m bench.bench_tx_queue [--requests 2000] [--clients 50] [--window 4]
                                              [--max-batch 100]

The call is the operator's `Market.admit(account, meterId, zone)` (each client is an admin with
a fresh prosumer per request), the same bytes in both runs. Everything is signed before the
clock starts. Relay: each client thread POSTs its requests one after another (pipelined
forwarder nonces), then long-polls each to its final state; throughput = requests / (first
POST -> last request mined, as the queue records it); latency = POST -> mined. Raw: each client
thread sends its pre-signed transactions with eth_sendRawTransaction, then the receipts are
awaited; throughput = transactions / (first send -> every receipt there). One Anvil (automine)
serves both runs. Writes bench/results/tx_queue.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from bench.common import print_table, write_results
from ledger_contracts import Anvil, Deployment, account, connect, deploy, free_port, transact
from tx_queue.client import RelayClient, SignedRequest

REQUEST_GAS = 150_000  # the forwarded admit() (about 105k) with room
RAW_GAS = 200_000  # the same call as a transaction (+21k base, +calldata)
RAW_GAS_PRICE = 100 * 10**9
FIRST_CLIENT_KEY = 10  # Anvil dev keys: 0 operator, 9 the relay, 10.. the clients
GOALS = {"requests_per_s": 300.0, "fraction_of_raw": 0.5}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def _admit_data(market: Any) -> bytes:
    call = market.functions.admit(os.urandom(20), os.urandom(32), 0)
    return bytes.fromhex(call._encode_transaction_data()[2:])


def _run_threads(work: list[Any]) -> None:
    threads = [threading.Thread(target=w) for w in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def raw_run(url: str, per_client: list[list[bytes]], threads: int) -> dict[str, Any]:
    """Send every client's pre-signed transactions (in nonce order per client) from `threads`
    threads, then wait until every one is mined.

    Anvil's automine mines on each arriving transaction; when transactions arrive faster than
    it mines, the rest wait in its pool with nothing to trigger a block. Those are mined with
    `evm_mine` (counted as `nudges`): the mined rate is then the node's capacity, an upper
    bound for any client."""
    rtts: list[float] = []
    lock = threading.Lock()
    groups = [per_client[i::threads] for i in range(threads)]

    def sender(clients: list[list[bytes]]) -> None:
        rounds = max(len(c) for c in clients)
        ordered = [c[k] for k in range(rounds) for c in clients if k < len(c)]
        with httpx.Client(timeout=30.0) as http:
            for raw in ordered:
                t0 = time.perf_counter()
                answer = http.post(
                    url,
                    json={
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "eth_sendRawTransaction",
                        "params": ["0x" + raw.hex()],
                    },
                ).json()
                if "result" not in answer:
                    raise RuntimeError(f"eth_sendRawTransaction refused: {answer}")
                with lock:
                    rtts.append(time.perf_counter() - t0)

    start = time.perf_counter()
    _run_threads([lambda g=g: sender(g) for g in groups])
    sent = time.perf_counter()
    last_hashes = ["0x" + keccak(c[-1]).hex() for c in per_client]
    nudges = 0
    with httpx.Client(timeout=30.0) as http:
        pending, stalled_since = list(last_hashes), time.perf_counter()
        while pending:
            answers = http.post(
                url,
                json=[
                    {
                        "jsonrpc": "2.0",
                        "id": i,
                        "method": "eth_getTransactionReceipt",
                        "params": [h],
                    }
                    for i, h in enumerate(pending)
                ],
            ).json()
            found = {a["id"] for a in answers if a.get("result")}
            if found:
                stalled_since = time.perf_counter()
            elif time.perf_counter() - stalled_since > 0.2:
                http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "evm_mine", "params": []})
                nudges += 1
            pending = [h for i, h in enumerate(pending) if i not in found]
            time.sleep(0.005)
    mined = time.perf_counter()
    n = len(rtts)
    return {
        "transactions": n,
        "threads": threads,
        "seconds": mined - start,
        "per_s": n / (mined - start),
        "send_seconds": sent - start,
        "send_per_s": n / (sent - start),
        "nudges": nudges,
        "send_rtt_p50_ms": 1e3 * _percentile(rtts, 0.5),
        "send_rtt_p99_ms": 1e3 * _percentile(rtts, 0.99),
    }


def relay_run(
    queue_url: str, clients: list[RelayClient], signed: list[list[SignedRequest]]
) -> dict[str, Any]:
    """POST every client's requests (one thread per client), then await its last one (a
    signer's requests execute in nonce order), then read every outcome from the queue."""
    posted: dict[int, float] = {}
    accepted_at: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []

    def client(c: RelayClient, requests: list[SignedRequest]) -> None:
        ids = []
        for req in requests:
            t0 = time.time()
            request_id = c.submit(req)
            with lock:
                posted[request_id] = t0
                accepted_at.append(time.time())
            ids.append(request_id)
        c.wait(ids[-1], timeout=300, check=False)

    start = time.time()
    _run_threads([lambda c=c, s=s: client(c, s) for c, s in zip(clients, signed, strict=True)])
    done = time.time()
    finished, statuses = _outcomes(queue_url)
    errors = [f"{i}: {statuses.get(i)}" for i in posted if statuses.get(i) != "mined"]
    n = len(posted)
    last_mined = max(finished[i] for i in posted)
    latencies = [finished[i] - posted[i] for i in posted]
    return {
        "requests": n,
        "not_mined": errors[:10],
        "not_mined_count": len(errors),
        "seconds": last_mined - start,
        "per_s": n / (last_mined - start),
        "accept_seconds": max(accepted_at) - start,
        "accept_per_s": n / (max(accepted_at) - start),
        "latency_p50_ms": 1e3 * _percentile(latencies, 0.5),
        "latency_p99_ms": 1e3 * _percentile(latencies, 0.99),
        "client_seconds": done - start,
    }


def _outcomes(queue_url: str) -> tuple[dict[int, float], dict[int, str]]:
    """Every request's mined time (as the queue recorded it) and status."""
    out: dict[int, float] = {}
    statuses: dict[int, str] = {}
    after = 0
    with httpx.Client(timeout=30.0) as http:
        while True:
            page = http.get(f"{queue_url}/requests", params={"after": after, "limit": 1000}).json()
            for r in page["requests"]:
                out[r["id"]] = r["finished_at"] or float("inf")
                statuses[r["id"]] = r["status"]
            if page["next_after"] is None:
                return out, statuses
            after = page["next_after"]


def _start_queue(
    node_url: str, deployment_file: Path, db: Path, args: argparse.Namespace
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tx_queue",
            "--rpc",
            node_url,
            "--deployment",
            str(deployment_file),
            "--db",
            str(db),
            "--port",
            str(port),
            "--window",
            str(args.window),
            "--max-batch",
            str(args.max_batch),
            "--log-level",
            "warning",
        ]
    )
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            if httpx.get(f"{url}/health", timeout=1.0).json()["status"] == "ok":
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("tx_queue did not start")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _grant_admins(w3: Any, operator: LocalAccount, market: Any, admins: list[LocalAccount]) -> None:
    role = market.functions.DEFAULT_ADMIN_ROLE().call()
    nonce = w3.eth.get_transaction_count(operator.address)
    last = None
    for i, admin in enumerate(admins):
        last = transact(
            w3,
            operator,
            market.functions.grantRole(role, admin.address),
            gas=100_000,
            nonce=nonce + i,
            wait=False,
        )
    if last is not None:
        w3.eth.wait_for_transaction_receipt(last, timeout=60)


def _sign_raw(
    w3: Any, market: Any, admins: list[LocalAccount], per: int, first_nonces: list[int]
) -> list[list[bytes]]:
    # A fixed, generous gas price: blocks mined by evm_mine nudges can raise the base fee.
    return [
        [
            bytes(
                admin.sign_transaction(
                    {
                        "nonce": first + k,
                        "to": market.address,
                        "value": 0,
                        "data": _admit_data(market),
                        "gas": RAW_GAS,
                        "gasPrice": RAW_GAS_PRICE,
                        "chainId": w3.eth.chain_id,
                    }
                ).raw_transaction
            )
            for k in range(per)
        ]
        for admin, first in zip(admins, first_nonces, strict=True)
    ]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_tx_queue",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--max-batch", type=int, default=100)
    parser.add_argument(
        "--raw-threads", default="1,50", help="comma-separated sender thread counts of the raw runs"
    )
    args = parser.parse_args(argv if argv is not None else [])
    per = args.requests // args.clients
    raw_threads = [int(t) for t in args.raw_threads.split(",")]
    with (
        Anvil(accounts=FIRST_CLIENT_KEY + args.clients) as node,
        tempfile.TemporaryDirectory() as tmp,
    ):
        w3 = connect(node.url)
        keys = node.keys
        operator = account(keys[0])
        deployment: Deployment = deploy(w3, operator)
        deployment_file = Path(tmp) / "deployment.json"
        deployment.save(deployment_file)
        market = deployment.contract(w3, "Market")
        admins = [account(k) for k in keys[FIRST_CLIENT_KEY : FIRST_CLIENT_KEY + args.clients]]
        _grant_admins(w3, operator, market, admins)
        n = per * args.clients
        print(f"signing {n * (1 + len(raw_threads))} requests and transactions ...", flush=True)
        first = [w3.eth.get_transaction_count(a.address) for a in admins]
        raw_txs = []
        for i in range(len(raw_threads)):
            raw_txs.append(_sign_raw(w3, market, admins, per, [f + i * per for f in first]))
        proc, queue_url = _start_queue(node.url, deployment_file, Path(tmp) / "queue.db", args)
        try:
            clients = [
                RelayClient(queue_url, w3, deployment, admin, timeout=30.0) for admin in admins
            ]
            signed = [
                [c.sign((market.address, _admit_data(market)), gas=REQUEST_GAS) for _ in range(per)]
                for c in clients
            ]
            before = market.functions.admissionCount().call()
            raws = []
            for threads, txs in zip(raw_threads, raw_txs, strict=True):
                print(f"raw eth_sendRawTransaction run, {threads} thread(s) ...", flush=True)
                raws.append(raw_run(node.url, txs, threads))
            print("relay run ...", flush=True)
            cpu0 = (_cpu_seconds(proc.pid), sum(os.times()[:2]))
            relay = relay_run(queue_url, clients, signed)
            cpu1 = (_cpu_seconds(proc.pid), sum(os.times()[:2]))
            relay["cpu_ms_per_request"] = {
                "queue": 1e3 * (cpu1[0] - cpu0[0]) / n,
                "clients": 1e3 * (cpu1[1] - cpu0[1]) / n,
            }
            health = httpx.get(f"{queue_url}/health", timeout=5.0).json()
            after = market.functions.admissionCount().call()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        batches = health["relay"]["next_nonce"]
    admitted = after - before
    load = os.getloadavg()
    best_raw = max(r["per_s"] for r in raws)
    result = {
        "requests": n,
        "clients": args.clients,
        "queue": {
            "window": args.window,
            "max_batch": args.max_batch,
            "relay_transactions": batches,
        },
        "relay": relay,
        "raw": raws,
        "admitted_on_chain": admitted,
        "expected_on_chain": n * (1 + len(raws)),
        "fraction_of_raw": relay["per_s"] / best_raw,
        "load_average_1_5_15min": load,
        "cpus": os.cpu_count(),
        "goals": GOALS,
        "goals_met": relay["per_s"] >= GOALS["requests_per_s"]
        and relay["per_s"] / best_raw >= GOALS["fraction_of_raw"],
    }
    rows: list[list[Any]] = [
        [
            "relay: POST -> mined",
            relay["requests"],
            relay["seconds"],
            relay["per_s"],
            relay["latency_p50_ms"],
            relay["latency_p99_ms"],
        ],
        [
            "relay: acceptance only",
            relay["requests"],
            relay["accept_seconds"],
            relay["accept_per_s"],
            "",
            "",
        ],
    ]
    for r in raws:
        rows.append(
            [
                f"raw, {r['threads']} thread(s): send -> mined",
                r["transactions"],
                r["seconds"],
                r["per_s"],
                r["send_rtt_p50_ms"],
                r["send_rtt_p99_ms"],
            ]
        )
        rows.append(
            [
                f"raw, {r['threads']} thread(s): sends only",
                r["transactions"],
                r["send_seconds"],
                r["send_per_s"],
                "",
                "",
            ]
        )
    print_table(["run", "n", "seconds", "per s", "p50 ms", "p99 ms"], rows)
    print(
        "(relay latency: POST -> mined as the queue records it; raw latency: the send's round trip)"
    )
    print(
        f"CPU per request: queue {relay['cpu_ms_per_request']['queue']:.2f} ms, clients "
        f"{relay['cpu_ms_per_request']['clients']:.2f} ms; load average {load[0]:.1f} on "
        f"{os.cpu_count()} CPUs"
    )
    print(
        f"relay / best raw = {result['fraction_of_raw']:.2f}; relay transactions: {batches}; "
        f"admitted on chain {admitted}/{result['expected_on_chain']}; not mined: "
        f"{relay['not_mined_count']}; goals met: {result['goals_met']}"
    )
    write_results("tx_queue", result)
    return result


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the clean-ups (Anvil, queue)
    main(sys.argv[1:])
