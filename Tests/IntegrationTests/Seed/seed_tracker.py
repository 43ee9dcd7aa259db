#!/usr/bin/env python3
"""A tracker that behaves like the public implementations of the seed protocol.

One recv(1024) per message, split(",") without strip, no terminators on answers, and a quorum:
a chunk is listed only once QUORUM peers registered the same SHA-1. Used by the integration tests
to prove that Swarm clients work with seed-era trackers.
"""
import argparse
import socket
import threading

parser = argparse.ArgumentParser()
parser.add_argument("-port", type=int, default=5100)
parser.add_argument("-quorum", type=int, default=2)
args = parser.parse_args()

lock = threading.Lock()
chunks = {}  # index (str, unstripped) -> list of (sha, ip, port)


def log(line):
    with open("logger.log", "a") as f:
        f.write("SeedTracker," + line + "\n")


def handle(conn):
    with conn:
        while True:
            data = conn.recv(1024)
            if not data:
                return
            message = data.decode()
            log(message)
            parts = message.split(",")
            if parts[0] == "LOCAL_CHUNKS":
                index, sha, ip, port = parts[1], parts[2], parts[3], parts[4]
                with lock:
                    holders = chunks.setdefault(index, [])
                    if (sha, ip, port) not in holders:
                        holders.append((sha, ip, port))
            elif parts[0] == "WHERE_CHUNK":
                index = parts[1]
                with lock:
                    holders = list(chunks.get(index, []))
                counts = {}
                for sha, _, _ in holders:
                    counts[sha] = counts.get(sha, 0) + 1
                best = max(counts, key=counts.get) if counts else None
                if best is not None and counts[best] >= args.quorum:
                    pairs = [ip + "," + port for sha, ip, port in holders if sha == best]
                    answer = "GET_CHUNK_FROM," + index + "," + best + "," + ",".join(pairs)
                else:
                    answer = "CHUNK_LOCATION_UNKNOWN," + index
                conn.send(answer.encode())


server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", args.port))
server.listen(64)
print("seed tracker listening on", args.port, flush=True)
while True:
    connection, _ = server.accept()
    threading.Thread(target=handle, args=(connection,), daemon=True).start()
